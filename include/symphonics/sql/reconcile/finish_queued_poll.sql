-- A queued poll was answered.
UPDATE symphonics.status_poll_queue SET done_at = greatest(now(), queued_at) WHERE id = %(queue_id)s AND done_at IS NULL
