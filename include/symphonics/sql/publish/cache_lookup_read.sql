-- Cached PDL lookups by normalised address and customer name, still within their TTL.
SELECT lookup_key, found, pdl, confidence
  FROM symphonics.pdl_lookups
 WHERE lookup_key = ANY(%(keys)s::text[]) AND expires_at > now()
