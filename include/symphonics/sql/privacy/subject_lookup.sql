-- The interventions whose customer id or e-mail hashes to one of the given (version, hash) pairs: the person's,
-- found through subject_keys' primary key (the caller computes the hash at every key version: a rotation may be
-- under way).
SELECT DISTINCT k.external_id
  FROM unnest(%(key_versions)s::smallint[], %(key_hashes)s::bytea[]) AS q(key_version, key_hash)
  JOIN symphonics.subject_keys AS k ON k.key_version = q.key_version AND k.key_hash = q.key_hash
 ORDER BY k.external_id
