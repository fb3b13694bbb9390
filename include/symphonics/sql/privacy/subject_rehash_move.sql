-- Move a batch to the current version: each old hash is replaced by its hash through the newer keys (computed by
-- the caller; the key never reaches the database). A hash the extraction already wrote at the current version
-- is kept once.
WITH moved AS (
    DELETE FROM symphonics.subject_keys AS k
     USING unnest(%(old_versions)s::smallint[], %(old_hashes)s::bytea[], %(external_ids)s::text[],
                  %(new_hashes)s::bytea[]) AS m(old_version, old_hash, external_id, new_hash)
     WHERE k.key_version = m.old_version AND k.key_hash = m.old_hash AND k.external_id = m.external_id
    RETURNING m.new_hash, k.external_id, k.recorded_at
)
INSERT INTO symphonics.subject_keys (key_version, key_hash, external_id, recorded_at)
SELECT %(version)s, new_hash, external_id, recorded_at FROM moved
    ON CONFLICT ON CONSTRAINT subject_keys_pkey DO NOTHING
