"""The `signing_keys` table: identity's Ed25519 keys: the next one, the active one, and
those retiring.

A key's life: created as the next key (`activated_at` NULL: published in the JWKS,
signs nothing), promoted by a rotation (`activated_at` set: the one signing key),
retired by the following rotation (`retired_at` set: still published until every
token it signed has expired), then dropped from the JWKS. Publishing the next key a
rotation ahead means every service's cached key set already holds it when it starts
signing, so no token has to wait for a verifier's refetch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from aurora_identity.db import Base


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(Text, primary_key=True)
    # PKCS#8 PEM. Kept in the database so every replica signs with the same key;
    # encryption at rest of this column is left to the key-rotation work.
    private_pem: Mapped[str] = mapped_column(Text, nullable=False)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
