-- The rows a "check again" names that the ledger knows: a run given external ids works on those only.
SELECT count(*) AS known FROM symphonics.interventions_ledger WHERE external_id = ANY(%(external_ids)s)
