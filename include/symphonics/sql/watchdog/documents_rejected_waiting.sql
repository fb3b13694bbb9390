-- Published rows whose latest verification of a document is `rejected`, at or before %(before)s, with no PATCH
-- (which carries new documents) after it: the partner waits for a new proof. The oldest first.
WITH latest AS (
    SELECT DISTINCT ON (external_id, document_type) external_id, document_type, to_status, occurred_at
      FROM symphonics.status_history
     WHERE event_kind = 'document'
     ORDER BY external_id, document_type, occurred_at DESC, id DESC
)
SELECT l.external_id, l.document_type, l.occurred_at
  FROM latest AS l
  JOIN symphonics.interventions_ledger AS g ON g.external_id = l.external_id
 WHERE l.to_status = 'rejected' AND l.occurred_at <= %(before)s
   AND (g.patched_at IS NULL OR g.patched_at <= l.occurred_at)
   AND g.erased_at IS NULL
 ORDER BY l.occurred_at, l.external_id, l.document_type
