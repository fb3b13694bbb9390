-- Why rows are held back: local rules (invalid) and the partner's refusals (rejected_validation), by reason.
SELECT coalesce(state_reason, 'unspecified') AS reason,
       count(*) FILTER (WHERE state = 'invalid') AS invalid,
       count(*) FILTER (WHERE state = 'rejected_validation') AS rejected_validation,
       count(*) AS rows
  FROM symphonics.interventions_ledger
 WHERE state IN ('invalid', 'rejected_validation')
 GROUP BY 1
 ORDER BY rows DESC, reason
 LIMIT %(limit)s
