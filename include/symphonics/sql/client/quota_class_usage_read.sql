-- Requests each priority class spent in a client id's partner day.
SELECT priority_class, used
  FROM symphonics.quota_class_usage
 WHERE client_id = %(client_id)s AND day_start = %(day_start)s
