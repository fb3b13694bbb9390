-- A watchdog check ran: its first run is kept, its last run and mark move on (never back).
INSERT INTO symphonics.watchdog_marks AS m (check_name, first_evaluated_at, last_evaluated_at, mark)
VALUES (%(check_name)s, %(now)s, %(now)s, %(mark)s)
    ON CONFLICT (check_name) DO UPDATE
   SET last_evaluated_at = greatest(m.last_evaluated_at, EXCLUDED.last_evaluated_at),
       mark = greatest(m.mark, EXCLUDED.mark)
RETURNING first_evaluated_at
