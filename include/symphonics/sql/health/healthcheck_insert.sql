-- One health check's result, kept in the history the dashboard and ops read.
INSERT INTO symphonics.healthchecks (component, ok, latency_ms, detail, run_id)
VALUES (%(component)s, %(ok)s, %(latency_ms)s, %(detail)s, %(run_id)s)
