-- Record a completion watcher's position and what its probes cost. The position never moves backwards.
INSERT INTO symphonics.completion_watchers AS w
       (watcher, position_at, position_id, probes, probe_ms_total, last_probe_at, last_probe_ms, last_probe_rows,
        signals, last_signal_at, last_signal_rows, errors, last_error_at, last_error, updated_at)
VALUES (%(watcher)s, %(position_at)s, %(position_id)s, %(probes)s, %(probe_ms_total)s, %(last_probe_at)s,
        %(last_probe_ms)s, %(last_probe_rows)s, %(signals)s, %(last_signal_at)s, %(last_signal_rows)s, %(errors)s,
        %(last_error_at)s, %(last_error)s, now())
    ON CONFLICT ON CONSTRAINT completion_watchers_pkey DO UPDATE
   SET position_at = CASE WHEN (EXCLUDED.position_at, EXCLUDED.position_id) > (w.position_at, w.position_id)
                          THEN EXCLUDED.position_at ELSE w.position_at END,
       position_id = CASE WHEN (EXCLUDED.position_at, EXCLUDED.position_id) > (w.position_at, w.position_id)
                          THEN EXCLUDED.position_id ELSE w.position_id END,
       probes = EXCLUDED.probes,
       probe_ms_total = EXCLUDED.probe_ms_total,
       last_probe_at = coalesce(EXCLUDED.last_probe_at, w.last_probe_at),
       last_probe_ms = coalesce(EXCLUDED.last_probe_ms, w.last_probe_ms),
       last_probe_rows = coalesce(EXCLUDED.last_probe_rows, w.last_probe_rows),
       signals = EXCLUDED.signals,
       last_signal_at = coalesce(EXCLUDED.last_signal_at, w.last_signal_at),
       last_signal_rows = coalesce(EXCLUDED.last_signal_rows, w.last_signal_rows),
       errors = EXCLUDED.errors,
       last_error_at = coalesce(EXCLUDED.last_error_at, w.last_error_at),
       last_error = coalesce(EXCLUDED.last_error, w.last_error),
       updated_at = now()
