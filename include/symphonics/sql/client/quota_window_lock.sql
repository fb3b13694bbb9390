-- A client id's quota counters, locked until the transaction ends: one process at a time takes a request's share.
SELECT recent_sends, day_start, day_used, server_remaining, server_reset_at, partner_per_minute, partner_per_day
  FROM symphonics.quota_windows
 WHERE client_id = %(client_id)s
   FOR UPDATE
