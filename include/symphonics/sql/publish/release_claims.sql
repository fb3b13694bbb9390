-- A publisher done (or stopped) gives back the rows it claimed and did not finish.
UPDATE symphonics.interventions_ledger SET claim_key = NULL, claimed_at = NULL WHERE claim_key = %(claim_key)s
