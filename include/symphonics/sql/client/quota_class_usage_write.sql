-- What a priority class spent in a client id's partner day.
INSERT INTO symphonics.quota_class_usage (client_id, day_start, priority_class, used)
VALUES (%(client_id)s, %(day_start)s, %(priority_class)s, %(used)s)
    ON CONFLICT ON CONSTRAINT quota_class_usage_pkey DO UPDATE
   SET used = EXCLUDED.used
