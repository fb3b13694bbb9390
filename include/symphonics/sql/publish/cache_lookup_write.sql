INSERT INTO symphonics.pdl_lookups AS c
       (lookup_key, address, customer_name, found, pdl, confidence, meter_type, fetched_at, expires_at)
VALUES (%(key)s, %(address)s, %(customer_name)s, %(found)s, %(pdl)s, %(confidence)s, %(meter_type)s, now(),
        now() + %(ttl)s)
    ON CONFLICT ON CONSTRAINT pdl_lookups_pkey DO UPDATE
   SET address = EXCLUDED.address, customer_name = EXCLUDED.customer_name, found = EXCLUDED.found,
       pdl = EXCLUDED.pdl, confidence = EXCLUDED.confidence, meter_type = EXCLUDED.meter_type,
       fetched_at = EXCLUDED.fetched_at, expires_at = EXCLUDED.expires_at
