-- The unavailable requests (no reply, or a 5xx) since the partner last answered: the breaker counts calls that
-- ended unavailable, and a call starts at attempt 1, so the streak's first attempts are its failed calls.
-- A connection test's request (check_operation) is a probe of our settings, no evidence of the partner's health.
-- Each part reads api_calls backwards from %(now)s by time (index api_calls_called_at_idx): the last answer and the
-- last call are near the end, the streak is what follows the last answer. (One CTE read three times was
-- materialised: a pass over the 90 days of calls on every refresh.)
WITH last_answer AS (
    SELECT max(called_at) AS at
      FROM symphonics.api_calls
     WHERE called_at <= %(now)s
       AND (%(client_id)s::text IS NULL OR client_id = %(client_id)s::text)
       AND operation <> %(check_operation)s
       AND status < 500
)
SELECT (SELECT at FROM last_answer) AS last_answer_at,
       (SELECT max(called_at)
          FROM symphonics.api_calls
         WHERE called_at <= %(now)s
           AND (%(client_id)s::text IS NULL OR client_id = %(client_id)s::text)
           AND operation <> %(check_operation)s) AS last_call_at,
       count(*) AS failed_attempts,
       count(*) FILTER (WHERE attempt = 1) AS failed_calls,
       min(called_at) AS streak_started_at,
       max(called_at) AS last_failure_at
  FROM symphonics.api_calls
 WHERE called_at <= %(now)s
   AND (%(client_id)s::text IS NULL OR client_id = %(client_id)s::text)
   AND operation <> %(check_operation)s
   AND called_at > coalesce((SELECT at FROM last_answer), '-infinity'::timestamptz)
   AND (status IS NULL OR status >= 500)
