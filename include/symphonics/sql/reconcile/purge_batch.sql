-- One batch of a retention: {function} is one of migration 0020's SECURITY DEFINER purges (a fixed list in
-- reconcile/purge.py, never input). It removes or blanks at most %(batch_size)s rows older than %(before)s and
-- refuses a date younger than its floor.
SELECT {function}(%(before)s, %(batch_size)s)
