-- A new claim key for a publisher (the sequence cycles within int4: an advisory lock's second key).
SELECT nextval('symphonics.publish_claim_key_seq')
