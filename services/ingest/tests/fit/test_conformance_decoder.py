"""Differential conformance against fitdecode over the real corpus (when present).

Valid files and quirks: same message count, names, values and chain count as
fitdecode (default error handling, CRC checked). Invalid files: each gives a
FitDecodeError with the pinned reason. Quirk decisions, pinned here:
  * coros-pace-2 misaligned fields: ACCEPTED leniently, exactly like fitdecode's
    default: a field whose size is not a multiple of its type reads as bytes. The
    file is CRC-valid and the ride is real; refusing it would refuse a popular watch.
  * elemnt-bolt developer_data_id without application_id: accepted; the id is optional.
  * activity_truncated: structurally valid (CRC OK) and decoded as is; that it has
    records but no session is the normaliser's decision, not the decoder's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aurora_ingest.fit.decoder import decode
from aurora_ingest.fit.messages import FitDecodeError

from .encoder import reference_decode

FIXTURES = Path(__file__).resolve().parents[5] / "shared" / "fixtures" / "fit"
pytestmark = [
    pytest.mark.conformance,
    pytest.mark.skipif(not FIXTURES.exists(), reason="the FIT corpus is not on this machine"),
]

VALID = sorted(p.name for p in FIXTURES.glob("*.fit")) if FIXTURES.exists() else []
QUIRKS = sorted(p.name for p in (FIXTURES / "quirks").glob("*.fit")) if FIXTURES.exists() else []

INVALID = {
    "activity-unexpected-eof.fit": (r"truncated file: .* 757 data bytes .* only 756 bytes", 751),
    "activity-filecrc.fit": (
        r"file CRC mismatch \(stored 0xb1d5, computed 0xa1d5\) at byte 769$",
        769,
    ),
    "activity-activity-filecrc.fit": (r"file CRC mismatch", 1540),
    "activity-settings-corruptheader.fit": (r"not a FIT file: no '\.FIT' signature", 771),
    "activity-settings-nodata.fit": (r"truncated file: .* 68 data bytes .* only 3 bytes", 783),
    "nick.fit": (r"file CRC mismatch .*runs past the end of the data section", 403437),
    "strava-android-app-201.10-b1218918.fit": (
        r"truncated file: .*; data record uses local message 11, which no definition declared",
        7471,
    ),
}


@pytest.mark.parametrize("name", VALID + [f"quirks/{q}" for q in QUIRKS])
def test_values_equal_fitdecode(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    expected = reference_decode(data)
    got = decode(data)
    assert got.chained == expected.chained
    assert len(got.messages) == len(expected.messages)
    for index, (mine, theirs) in enumerate(zip(got.messages, expected.messages, strict=True)):
        assert mine == theirs, f"message {index} ({theirs.name}) differs"


def test_every_invalid_file_is_pinned() -> None:
    assert sorted(p.name for p in (FIXTURES / "invalid").glob("*.fit")) == sorted(INVALID)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_files_are_refused_with_a_precise_reason(name: str) -> None:
    pattern, offset = INVALID[name]
    with pytest.raises(FitDecodeError, match=pattern) as err:
        decode((FIXTURES / "invalid" / name).read_bytes())
    assert err.value.offset == offset


def test_coros_misaligned_fields_read_as_bytes() -> None:
    fit = decode((FIXTURES / "quirks" / "coros-pace-2-cycling-misaligned-fields.fit").read_bytes())
    sessions = [m for m in fit.messages if m.name == "session"]
    assert [s.fields["sport"] for s in sessions] == ["cycling"]
    assert sum(1 for m in fit.messages if m.name == "record") == 11272


def test_chained_and_compressed_timestamp_files() -> None:
    assert decode((FIXTURES / "garmin-fr935-cr.fit").read_bytes()).chained == 7
    fit = decode((FIXTURES / "compressed-speed-distance.fit").read_bytes())
    records = [m.fields for m in fit.messages if m.name == "record"]
    assert len(records) == 755
    assert all(isinstance(r["timestamp"], int) for r in records)  # device-relative, < 0x10000000
    assert records[-1]["distance"] > records[1]["distance"]
