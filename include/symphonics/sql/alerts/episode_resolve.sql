-- Close the open episode of a kind (nothing returned: none was open, or a retry closed it already).
UPDATE symphonics.alerts
   SET resolved_at = greatest(now(), raised_at)
 WHERE kind = %(kind)s AND episodic AND resolved_at IS NULL
RETURNING id, severity, message, details, raised_at, resolved_at
