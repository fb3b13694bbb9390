-- Status changes the polls of a run recorded.
SELECT count(*) FROM symphonics.status_history WHERE source = 'poll' AND run_id IS NOT DISTINCT FROM %(run_id)s
