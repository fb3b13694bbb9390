-- A dry run's result, stored for the dashboard: the rows it would create or PATCH (given by the publish step), and
-- the rows the same run skipped or refused (each row's last change in the run, from symphonics.ledger_history).
-- A rerun of the task replaces the run's rows.
WITH cleared AS (
    DELETE FROM symphonics.dry_run_results WHERE run_id = %(run_id)s
), planned AS (
    SELECT p.external_id, p.action, p.state, p.fields, p.new_documents
      FROM jsonb_to_recordset(%(planned)s::jsonb)
           AS p(external_id text, action text, state text, fields jsonb, new_documents integer)
), settled AS (
    SELECT DISTINCT ON (h.external_id) h.external_id, h.to_state, h.reason
      FROM symphonics.ledger_history AS h
     WHERE h.run_id = %(run_id)s
     ORDER BY h.external_id, h.id DESC
)
INSERT INTO symphonics.dry_run_results (run_id, external_id, action, state, reason, fields, new_documents, calls)
SELECT %(run_id)s, external_id, action, state, NULL, fields, new_documents, 1 FROM planned
UNION ALL
SELECT %(run_id)s, s.external_id,
       CASE WHEN s.to_state = 'out_of_scope' THEN 'skip' ELSE 'refuse' END, s.to_state, s.reason, NULL, NULL, 0
  FROM settled AS s
 WHERE s.to_state IN ('out_of_scope', 'invalid', 'rejected_validation')
   AND s.external_id NOT IN (SELECT external_id FROM planned)
