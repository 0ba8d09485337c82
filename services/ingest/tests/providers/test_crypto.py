"""TokenCipher (checklist 21): non-deterministic, tamper-evident, rotatable."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from aurora_ingest.providers.crypto import (
    TokenCipher,
    TokenCipherNotConfiguredError,
    TokenDecryptError,
)

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def test_round_trip_and_two_encryptions_differ() -> None:
    cipher = TokenCipher([NEW])
    first, second = cipher.encrypt("a4b945687g"), cipher.encrypt("a4b945687g")
    assert first != second
    assert "a4b945687g" not in first
    assert cipher.decrypt(first) == cipher.decrypt(second) == "a4b945687g"
    assert cipher.configured


def test_tampered_ciphertext_is_a_loud_error() -> None:
    cipher = TokenCipher([NEW])
    token = cipher.encrypt("refresh-me")
    flipped = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    for bad in (flipped, token[:-4], "", "not-even-base64!!", "é"):
        with pytest.raises(TokenDecryptError, match="cannot be decrypted"):
            cipher.decrypt(bad)


def test_unknown_key_is_a_loud_error() -> None:
    token = TokenCipher([OLD]).encrypt("secret")
    with pytest.raises(TokenDecryptError):
        TokenCipher([NEW]).decrypt(token)


def test_old_key_still_decrypts_after_rotation_and_rotate_moves_to_new_key() -> None:
    old_token = TokenCipher([OLD]).encrypt("strava-refresh")
    rotated_cipher = TokenCipher([NEW, OLD])
    assert rotated_cipher.decrypt(old_token) == "strava-refresh"
    rotated = rotated_cipher.rotate(old_token)
    assert rotated != old_token
    # The old key can go now: the new key alone opens the rotated token, not the old one.
    new_only = TokenCipher([NEW])
    assert new_only.decrypt(rotated) == "strava-refresh"
    with pytest.raises(TokenDecryptError):
        new_only.decrypt(old_token)


def test_rotate_refuses_what_no_key_opens() -> None:
    token = TokenCipher([OLD]).encrypt("x")
    with pytest.raises(TokenDecryptError):
        TokenCipher([NEW]).rotate(token)


def test_unconfigured_cipher_fails_on_use_only() -> None:
    cipher = TokenCipher([])
    assert not cipher.configured
    with pytest.raises(TokenCipherNotConfiguredError):
        cipher.encrypt("x")
    with pytest.raises(TokenCipherNotConfiguredError):
        cipher.decrypt("x")


def test_invalid_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="#2 is not a valid Fernet key") as raised:
        TokenCipher([NEW, "too-short-key"])
    assert "too-short-key" not in str(raised.value)
