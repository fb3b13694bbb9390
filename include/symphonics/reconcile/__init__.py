"""The nightly reconciliation: what became of each published intervention, the analysts' snapshot, the alerts.

The DAG ``symphonics_reconcile`` calls one function per step (:mod:`.steps`); each step works set-based on the
``sync`` database (SQL in ``include/symphonics/sql/reconcile/``). See docs/ANALYTICS.md.
"""

from __future__ import annotations
