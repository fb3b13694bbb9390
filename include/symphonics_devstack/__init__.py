"""The ``make run`` stack, a local stand-in beside the product (``include/symphonics/``), never part of it.

``devstack`` runs the whole stack (``python -m include.symphonics_devstack run|stop|status``), ``localpg`` the
embedded PostgreSQL (the test suite's too), ``devcelery`` the Celery workers and their Redis.
"""
