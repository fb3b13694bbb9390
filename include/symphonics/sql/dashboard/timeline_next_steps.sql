-- The partner's next steps for one intervention, as its last status GET gave them (migration 0014).
SELECT next_steps
  FROM symphonics.intervention_sync_state
 WHERE external_id = %(external_id)s
