COPY reconcile_app_stage FROM STDIN
