"""The publish pipeline: extract completed interventions, validate them under the quota, publish each once.

The DAG ``symphonics_publish`` calls one function per step (:mod:`.steps`); each step works on the ledger
``symphonics.interventions_ledger`` of the ``sync`` database in set-based batches. The ledger's states, reasons
and transitions are :mod:`.states`; the rules and their order, docs/APP_CONTRACT.md; what a crash or a partner
failure leaves and how the next run resolves it, docs/RELIABILITY.md; what ops do with a row, docs/RUNBOOK.md.
"""

from __future__ import annotations
