INSERT INTO symphonics.pdl_validations AS c (pdl, valid, address, meter_type, error_code, message, fetched_at, expires_at)
VALUES (%(pdl)s, %(valid)s, %(address)s, %(meter_type)s, %(error_code)s, %(message)s, now(), now() + %(ttl)s)
    ON CONFLICT ON CONSTRAINT pdl_validations_pkey DO UPDATE
   SET valid = EXCLUDED.valid, address = EXCLUDED.address, meter_type = EXCLUDED.meter_type,
       error_code = EXCLUDED.error_code, message = EXCLUDED.message, fetched_at = EXCLUDED.fetched_at,
       expires_at = EXCLUDED.expires_at
