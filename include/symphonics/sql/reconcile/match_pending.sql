-- Events about rows whose id was just completed now match them.
UPDATE reconcile_pending AS p
   SET ledger_external_id = l.external_id
  FROM symphonics.interventions_ledger AS l
 WHERE p.ledger_external_id IS NULL AND l.symphonics_id = p.intervention_id
