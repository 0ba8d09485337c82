"""One FIT file's bytes to workouts, or the precise reason it is refused.

The single seam between uploads and the FIT package: the request (for a single
file) and the job (for every file) both judge a file here, so they can never
disagree about what is acceptable. CPU-bound: callers run it in a thread.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from aurora_ingest.fit.normalize import FitWorkout

# Records keep the carrier as their source: FIT is Garmin's format and the bulk
# export is Garmin Connect's; the recording device (origin_device, from the
# file's device info) is what decides priority in dedup.
SOURCE: Final = "garmin"
RAW_PROVIDER: Final = "upload"
RAW_KIND: Final = "fit"
FIT_MAGIC: Final = b".FIT"


class FileRejectedError(ValueError):
    """The file is not an importable activity; `reason` is shown to the user as is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def workouts_in(data: bytes, sha256: str) -> list[FitWorkout]:
    """Decode strictly and normalise; FitDecodeError and NotAnActivityError become
    FileRejectedError with their reason."""
    from aurora_ingest.fit.decoder import decode
    from aurora_ingest.fit.messages import FitDecodeError
    from aurora_ingest.fit.normalize import NotAnActivityError, workouts_of

    if not data:
        raise FileRejectedError("the file is empty")
    try:
        fit = decode(data)
    except FitDecodeError as exc:
        raise FileRejectedError(f"not a valid FIT file: {exc}") from None
    try:
        workouts = workouts_of(fit, sha256=sha256)
    except NotAnActivityError as exc:
        raise FileRejectedError(f"this is a {exc.file_type} file, not an activity") from None
    if not workouts:
        raise FileRejectedError("the activity holds no session and no record")
    return workouts
