-- Keyed hashes of customer ids and e-mails (computed by the caller, whose key never reaches the database): the
-- erasure's index. The extraction records those of the rows a page inserted or changed (a row it left alone,
-- unchanged or erased, gets none); the privacy backfill those of rows extracted before the index. A hash already
-- held is kept, so every e-mail a row ever carried stays findable.
INSERT INTO symphonics.subject_keys (key_version, key_hash, external_id)
SELECT key_version, key_hash, external_id
  FROM unnest(%(key_versions)s::smallint[], %(key_hashes)s::bytea[], %(external_ids)s::text[])
       AS k(key_version, key_hash, external_id)
    ON CONFLICT ON CONSTRAINT subject_keys_pkey DO NOTHING
