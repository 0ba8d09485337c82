"""Provider tokens at rest: Fernet through MultiFernet, so the key can rotate.

The first key encrypts; every listed key decrypts. Rotating is: put a new key
first, keep the old one after it, run `reencrypt-tokens`, then drop the old
key. A token that no listed key opens is an operator's problem (a lost or
mistyped key), never a user's "not connected": `TokenDecryptError` is loud,
and nothing in ingest catches it to pretend the connection is gone.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class TokenCipherNotConfiguredError(Exception):
    """No Fernet key is configured (AURORA_INGEST_TOKEN_KEYS is empty)."""


class TokenDecryptError(Exception):
    """No configured key opens this ciphertext: tampered, truncated, or a key went missing."""


class TokenCipher:
    def __init__(self, keys: Sequence[str]) -> None:
        fernets: list[Fernet] = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError) as exc:
                # The key itself is never echoed: it is the secret.
                raise ValueError(f"token key #{position} is not a valid Fernet key") from exc
        self._multi = MultiFernet(fernets) if fernets else None

    @property
    def configured(self) -> bool:
        return self._multi is not None

    def _cipher(self) -> MultiFernet:
        if self._multi is None:
            raise TokenCipherNotConfiguredError("no token encryption key is configured")
        return self._multi

    def encrypt(self, plaintext: str) -> str:
        """Non-deterministic: Fernet adds a random IV and a timestamp to every token."""
        return self._cipher().encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._cipher().decrypt(ciphertext.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise TokenDecryptError("stored provider credentials cannot be decrypted") from exc

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt under the current (first) key; any listed key may open the old one."""
        try:
            return self._cipher().rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError) as exc:
            raise TokenDecryptError("stored provider credentials cannot be decrypted") from exc


__all__ = ["TokenCipher", "TokenCipherNotConfiguredError", "TokenDecryptError"]
