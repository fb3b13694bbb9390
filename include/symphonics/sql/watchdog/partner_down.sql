-- The partner's outage as the calls recorded it: the first failure (a timeout or connection error, no status, or
-- a 5xx; or a publish run stopped `unavailable`) after the last call the partner answered (any status below 500),
-- and how many failures since. No failure after the last answer: the partner is up.
WITH last_answer AS (
    SELECT max(called_at) AS at FROM symphonics.api_calls WHERE status < 500
), failures AS (
    SELECT c.called_at AS at
      FROM symphonics.api_calls AS c, last_answer AS a
     WHERE (c.status IS NULL OR c.status >= 500) AND (a.at IS NULL OR c.called_at > a.at)
    UNION ALL
    SELECT r.finished_at
      FROM symphonics.publish_runs AS r, last_answer AS a
     WHERE NOT r.dry_run AND r.detail ->> 'stopped' = 'unavailable' AND r.finished_at IS NOT NULL
       AND (a.at IS NULL OR r.finished_at > a.at)
)
SELECT (SELECT at FROM last_answer) AS last_answer_at,
       (SELECT min(at) FROM failures) AS down_since,
       (SELECT count(*) FROM failures) AS failures
