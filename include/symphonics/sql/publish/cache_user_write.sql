INSERT INTO symphonics.installer_validations AS c (email, user_exists, user_id, status, fetched_at, expires_at)
VALUES (%(email)s, %(exists)s, %(user_id)s, %(status)s, now(), now() + %(ttl)s)
    ON CONFLICT ON CONSTRAINT installer_validations_pkey DO UPDATE
   SET user_exists = EXCLUDED.user_exists, user_id = EXCLUDED.user_id, status = EXCLUDED.status,
       fetched_at = EXCLUDED.fetched_at, expires_at = EXCLUDED.expires_at
