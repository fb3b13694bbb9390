-- Cached PDL validations still within their TTL.
SELECT pdl, valid, error_code, message
  FROM symphonics.pdl_validations
 WHERE pdl = ANY(%(pdls)s::text[]) AND expires_at > now()
