UPDATE symphonics.privacy_erasures
   SET finished_at = now(),
       interventions = %(interventions)s,
       rows_changed = %(rows_changed)s
 WHERE id = %(id)s
