-- New versions only: a version (external id, app updated_at) already copied is never rewritten.
INSERT INTO symphonics.app_interventions_copy (
    external_id, app_updated_at, app_intervention_id, status, completed_at, postal_code, city, installer_id,
    installer_masked, company_id, customer_email_masked, customer_phone_masked, copied_at, run_id
)
SELECT external_id, app_updated_at, app_intervention_id, status, completed_at, postal_code, city, installer_id,
       installer_masked, company_id, customer_email_masked, customer_phone_masked, now(), %(run_id)s
  FROM reconcile_app_stage
    ON CONFLICT ON CONSTRAINT app_interventions_copy_pkey DO NOTHING
