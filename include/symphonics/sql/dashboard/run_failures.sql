-- The rows a run left failed: for each row the run changed (symphonics.ledger_history, migration 0011), its last
-- change in that run, kept when it ended invalid, rejected, failed (to retry) or dead lettered. Its state now
-- beside it: a later run may have settled it. The state's detail is free text, masked by the analysts' function.
SELECT f.external_id, f.to_state AS ended_in, f.reason, f.error_code, f.http_status, f.request_id, f.attempts,
       f.changed_at, l.state AS state_now,
       analytics.mask_personal_data(l.state_detail) AS state_detail, l.symphonics_id
  FROM (SELECT DISTINCT ON (h.external_id) h.*
          FROM symphonics.ledger_history AS h
         WHERE h.run_id = %(run_id)s
         ORDER BY h.external_id, h.id DESC) AS f
  LEFT JOIN symphonics.interventions_ledger AS l ON l.id = f.ledger_id
 WHERE f.to_state = ANY(%(failed_states)s)
 ORDER BY f.to_state, f.reason NULLS FIRST, f.external_id
 LIMIT %(limit)s
