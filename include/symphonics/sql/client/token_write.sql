-- Keep a new token (encrypted: never written in clear text).
INSERT INTO symphonics.api_tokens
       (client_id, base_url, access_token_encrypted, token_type, expires_at, refresh_at, obtained_at)
VALUES (%(client_id)s, %(base_url)s, %(encrypted)s, %(token_type)s, %(expires_at)s, %(refresh_at)s, now())
    ON CONFLICT ON CONSTRAINT api_tokens_pkey DO UPDATE
   SET access_token_encrypted = EXCLUDED.access_token_encrypted,
       token_type = EXCLUDED.token_type,
       expires_at = EXCLUDED.expires_at,
       refresh_at = EXCLUDED.refresh_at,
       obtained_at = EXCLUDED.obtained_at
