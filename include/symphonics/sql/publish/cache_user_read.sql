-- Cached installer validations (lower-cased e-mail), still within their TTL.
SELECT email, user_exists, user_id, status
  FROM symphonics.installer_validations
 WHERE email = ANY(%(emails)s::text[]) AND expires_at > now()
