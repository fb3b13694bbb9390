-- HTTP requests (retries and token requests included) the partner received from one run, by the call log.
SELECT count(*) FROM symphonics.api_calls WHERE dag_id = %(dag_id)s AND run_id = %(run_id)s
