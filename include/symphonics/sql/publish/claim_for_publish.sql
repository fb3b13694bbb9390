-- Claim a batch of rows to send: ready ones, failed_retryable ones, and `sending` ones left by a crash.
-- A row claimed by another publisher is skipped while that publisher lives, i.e. holds the advisory lock
-- (classid, claim_key) of its session; FOR UPDATE SKIP LOCKED keeps two claims from taking one row.
UPDATE symphonics.interventions_ledger AS l
   SET claim_key = %(claim_key)s, claimed_at = now()
 WHERE l.id IN (
        SELECT c.id
          FROM symphonics.interventions_ledger AS c
         WHERE c.state IN ('ready', 'sending', 'failed_retryable')
           AND c.erased_at IS NULL
           AND (c.claim_key IS NULL
                OR c.claim_key = %(claim_key)s
                OR NOT EXISTS (
                    SELECT 1
                      FROM pg_catalog.pg_locks AS k
                     WHERE k.locktype = 'advisory'
                       AND k.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
                       AND k.classid = %(lock_class)s::oid
                       AND k.objid = c.claim_key::oid
                       AND k.objsubid = 2
                       AND k.granted))
           AND c.id > %(after_id)s
           AND (%(external_ids)s::text[] IS NULL OR c.external_id = ANY(%(external_ids)s::text[]))  -- a run given external ids: those only
         ORDER BY c.id
         LIMIT %(batch_size)s
           FOR UPDATE SKIP LOCKED)
RETURNING l.id, l.external_id, l.state, l.payload, l.sent_payload, l.sent_documents, l.symphonics_id,
          l.attempts
