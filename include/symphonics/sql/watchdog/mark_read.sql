-- A watchdog check's mark: when it first ran and how far it has read (no row: it never ran).
SELECT first_evaluated_at, last_evaluated_at, mark FROM symphonics.watchdog_marks WHERE check_name = %(check_name)s
