-- The partner's response time over the window, per operation and overall (NULL operation): requests that got
-- a reply only (a timeout measures our limit, not the partner).
-- A connection test's request (check_operation) is left out: it measures our settings, not the partner.
SELECT operation,
       count(*) AS calls,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_ms
  FROM symphonics.api_calls
 WHERE called_at > %(since)s AND called_at <= %(now)s AND status IS NOT NULL
   AND (%(client_id)s::text IS NULL OR client_id = %(client_id)s::text)
   AND operation <> %(check_operation)s
 GROUP BY GROUPING SETS ((operation), ())
 ORDER BY operation NULLS FIRST
