-- The rows a dry run skipped or refused (each row's last change in the run, from symphonics.ledger_history), read
-- inside the dry run's own transaction, before it is rolled back: the plan keeps them, the ledger does not.
SELECT DISTINCT ON (h.external_id) h.external_id, h.to_state, h.reason
  FROM symphonics.ledger_history AS h
 WHERE h.run_id = %(run_id)s
   AND h.to_state IN ('out_of_scope', 'invalid', 'rejected_validation')
 ORDER BY h.external_id, h.id DESC
