-- The partner calls about one row: those whose request id a state change (or the ledger) recorded (its creates and
-- PATCHes), and every call on its Symphonics id's path (GETs of the polls, PATCHes).
SELECT called_at, operation, method, path, status, error_code, latency_ms, attempt, request_id, priority_class,
       run_id
  FROM symphonics.api_calls
 WHERE request_id = ANY(%(request_ids)s)
    OR (%(symphonics_id)s::text IS NOT NULL
        AND (path = '/crm/interventions/' || %(symphonics_id)s
             OR path LIKE '/crm/interventions/' || %(symphonics_id)s || '/%%'))
 ORDER BY called_at, id
