-- Webhook events about the person's interventions lose their raw body and notes (parsed statuses stay); the
-- signed bodies of rejections of those events go too.
WITH events AS (
    UPDATE symphonics.webhook_events
       SET raw_body = '', notes = NULL
     WHERE (external_id = ANY(%(external_ids)s::text[]) OR intervention_id = ANY(%(symphonics_ids)s::text[]))
       AND (raw_body <> '' OR notes IS NOT NULL)
    RETURNING id
), rejections AS (
    UPDATE symphonics.webhook_rejections
       SET signed_body = NULL
     WHERE webhook_event_id IN (SELECT id FROM symphonics.webhook_events
                                 WHERE external_id = ANY(%(external_ids)s::text[])
                                    OR intervention_id = ANY(%(symphonics_ids)s::text[]))
       AND signed_body IS NOT NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM rejections)
