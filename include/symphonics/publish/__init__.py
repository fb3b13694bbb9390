"""The publish pipeline: extract completed interventions, validate them under the quota, publish each once.

The DAG ``symphonics_publish`` calls one function per step (:mod:`.steps`); each step works on the ledger
``symphonics.interventions_ledger`` of the ``sync`` database in set-based batches. See docs/PUBLISH.md.
"""

from __future__ import annotations
