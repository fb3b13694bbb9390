SELECT count(*) FROM reconcile_app_stage
