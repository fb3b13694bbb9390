-- Completed -> created at the partner over the recent creates: the app's updated_at the row was extracted with
-- (its completion, for a row published at its first run) to the ledger's published_at. Only completions inside
-- the window count: an old completion published now (a backlog caught up) is not latency.
SELECT count(*) AS publishes,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM published_at - app_updated_at)) AS p50_s,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM published_at - app_updated_at)) AS p95_s
  FROM symphonics.interventions_ledger
 WHERE published_at >= %(since)s
   AND app_updated_at >= %(since)s
   AND published_at >= app_updated_at
