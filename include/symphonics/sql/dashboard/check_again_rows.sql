-- The rows a "check again" names (those the ledger knows), and the backlog beside them: a publish run claims every
-- row still to work on, so the run the dialog triggers spends on both.
SELECT (SELECT count(*) FROM symphonics.interventions_ledger WHERE external_id = ANY(%(external_ids)s)) AS known,
       (SELECT count(*) FROM symphonics.interventions_ledger
         WHERE state IN ('pending', 'prevalidated', 'ready', 'sending', 'failed_retryable')
           AND NOT external_id = ANY(%(external_ids)s)) AS backlog
