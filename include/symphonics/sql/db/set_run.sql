-- Names the run of the current transaction for the ledger's history trigger (migration 0011), until it ends.
SELECT set_config('symphonics.run_id', %(run_id)s, true)
