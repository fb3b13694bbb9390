-- Where the alert's notice went, once the channel took it.
UPDATE symphonics.alerts SET notified_via = array_append(notified_via, %(via)s) WHERE id = %(id)s
