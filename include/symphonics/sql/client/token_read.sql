-- The stored (encrypted) token of a client id at a base URL.
SELECT access_token_encrypted, token_type, expires_at, refresh_at
  FROM symphonics.api_tokens
 WHERE client_id = %(client_id)s AND base_url = %(base_url)s
