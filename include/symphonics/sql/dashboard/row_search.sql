-- The interventions one key names: an external id, a Symphonics id, or the request id of any call about them (the
-- ledger's last, one a state change recorded, or a GET/PATCH of /crm/interventions/{symphonics id} in the call log).
SELECT DISTINCT l.external_id, l.symphonics_id, l.state, l.state_reason, l.state_changed_at
  FROM symphonics.interventions_ledger AS l
 WHERE l.external_id = %(key)s
    OR l.symphonics_id = %(key)s
    OR l.last_request_id = %(key)s
    OR l.external_id IN (SELECT h.external_id FROM symphonics.ledger_history AS h
                          WHERE h.symphonics_id = %(key)s OR h.request_id = %(key)s)
    OR l.symphonics_id IN (SELECT substring(c.path FROM '^/crm/interventions/([^/?]+)')
                             FROM symphonics.api_calls AS c
                            WHERE c.request_id = %(key)s)
 ORDER BY l.state_changed_at DESC
 LIMIT %(limit)s
