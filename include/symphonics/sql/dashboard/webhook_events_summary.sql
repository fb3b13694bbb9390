-- Webhook events stored over the window (accepted on time, late, of an unknown type), and the unprocessed ones.
SELECT count(*) FILTER (WHERE NOT late AND received_at > %(since)s) AS accepted,
       count(*) FILTER (WHERE late AND received_at > %(since)s) AS late,
       count(*) FILTER (WHERE unknown_event AND received_at > %(since)s) AS unknown_event,
       count(*) FILTER (WHERE processed_at IS NULL) AS unprocessed,
       max(received_at) AS last_received_at
  FROM symphonics.webhook_events
 WHERE received_at <= %(now)s
