-- One batch of hashes behind the current key version (a rotation under way), oldest version first; rows another
-- transaction holds (an erasure) are left for the next batch.
SELECT key_version, key_hash, external_id
  FROM symphonics.subject_keys
 WHERE key_version < %(version)s
 ORDER BY key_version, key_hash, external_id
 LIMIT %(batch_size)s
   FOR UPDATE SKIP LOCKED
