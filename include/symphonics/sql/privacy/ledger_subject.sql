-- Ledger rows whose clear source names the e-mail (the app may already have deleted the customer): the source
-- records of rows not minimised yet carry it.
SELECT external_id, source
  FROM symphonics.interventions_ledger
 WHERE lower(source -> 'customer' ->> 'email') = lower(%(email)s::text)
