-- One renewal at a time per (client id, base URL): held until the transaction ends, so a crashed worker's goes
-- with its connection; a second process waits, then reads the token the first one obtained.
SELECT pg_advisory_xact_lock(hashtextextended('symphonics.api_tokens/' || %(client_id)s || '/' || %(base_url)s, 0))
