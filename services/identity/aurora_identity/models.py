"""Imports every ORM module so alembic and the metadata see all tables."""

from aurora_identity.audit.models import AuditEntry
from aurora_identity.auth.models import SigningKey
from aurora_identity.db import BUS, Base
from aurora_identity.gdpr.models import ExportRequest
from aurora_identity.grants.models import Grant
from aurora_identity.sessions.models import RefreshToken, Revocation
from aurora_identity.throttle.models import LoginThrottle, ServerSecret
from aurora_identity.users.models import User

__all__ = [
    "BUS",
    "AuditEntry",
    "Base",
    "ExportRequest",
    "Grant",
    "LoginThrottle",
    "RefreshToken",
    "Revocation",
    "ServerSecret",
    "SigningKey",
    "User",
]
