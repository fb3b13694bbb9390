-- Requests sent per minute and priority class over the last minutes, of every client id (the chart fills the
-- empty minutes).
SELECT date_trunc('minute', called_at) AS minute, priority_class, count(*) AS calls
  FROM symphonics.api_calls
 WHERE called_at > %(since)s
   AND called_at <= %(now)s
 GROUP BY 1, 2
 ORDER BY 1, 2
