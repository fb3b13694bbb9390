-- Refusals are kept a limited time: the per-minute counts and the sampled requests alike.
WITH counts AS (
    DELETE FROM symphonics.webhook_refusals WHERE minute < %(before)s RETURNING 1
), samples AS (
    DELETE FROM symphonics.webhook_rejections WHERE received_at < %(before)s RETURNING 1
)
SELECT (SELECT count(*) FROM counts), (SELECT count(*) FROM samples)
