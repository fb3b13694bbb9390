-- Rows of the interventions ledger per state.
SELECT state, count(*) AS rows
  FROM symphonics.interventions_ledger
 GROUP BY state
