-- Rows that passed the local rules and still wait for the partner's validation.
SELECT count(*) FROM symphonics.interventions_ledger WHERE state = 'prevalidated'
   AND erased_at IS NULL
