-- Webhook events stored over the window (accepted on time, late, of an unknown type), and the unprocessed ones.
-- Each figure by its own index (received_at; the pending events' partial index), never a pass over every event.
SELECT w.accepted,
       w.late,
       w.unknown_event,
       (SELECT count(*) FROM symphonics.webhook_events
         WHERE processed_at IS NULL AND received_at <= %(now)s) AS unprocessed,
       (SELECT max(received_at) FROM symphonics.webhook_events WHERE received_at <= %(now)s) AS last_received_at
  FROM (SELECT count(*) FILTER (WHERE NOT late) AS accepted,
               count(*) FILTER (WHERE late) AS late,
               count(*) FILTER (WHERE unknown_event) AS unknown_event
          FROM symphonics.webhook_events
         WHERE received_at > %(since)s AND received_at <= %(now)s) AS w
