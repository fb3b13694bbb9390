-- The open episode of a kind, if any: when it was raised and the figures it was raised with.
SELECT id, raised_at, details
  FROM symphonics.alerts
 WHERE kind = %(kind)s AND episodic AND resolved_at IS NULL
