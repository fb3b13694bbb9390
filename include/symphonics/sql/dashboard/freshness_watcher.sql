-- The completion watcher's last probe and what its probes cost (one row per watcher).
SELECT watcher, last_probe_at, last_probe_ms, last_probe_rows, probes,
       CASE WHEN probes > 0 THEN probe_ms_total / probes END AS mean_probe_ms,
       signals, last_signal_at, errors, last_error_at, last_error
  FROM symphonics.completion_watchers
 ORDER BY watcher
