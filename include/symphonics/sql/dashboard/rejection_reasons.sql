-- Why rows were held back since %(since)s, by reason: our local rules (invalid: never sent, not a refusal) and
-- every refusal, read from analytics.rejections (the analysts' definition: the partner's validation, our own
-- threshold on a partner answer, and the files or documents the partner rejected).
WITH held AS (
    SELECT coalesce(state_reason, 'unspecified') AS reason, 'invalid' AS origin, NULL AS decided_by
      FROM symphonics.interventions_ledger
     WHERE state = 'invalid' AND state_changed_at >= %(since)s
    UNION ALL
    SELECT coalesce(reason, 'unspecified'), rejection_kind, decided_by
      FROM analytics.rejections
     WHERE rejected_at >= %(since)s
)
SELECT reason,
       count(*) FILTER (WHERE origin = 'invalid') AS invalid,
       count(*) FILTER (WHERE origin = 'validation') AS rejected_validation,
       count(*) FILTER (WHERE origin IN ('intervention', 'document')) AS rejected_files,
       count(*) FILTER (WHERE decided_by = 'sync') AS decided_by_sync,
       count(*) AS rows
  FROM held
 GROUP BY 1
 ORDER BY rows DESC, reason
 LIMIT %(limit)s
