-- The call log is kept a limited time (analytics.quota_daily then starts later).
DELETE FROM symphonics.api_calls WHERE called_at < %(before)s
