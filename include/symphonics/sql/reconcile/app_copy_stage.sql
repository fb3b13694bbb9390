-- The staging table the app's rows are copied into (dropped at commit).
CREATE TEMPORARY TABLE reconcile_app_stage (
    external_id            text,
    app_updated_at         timestamptz,
    app_intervention_id    bigint,
    status                 text,
    completed_at           timestamptz,
    postal_code            text,
    city                   text,
    installer_id           bigint,
    installer_masked       text,
    company_id             bigint,
    customer_email_masked  text,
    customer_phone_masked  text
) ON COMMIT DROP
