-- One alert of a run; a retried task of the same run raises each kind once (nothing returned: raised already).
INSERT INTO symphonics.alerts (kind, severity, message, details, dag_id, run_id, notified_via)
VALUES (%(kind)s, %(severity)s, %(message)s, %(details)s, %(dag_id)s, %(run_id)s, %(notified_via)s)
    ON CONFLICT (coalesce(dag_id, ''), run_id, kind) WHERE run_id IS NOT NULL DO NOTHING
RETURNING id
