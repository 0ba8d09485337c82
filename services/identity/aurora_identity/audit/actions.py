"""Names of the audited actions, so every caller spells them the same way.

Events from other services (stream `audit.events`) bring their own action names.
"""

from __future__ import annotations

USER_REGISTERED = "user.registered"
LOGIN_SUCCEEDED = "auth.login_succeeded"
LOGIN_FAILED = "auth.login_failed"  # the refusal is returned, so its transaction commits
LOGIN_THROTTLED = "auth.login_throttled"
LOGOUT = "auth.logout"
REFRESH_REUSE_DETECTED = "auth.refresh_reuse_detected"
PASSWORD_CHANGED = "user.password_changed"  # noqa: S105 (an action name)
ROLE_CHANGED = "user.role_changed"
USER_DEACTIVATED = "user.deactivated"
USER_REACTIVATED = "user.reactivated"
USER_DELETED = "user.deleted"
USER_PURGED = "user.purged"
USER_EXPORTED = "user.exported"
KEYS_ROTATED = "auth.keys_rotated"
ADMIN_READ = "admin.read"  # an admin looked at someone else's data
AUDIT_READ = "audit.read"

GRANT_INVITED = "grant.invited"
GRANT_REQUESTED = "grant.requested"
GRANT_ACCEPTED = "grant.accepted"
GRANT_DECLINED = "grant.declined"
GRANT_REVOKED = "grant.revoked"

SYSTEM_ROLE = "system"  # scheduled jobs (purge) act as nobody
ANONYMOUS_ROLE = "anonymous"  # before sign-in (failed login)
