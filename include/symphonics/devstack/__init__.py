"""Deprecated alias, kept for one release: ``python -m include.symphonics.devstack`` runs
``python -m include.symphonics_devstack``.

The ``make run`` stack (embedded PostgreSQL, sandbox, Airflow, Celery workers) is a local stand-in, not product code:
it lives beside the product package, in ``include/symphonics_devstack/``. Use the new name (or ``make run``).
"""
