-- Every refusal since %(since)s by kind and by who decided: the same rows as analytics.rejections over that window.
SELECT rejection_kind, decided_by, count(*) AS refusals
  FROM analytics.rejections
 WHERE rejected_at >= %(since)s
 GROUP BY 1, 2
 ORDER BY 1, 2
