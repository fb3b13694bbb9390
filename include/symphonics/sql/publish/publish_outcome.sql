-- Record the partner's answer to a create or a PATCH (or its failure) on one row; returns, for a row published
-- now, the seconds from its completion (the app's updated_at) to its publication (for the latency metric).
UPDATE symphonics.interventions_ledger
   SET state = %(state)s,
       state_reason = %(reason)s,
       state_detail = %(detail)s,
       symphonics_id = coalesce(%(symphonics_id)s, symphonics_id),
       sent_payload = coalesce(%(sent_payload)s, sent_payload),
       sent_fingerprint = coalesce(%(sent_fingerprint)s, sent_fingerprint),
       sent_documents = coalesce(%(sent_documents)s, sent_documents),
       attempts = CASE WHEN %(state)s IN ('published', 'updated', 'conflict_unresolved') THEN 0
                       WHEN %(undo_attempt)s THEN greatest(attempts - 1, 0)
                       ELSE attempts END,
       last_error_code = %(error_code)s,
       last_error_message = %(error_message)s,
       last_request_id = coalesce(%(request_id)s, last_request_id),
       last_http_status = %(http_status)s,
       published_at = CASE WHEN %(state)s IN ('published', 'conflict_unresolved') AND published_at IS NULL
                           THEN now() ELSE published_at END,
       patched_at = CASE WHEN %(state)s = 'updated' THEN now() ELSE patched_at END,
       state_changed_at = CASE WHEN state = %(state)s THEN state_changed_at ELSE now() END,
       updated_at = now()
 WHERE id = %(id)s
RETURNING CASE WHEN state = 'published' AND published_at = now() AND published_at >= app_updated_at
               THEN extract(epoch FROM published_at - app_updated_at) END AS completed_to_published_s
