-- The publisher is done: its claim key's lock goes (after release_claims.sql gave back the rows).
SELECT pg_advisory_unlock(%(lock_class)s, %(claim_key)s)
