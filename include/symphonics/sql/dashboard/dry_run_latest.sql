-- The dry run stored last.
SELECT run_id FROM symphonics.dry_run_results ORDER BY recorded_at DESC, id DESC LIMIT 1
