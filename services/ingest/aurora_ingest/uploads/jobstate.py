"""What one run of the upload job carries between its steps.

Shared by the job (uploads/jobs.py) and the archive walk (uploads/zipwalk.py),
which receives the job's judge and record steps as parameters rather than
importing them, so the two modules never import each other.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aurora_ingest.fit.normalize import FitWorkout
    from aurora_ingest.providers.kit import ProviderKit


@dataclass(frozen=True)
class Snapshot:
    id: uuid.UUID
    user_id: uuid.UUID
    container: str
    filename: str
    stored_as: str | None
    # Positions that already have a result: the resume point.
    done: frozenset[int]
    # Bytes read by earlier runs (their results' sizes), against the archive's total.
    bytes_read: int
    files_total: int


@dataclass
class Outcome:
    result: str
    reason: str | None = None
    sha256: str | None = None
    workouts: list[FitWorkout] = field(default_factory=list)


class UploadStopped(Exception):  # noqa: N818 (control flow, not an error)
    """The upload was cancelled (or erased) while its files were being imported."""


class Judge(Protocol):
    async def __call__(self, kit: ProviderKit, user_id: uuid.UUID, data: bytes) -> Outcome: ...


class Record(Protocol):
    async def __call__(
        self,
        kit: ProviderKit,
        snap: Snapshot,
        *,
        position: int,
        name: str,
        size: int,
        progress_bytes: int,
        outcome: Outcome,
        data: bytes | None,
        files_total_delta: int = 0,
    ) -> None: ...
