-- The signed bodies of refused webhook requests are kept a limited time (a small table: one statement).
UPDATE symphonics.webhook_rejections SET signed_body = NULL
 WHERE received_at < %(before)s AND signed_body IS NOT NULL
