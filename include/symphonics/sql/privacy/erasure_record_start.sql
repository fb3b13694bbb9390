-- The erasure's record: what kind of request, the requester's reference, who ran it. Never who was erased.
INSERT INTO symphonics.privacy_erasures (subject_kind, reference, requested_by)
VALUES (%(subject_kind)s, %(reference)s, %(requested_by)s)
RETURNING id
