"""Sessions: refresh-token families, logout, revocation (PostgreSQL and its Redis cache)
and rotation of the signing keys, i.e. the life cycle of the tokens after login."""
