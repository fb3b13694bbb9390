-- The stored event with this natural key (a separate statement, so it sees a row a concurrent delivery committed).
SELECT id FROM symphonics.webhook_events WHERE dedup_key = %(dedup_key)s
