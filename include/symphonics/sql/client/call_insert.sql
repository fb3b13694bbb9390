-- One request to the partner (or one token request), as it left: the call log the budget and dashboard read.
INSERT INTO symphonics.api_calls
       (called_at, client_id, priority_class, operation, method, path, status, error_code, latency_ms, attempt,
        request_id, token_request, dag_id, task_id, run_id)
VALUES (%(called_at)s, %(client_id)s, %(priority_class)s, %(operation)s, %(method)s, %(path)s, %(status)s,
        %(error_code)s, %(latency_ms)s, %(attempt)s, %(request_id)s, %(token_request)s, %(dag_id)s, %(task_id)s,
        %(run_id)s)
