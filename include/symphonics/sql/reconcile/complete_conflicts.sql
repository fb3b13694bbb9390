-- A 409 without an id left the row conflict_unresolved: the first event naming its external_id gives the id.
-- An id another row already holds is not taken (the unique index would refuse it; ops look at both).
UPDATE symphonics.interventions_ledger AS l
   SET symphonics_id = p.intervention_id,
       state = 'published',
       state_reason = NULL,
       state_detail = 'Symphonics id learnt from a webhook by the reconciliation',
       state_changed_at = now(),
       updated_at = now()
  FROM (SELECT DISTINCT ON (external_id) external_id, intervention_id
          FROM reconcile_pending
         WHERE external_id IS NOT NULL AND intervention_id IS NOT NULL AND NOT unknown_event
         ORDER BY external_id, event_at, id) AS p
 WHERE l.external_id = p.external_id
   AND l.state = 'conflict_unresolved'
   AND l.symphonics_id IS NULL
   AND NOT EXISTS (SELECT FROM symphonics.interventions_ledger AS o WHERE o.symphonics_id = p.intervention_id)
RETURNING l.external_id
