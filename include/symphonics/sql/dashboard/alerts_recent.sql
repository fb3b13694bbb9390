-- The alerts panel: every open episode first, then the alerts raised or resolved in the window, newest first.
-- Messages hold no personal data (include/symphonics/alerts.py); the details are not shown.
SELECT id, kind, severity, message, dag_id, run_id, raised_at, resolved_at, episodic,
       (episodic AND resolved_at IS NULL) AS open,
       array(SELECT via FROM unnest(notified_via) AS via WHERE via NOT IN ('table', 'log')) AS sent_to
  FROM symphonics.alerts
 WHERE (episodic AND resolved_at IS NULL) OR raised_at >= %(since)s OR resolved_at >= %(since)s
 ORDER BY (episodic AND resolved_at IS NULL) DESC, raised_at DESC, id DESC
 LIMIT %(limit)s
