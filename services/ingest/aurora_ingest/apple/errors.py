"""What can go wrong with an export, as problem documents the upload status can show."""

from __future__ import annotations

from aurora_shared.errors import ProblemError


class ExportError(ProblemError):
    """The file is not an export we can read safely; nothing of it was imported.

    The detail names the part that was wrong (an element, a line, a zip entry)
    and never echoes more than a short excerpt of the offending value.
    """

    def __init__(self, detail: str, *, status: int = 422) -> None:
        super().__init__(status, detail, title="Apple Health export rejected")


class ExportTooLargeError(ExportError):
    """More bytes than the configured caps: counted as decompressed, never as declared."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, status=413)


class ImportCancelled(Exception):  # noqa: N818 (an outcome, not an error)
    """The user cancelled: raised at the next checkpoint, and the transaction rolls back."""


def excerpt(value: str, limit: int = 40) -> str:
    """A short, printable quotation of a bad value (a 50 MB attribute is never echoed)."""
    shown = value[:limit].encode("unicode_escape").decode("ascii")
    return repr(shown + ("..." if len(value) > limit else ""))
