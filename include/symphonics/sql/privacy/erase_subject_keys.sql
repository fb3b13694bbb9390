-- The person's keyed hashes go with their data: nothing links their e-mail or id to an intervention any more.
DELETE FROM symphonics.subject_keys WHERE external_id = ANY(%(external_ids)s::text[])
