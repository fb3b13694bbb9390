-- Keep one refused request as a sample: why, from where, how big; never a secret, and a body only when validly
-- signed. The counts are in webhook_refusals (upsert_refusals.sql).
INSERT INTO symphonics.webhook_rejections (
    received_at, request_id, reason, status_code, remote_addr, body_size, content_type, user_agent,
    signature_valid, detail, signed_body, webhook_event_id
)
VALUES (
    %(received_at)s, %(request_id)s, %(reason)s, %(status_code)s, %(remote_addr)s, %(body_size)s,
    %(content_type)s, %(user_agent)s, %(signature_valid)s, %(detail)s, %(signed_body)s, %(webhook_event_id)s
)
