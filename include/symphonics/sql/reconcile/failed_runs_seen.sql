-- How many failed runs of a DAG the last failed_run alert about it counted (the next alert is for new ones only).
SELECT coalesce(max((details ->> 'failed_runs_total')::integer), 0)
  FROM symphonics.alerts
 WHERE kind = 'failed_runs_' || %(dag_id)s
