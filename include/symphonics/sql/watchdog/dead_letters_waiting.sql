-- Rows still in dead_letter that entered it after a history row id (an episode's start): what ops have to settle.
SELECT count(*)
  FROM symphonics.interventions_ledger AS l
 WHERE l.state = 'dead_letter' AND l.erased_at IS NULL
   AND EXISTS (SELECT FROM symphonics.ledger_history AS h
                WHERE h.external_id = l.external_id AND h.to_state = 'dead_letter' AND h.id > %(since_mark)s)
