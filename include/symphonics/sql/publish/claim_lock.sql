-- Held by the publisher's own session for the whole step: if the process dies, the lock goes and its claims
-- with it (claim_for_publish.sql takes over rows whose claim key's lock nobody holds).
SELECT pg_advisory_lock(%(lock_class)s, %(claim_key)s)
