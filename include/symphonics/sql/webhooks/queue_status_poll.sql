-- Ask the reconciliation to poll an intervention's status; one pending poll per intervention is enough.
INSERT INTO symphonics.status_poll_queue (intervention_id, external_id, reason, queued_at, webhook_event_id)
VALUES (%(intervention_id)s, %(external_id)s, %(reason)s, %(queued_at)s, %(webhook_event_id)s)
ON CONFLICT (intervention_id) WHERE done_at IS NULL DO NOTHING
