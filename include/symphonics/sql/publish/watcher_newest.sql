-- The app's newest (updated_at, id): where a watcher with no position and no publish mark starts
-- (a backward read of the index's last entry).
SELECT i.updated_at, i.id
  FROM public.interventions AS i
 ORDER BY i.updated_at DESC, i.id DESC
 LIMIT 1
