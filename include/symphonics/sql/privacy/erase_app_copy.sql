-- The app copy holds the customer's e-mail and phone masked; an erased person's go altogether (the rows stay).
UPDATE symphonics.app_interventions_copy
   SET customer_email_masked = NULL, customer_phone_masked = NULL
 WHERE external_id = ANY(%(external_ids)s::text[])
   AND (customer_email_masked IS NOT NULL OR customer_phone_masked IS NOT NULL)
