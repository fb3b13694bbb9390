-- The ledger records of the person's interventions (by external id, the ledger's unique key): those still in
-- clear name the person's other identifiers (name, phone, address, PDL) for the redaction of their rows.
SELECT external_id, source
  FROM symphonics.interventions_ledger
 WHERE external_id = ANY(%(external_ids)s::text[])
