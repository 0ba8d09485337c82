"""Registration, login, signing keys and the JWKS other services verify with."""
