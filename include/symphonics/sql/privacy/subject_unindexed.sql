-- Ledger rows with no keyed hash yet (extracted before migration 0017), in id order from a position: the
-- index's one-off backfill. Their clear e-mail, when the record still holds it.
SELECT l.id, l.external_id, l.app_intervention_id, l.source -> 'customer' ->> 'email' AS email
  FROM symphonics.interventions_ledger AS l
 WHERE l.id > %(after_id)s
   AND l.erased_at IS NULL
   AND NOT EXISTS (SELECT FROM symphonics.subject_keys AS k WHERE k.external_id = l.external_id)
 ORDER BY l.id
 LIMIT %(batch_size)s
