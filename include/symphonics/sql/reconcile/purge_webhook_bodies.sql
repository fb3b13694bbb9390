-- Raw bodies are kept a limited time: their parsed fields (and status_history) stay.
WITH events AS (
    UPDATE symphonics.webhook_events SET raw_body = ''
     WHERE received_at < %(before)s AND raw_body <> ''
    RETURNING 1
), rejections AS (
    UPDATE symphonics.webhook_rejections SET signed_body = NULL
     WHERE received_at < %(before)s AND signed_body IS NOT NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM rejections)
