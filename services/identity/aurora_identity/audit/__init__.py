"""The append-only audit log: who did what to whom, kept past the subject's erasure.

Other identity code records with `aurora_identity.audit.service.record` (inside the
request's transaction) or `record_now` (in a transaction of its own, for events that
must outlive a rolled-back request).
"""
