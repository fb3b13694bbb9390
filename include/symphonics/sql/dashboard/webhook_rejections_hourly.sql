-- Refused webhook requests per hour over the window (late events, stored as events, excluded).
SELECT date_trunc('hour', received_at) AS hour, count(*) AS refused
  FROM symphonics.webhook_rejections
 WHERE received_at > %(since)s AND received_at <= %(now)s AND webhook_event_id IS NULL
 GROUP BY 1
 ORDER BY 1
