-- A client id's quota counters after a request's share was taken (or the server's headers were read).
UPDATE symphonics.quota_windows
   SET recent_sends = %(recent_sends)s,
       day_start = %(day_start)s,
       day_used = %(day_used)s,
       server_remaining = %(server_remaining)s,
       server_reset_at = %(server_reset_at)s,
       partner_per_minute = %(partner_per_minute)s,
       partner_per_day = %(partner_per_day)s,
       updated_at = now()
 WHERE client_id = %(client_id)s
