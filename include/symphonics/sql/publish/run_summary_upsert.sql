-- One row per publish run: its counts, the calls it spent, and whether the kill switch or dry run was on.
INSERT INTO symphonics.publish_runs AS r
       (dag_id, run_id, run_type, logical_date, params, dry_run, kill_switch, extracted, out_of_scope, invalid,
        rejected, published, updated, skipped, deferred_by_quota, conflict_unresolved, changed_after_publish,
        failed_retryable, dead_letter, calls_spent, calls_budget, backlog, backlog_eta, detail, started_at,
        finished_at)
VALUES (%(dag_id)s, %(run_id)s, %(run_type)s, %(logical_date)s, %(params)s, %(dry_run)s, %(kill_switch)s,
        %(extracted)s, %(out_of_scope)s, %(invalid)s, %(rejected)s, %(published)s, %(updated)s, %(skipped)s,
        %(deferred_by_quota)s, %(conflict_unresolved)s, %(changed_after_publish)s, %(failed_retryable)s,
        %(dead_letter)s, %(calls_spent)s, %(calls_budget)s, %(backlog)s, %(backlog_eta)s, %(detail)s,
        coalesce(%(started_at)s, now()), now())
    ON CONFLICT ON CONSTRAINT publish_runs_dag_id_run_id_key DO UPDATE
   SET params = EXCLUDED.params, dry_run = EXCLUDED.dry_run, kill_switch = EXCLUDED.kill_switch,
       extracted = EXCLUDED.extracted, out_of_scope = EXCLUDED.out_of_scope, invalid = EXCLUDED.invalid,
       rejected = EXCLUDED.rejected, published = EXCLUDED.published, updated = EXCLUDED.updated,
       skipped = EXCLUDED.skipped, deferred_by_quota = EXCLUDED.deferred_by_quota,
       conflict_unresolved = EXCLUDED.conflict_unresolved, changed_after_publish = EXCLUDED.changed_after_publish,
       failed_retryable = EXCLUDED.failed_retryable, dead_letter = EXCLUDED.dead_letter,
       calls_spent = EXCLUDED.calls_spent, calls_budget = EXCLUDED.calls_budget, backlog = EXCLUDED.backlog,
       backlog_eta = EXCLUDED.backlog_eta, detail = EXCLUDED.detail, finished_at = now()
