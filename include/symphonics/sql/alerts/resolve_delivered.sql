-- Where the "resolved" notice of an episode went, once the channel took it.
UPDATE symphonics.alerts SET resolve_notified_via = array_append(resolve_notified_via, %(via)s) WHERE id = %(id)s
