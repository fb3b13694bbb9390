-- Interventions to ask the partner about: first those queued by late webhooks, then published ones that are not in
-- a final state (or were PATCHed since their decision) and heard of neither by webhook nor by poll for a while.
SELECT candidate.external_id, candidate.symphonics_id, candidate.reason, candidate.queue_id
  FROM (
    SELECT coalesce(l.external_id, q.external_id) AS external_id, q.intervention_id AS symphonics_id,
           'late_webhook' AS reason, q.id AS queue_id, q.queued_at AS since, 0 AS rank
      FROM symphonics.status_poll_queue AS q
      LEFT JOIN symphonics.interventions_ledger AS l ON l.symphonics_id = q.intervention_id
     WHERE q.done_at IS NULL
    UNION ALL
    SELECT l.external_id, l.symphonics_id, 'quiet', NULL,
           greatest(s.last_webhook_at, s.last_polled_at, l.published_at), 1
      FROM symphonics.interventions_ledger AS l
      LEFT JOIN symphonics.intervention_sync_state AS s ON s.external_id = l.external_id
     WHERE l.state IN ('published', 'updated', 'changed_after_publish')
       AND l.symphonics_id IS NOT NULL
       AND (s.partner_status IS NULL
            OR s.partner_status NOT IN ('approved', 'rejected', 'not_found')
            OR l.patched_at > s.partner_status_at)
       AND coalesce(greatest(s.last_webhook_at, s.last_polled_at, l.published_at), '-infinity') < %(quiet_before)s
       AND NOT EXISTS (SELECT FROM symphonics.status_poll_queue AS q
                        WHERE q.intervention_id = l.symphonics_id AND q.done_at IS NULL)
  ) AS candidate
 WHERE candidate.external_id IS NOT NULL
 ORDER BY candidate.rank, candidate.since NULLS FIRST, candidate.external_id
 LIMIT %(limit)s
