-- The partner's cached answers about the person: their PDLs (with the address the partner gave), the lookups
-- of their addresses (with their name), and their e-mail should it be an installer's.
WITH pdls AS (
    DELETE FROM symphonics.pdl_validations WHERE pdl = ANY(%(pdls)s::text[]) RETURNING 1
), lookups AS (
    DELETE FROM symphonics.pdl_lookups
     WHERE lookup_key = ANY(%(lookup_keys)s::text[])
        OR lower(customer_name) = ANY(%(last_names)s::text[]) AND lower(address ->> 'street') = ANY(%(streets)s::text[])
    RETURNING 1
), users AS (
    DELETE FROM symphonics.installer_validations WHERE lower(email) = ANY(%(emails)s::text[]) RETURNING 1
)
SELECT (SELECT count(*) FROM pdls), (SELECT count(*) FROM lookups), (SELECT count(*) FROM users)
