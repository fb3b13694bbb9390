-- Rows that passed the local rules and still wait for the partner's validation.
SELECT count(*) FROM symphonics.interventions_ledger WHERE state = 'pending' AND prevalidated_at IS NOT NULL
   AND erased_at IS NULL
