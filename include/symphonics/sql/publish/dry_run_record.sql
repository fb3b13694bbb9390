-- A dry run's result, stored for the dashboard: the rows it would create or PATCH, and the rows the same run
-- skipped or refused (read by dry_run_settled.sql before the run's ledger changes were rolled back).
-- A rerun of the task replaces the run's rows.
WITH cleared AS (
    DELETE FROM symphonics.dry_run_results WHERE run_id = %(run_id)s
), planned AS (
    SELECT p.external_id, p.action, p.state, p.fields, p.new_documents
      FROM jsonb_to_recordset(%(planned)s::jsonb)
           AS p(external_id text, action text, state text, fields jsonb, new_documents integer)
), settled AS (
    SELECT s.external_id, s.to_state, s.reason
      FROM jsonb_to_recordset(%(settled)s::jsonb) AS s(external_id text, to_state text, reason text)
)
INSERT INTO symphonics.dry_run_results (run_id, external_id, action, state, reason, fields, new_documents, calls)
SELECT %(run_id)s, external_id, action, state, NULL, fields, new_documents, 1 FROM planned
UNION ALL
SELECT %(run_id)s, s.external_id,
       CASE WHEN s.to_state = 'out_of_scope' THEN 'skip' ELSE 'refuse' END, s.to_state, s.reason, NULL, NULL, 0
  FROM settled AS s
 WHERE s.external_id NOT IN (SELECT external_id FROM planned)
