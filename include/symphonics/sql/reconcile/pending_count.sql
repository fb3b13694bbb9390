SELECT count(*) FROM reconcile_pending
