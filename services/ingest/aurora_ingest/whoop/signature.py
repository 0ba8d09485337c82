"""WHOOP webhook signatures (checklist 17-18): pure, so every boundary is testable.

WHOOP signs `X-WHOOP-Signature-Timestamp + raw body` with the app's client secret:
base64(HMAC-SHA256(key=client_secret, msg=timestamp + body)), no separator, the
timestamp in epoch milliseconds. The signature is only meaningful over the exact
bytes received; a JSON round-trip (re-serialised whitespace or key order) must
fail, so callers hand in `await request.body()`, never parsed JSON.

WHOOP states no replay window; ours is `whoop_webhook_tolerance_s` either way
(a sender clock slightly ahead is as suspicious as one far behind).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

SIGNATURE_HEADER = "X-WHOOP-Signature"
TIMESTAMP_HEADER = "X-WHOOP-Signature-Timestamp"
DEFAULT_TOLERANCE_S = 300
# Epoch milliseconds: 13 digits until the year 2286; anything much longer is junk.
_MAX_TIMESTAMP_DIGITS = 16


def sign(raw_body: bytes, timestamp: str, secret: str) -> str:
    """The signature WHOOP would send for this body and timestamp header."""
    mac = hmac.new(secret.encode(), timestamp.encode() + raw_body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def problem(
    raw_body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    secret: str,
    now: datetime,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> str | None:
    """Why this delivery is not authentic, or None when it is.

    The reason is for logs only; callers answer every failure the same way so a
    forger learns nothing about which check failed.
    """
    if not secret:
        return "webhook secret not configured"
    if not timestamp_header or not signature_header:
        return "missing signature header"
    if (
        not timestamp_header.isascii()
        or not timestamp_header.isdigit()
        or len(timestamp_header) > _MAX_TIMESTAMP_DIGITS
    ):
        return "malformed timestamp"
    sent_at_ms = int(timestamp_header)
    now_ms = int(now.astimezone(UTC).timestamp() * 1000)
    if abs(now_ms - sent_at_ms) > tolerance_s * 1000:
        return "timestamp outside the replay window"
    expected = sign(raw_body, timestamp_header, secret).encode("ascii")
    # compare_digest on bytes: constant time whatever the header contains.
    if not hmac.compare_digest(expected, signature_header.encode("utf-8", "replace")):
        return "signature mismatch"
    return None


def verify(
    raw_body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    secret: str,
    now: datetime,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    return (
        problem(raw_body, timestamp_header, signature_header, secret, now, tolerance_s=tolerance_s)
        is None
    )
