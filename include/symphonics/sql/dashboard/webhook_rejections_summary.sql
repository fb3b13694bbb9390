-- Refused webhook requests over the window, by reason, from the per-minute counts. A late event is both stored
-- (flagged) and counted here; "refused" are the others, whose content was not kept as an event.
SELECT reason,
       sum(requests)::bigint AS requests,
       coalesce(sum(requests) FILTER (WHERE reason NOT IN ('stale', 'future')), 0)::bigint AS refused
  FROM symphonics.webhook_refusals
 WHERE minute >= date_trunc('minute', %(since)s::timestamptz) AND minute <= %(now)s
 GROUP BY reason
 ORDER BY requests DESC, reason
