-- Webhook events stored per hour over the window: on time and late.
SELECT date_trunc('hour', received_at) AS hour,
       count(*) FILTER (WHERE NOT late) AS accepted,
       count(*) FILTER (WHERE late) AS late
  FROM symphonics.webhook_events
 WHERE received_at > %(since)s AND received_at <= %(now)s
 GROUP BY 1
 ORDER BY 1
