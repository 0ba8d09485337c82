"""Imports every ORM module so alembic and the metadata see all tables."""

from aurora_identity.auth.models import SigningKey
from aurora_identity.db import BUS, Base
from aurora_identity.users.models import User

__all__ = ["BUS", "Base", "SigningKey", "User"]
