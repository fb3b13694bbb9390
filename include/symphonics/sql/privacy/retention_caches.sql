-- The partner's answers are cached with a TTL; an expired answer is never read again, but it holds a customer's
-- address and name (lookups) or a PDL and its address: deleted once expired.
WITH lookups AS (
    DELETE FROM symphonics.pdl_lookups WHERE expires_at < %(now)s RETURNING 1
), pdls AS (
    DELETE FROM symphonics.pdl_validations WHERE expires_at < %(now)s RETURNING 1
), users AS (
    DELETE FROM symphonics.installer_validations WHERE expires_at < %(now)s RETURNING 1
), senders AS (
    -- A refused webhook request's sender address and user agent may be a person's: kept as long as the ledger's.
    UPDATE symphonics.webhook_rejections SET remote_addr = NULL, user_agent = NULL
     WHERE received_at < %(before)s AND (remote_addr IS NOT NULL OR user_agent IS NOT NULL)
    RETURNING 1
)
SELECT (SELECT count(*) FROM lookups), (SELECT count(*) FROM pdls), (SELECT count(*) FROM users),
       (SELECT count(*) FROM senders)
