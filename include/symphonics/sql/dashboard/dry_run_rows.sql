-- A dry run's stored result (symphonics.dry_run_results, migration 0011): creates and PATCHes first.
SELECT external_id, action, state, reason, fields, new_documents, calls, recorded_at
  FROM symphonics.dry_run_results
 WHERE run_id = %(run_id)s
 ORDER BY array_position(ARRAY['create', 'patch', 'refuse', 'skip'], action), reason NULLS FIRST, external_id
