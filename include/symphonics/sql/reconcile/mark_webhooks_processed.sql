-- Applied events, and unknown event types (nothing to apply; they stay flagged), are done. An event matching no
-- ledger row stays pending: a later run applies it once its row is known.
UPDATE symphonics.webhook_events AS e
   SET processed_at = now()
  FROM reconcile_pending AS p
 WHERE e.id = p.id AND (p.ledger_external_id IS NOT NULL OR p.unknown_event)
