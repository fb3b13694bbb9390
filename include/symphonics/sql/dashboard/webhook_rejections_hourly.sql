-- Refused webhook requests per hour over the window, from the per-minute counts (late events, stored as
-- events, excluded).
SELECT date_trunc('hour', minute) AS hour, sum(requests)::bigint AS refused
  FROM symphonics.webhook_refusals
 WHERE minute >= date_trunc('minute', %(since)s::timestamptz) AND minute <= %(now)s
   AND reason NOT IN ('stale', 'future')
 GROUP BY 1
 ORDER BY 1
