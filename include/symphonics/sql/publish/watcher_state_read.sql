-- A completion watcher's position and counters; else the publish pipeline's high-water mark to start from.
SELECT w.position_at, w.position_id, w.probes, w.probe_ms_total, w.signals, w.errors, TRUE AS known
  FROM symphonics.completion_watchers AS w
 WHERE w.watcher = %(watcher)s
 UNION ALL
SELECT m.mark_updated_at, m.mark_id, 0, 0, 0, 0, FALSE
  FROM symphonics.publish_watermarks AS m
 WHERE m.pipeline = %(pipeline)s
   AND NOT EXISTS (SELECT 1 FROM symphonics.completion_watchers WHERE watcher = %(watcher)s)
