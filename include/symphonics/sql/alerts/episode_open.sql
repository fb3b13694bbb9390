-- Open an episode of a kind unless one is open (nothing returned: this episode was raised already).
INSERT INTO symphonics.alerts (kind, severity, message, details, dag_id, run_id, notified_via, episodic)
VALUES (%(kind)s, %(severity)s, %(message)s, %(details)s, %(dag_id)s, NULL, %(notified_via)s, true)
    ON CONFLICT (kind) WHERE episodic AND resolved_at IS NULL DO NOTHING
RETURNING id
