-- Add refused requests to their minute, reason and source: one row each, however many requests a flood sends.
INSERT INTO symphonics.webhook_refusals AS r (
    minute, reason, remote_addr, status_code, requests, body_bytes, first_at, last_at
)
VALUES (
    %(minute)s, %(reason)s, %(remote_addr)s, %(status_code)s, %(requests)s, %(body_bytes)s, %(first_at)s, %(last_at)s
)
    ON CONFLICT ON CONSTRAINT webhook_refusals_pkey DO UPDATE
   SET requests = r.requests + EXCLUDED.requests,
       body_bytes = r.body_bytes + EXCLUDED.body_bytes,
       first_at = least(r.first_at, EXCLUDED.first_at),
       last_at = greatest(r.last_at, EXCLUDED.last_at)
