-- Refused webhook requests over the window, by reason. A late event is both stored (flagged) and counted here
-- with its event's id; "refused" are the others, whose content was not kept as an event.
SELECT reason,
       count(*) AS requests,
       count(*) FILTER (WHERE webhook_event_id IS NULL) AS refused
  FROM symphonics.webhook_rejections
 WHERE received_at > %(since)s AND received_at <= %(now)s
 GROUP BY reason
 ORDER BY requests DESC, reason
