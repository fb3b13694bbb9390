-- Health check: the receiver can reach its table.
SELECT 1 FROM symphonics.webhook_events LIMIT 0
