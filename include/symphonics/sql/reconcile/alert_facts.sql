-- What the alert rules look at, in one row: the snapshot's decisions, the publish runs' quota deferrals, webhook
-- signature failures (refused per-minute counts; a rate-limited request had no valid signature either) and late
-- events over the window.
-- The decisions are the date's build's counts per category (migration 0023: its previous build's plus its
-- changes; none of the decided categories turns stale); a build without them (made before 0023) is counted
-- through the view, which reads the whole store up to the date.
WITH build AS (
    SELECT category_rows FROM analytics.snapshot_builds WHERE snapshot_date = %(snapshot_date)s::date
)
SELECT
    CASE WHEN (SELECT category_rows FROM build) IS NOT NULL
         THEN (SELECT coalesce((category_rows ->> 'approved')::bigint, 0)
                      + coalesce((category_rows ->> 'rejected')::bigint, 0)
                      + coalesce((category_rows ->> 'document_rejected')::bigint, 0) FROM build)
         ELSE (SELECT count(*) FROM analytics.reconciliation_snapshots
                WHERE snapshot_date = %(snapshot_date)s::date AND category IN ('approved', 'rejected', 'document_rejected'))
    END AS decided,
    CASE WHEN (SELECT category_rows FROM build) IS NOT NULL
         THEN (SELECT coalesce((category_rows ->> 'rejected')::bigint, 0)
                      + coalesce((category_rows ->> 'document_rejected')::bigint, 0) FROM build)
         ELSE (SELECT count(*) FROM analytics.reconciliation_snapshots
                WHERE snapshot_date = %(snapshot_date)s::date AND category IN ('rejected', 'document_rejected'))
    END AS rejected,
    (SELECT count(*) FROM symphonics.publish_runs
      WHERE started_at >= %(since)s AND deferred_by_quota > 0 AND backlog > 0) AS publish_runs_deferred,
    (SELECT max(backlog) FROM symphonics.publish_runs WHERE started_at >= %(since)s AND deferred_by_quota > 0)
        AS publish_backlog,
    (SELECT coalesce(sum(requests), 0) FROM symphonics.webhook_refusals
      WHERE minute >= date_trunc('minute', %(since)s::timestamptz)
        AND reason IN ('bad_signature', 'missing_signature', 'rate_limited')) AS signature_failures,
    (SELECT count(*) FROM symphonics.webhook_events WHERE received_at >= %(since)s) AS webhook_events,
    (SELECT count(*) FROM symphonics.webhook_events WHERE received_at >= %(since)s AND late) AS late_events
