-- The partner's p50 / p95 response time per hour over the window, with the requests that got no reply or a 5xx.
-- A connection test's request (check_operation) is left out: it measures our settings, not the partner.
SELECT date_trunc('hour', called_at) AS hour,
       count(*) AS calls,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE status IS NOT NULL) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE status IS NOT NULL) AS p95_ms,
       count(*) FILTER (WHERE status IS NULL OR status >= 500) AS unavailable
  FROM symphonics.api_calls
 WHERE called_at > %(since)s AND called_at <= %(now)s
   AND (%(client_id)s::text IS NULL OR client_id = %(client_id)s::text)
   AND operation <> %(check_operation)s
 GROUP BY 1
 ORDER BY 1
