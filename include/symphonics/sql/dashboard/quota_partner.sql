-- What the partner stated about a client id's quota (every client id's when none is configured): the limits it
-- granted below the configured ones (X-RateLimit-Limit, adopted by the client) and the floor it set (a
-- Retry-After, or Remaining 0 until a Reset) while it runs.
SELECT min(partner_per_minute) AS partner_per_minute,
       min(partner_per_day) AS partner_per_day,
       max(server_reset_at) FILTER (WHERE server_remaining = 0 AND server_reset_at > %(now)s) AS floor_until
  FROM symphonics.quota_windows
 WHERE (%(client_id)s::text IS NULL OR client_id = %(client_id)s::text)
