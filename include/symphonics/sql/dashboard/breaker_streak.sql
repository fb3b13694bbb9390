-- The unavailable requests (no reply, or a 5xx) since the partner last answered: the breaker counts calls that
-- ended unavailable, and a call starts at attempt 1, so the streak's first attempts are its failed calls.
-- A connection test's request (check_operation) is a probe of our settings, no evidence of the partner's health.
WITH scoped AS (
    SELECT called_at, status, attempt
      FROM symphonics.api_calls
     WHERE called_at <= %(now)s
       AND (%(client_id)s::text IS NULL OR client_id = %(client_id)s::text)
       AND operation <> %(check_operation)s
), last_answer AS (
    SELECT max(called_at) AS at FROM scoped WHERE status < 500
)
SELECT (SELECT at FROM last_answer) AS last_answer_at,
       (SELECT max(called_at) FROM scoped) AS last_call_at,
       count(*) AS failed_attempts,
       count(*) FILTER (WHERE attempt = 1) AS failed_calls,
       min(called_at) AS streak_started_at,
       max(called_at) AS last_failure_at
  FROM scoped
 WHERE called_at > coalesce((SELECT at FROM last_answer), '-infinity'::timestamptz)
   AND (status IS NULL OR status >= 500)
