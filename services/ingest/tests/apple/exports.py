# ruff: noqa: E501  (inline XML test data reads best on one line)
"""Small Apple Health exports built by the tests themselves (never the shared fixtures)."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import quoteattr

HK = "HKQuantityTypeIdentifier"
WATCH = "Jane\u2019s Apple\u00a0Watch"
WATCH_DEVICE = (
    "<<HKDevice: 0x28a1>, name:Apple Watch, manufacturer:Apple Inc., model:Watch, "
    "hardware:Watch6,1, software:10.2>"
)
DTD = """<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 14 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>
<!ATTLIST HealthData locale CDATA #REQUIRED>
<!ELEMENT ExportDate EMPTY>
<!ATTLIST ExportDate value CDATA #REQUIRED>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record type CDATA #REQUIRED unit CDATA #IMPLIED value CDATA #IMPLIED
  sourceName CDATA #REQUIRED device CDATA #IMPLIED startDate CDATA #REQUIRED endDate CDATA #REQUIRED>
<!ELEMENT MetadataEntry EMPTY>
<!ATTLIST MetadataEntry key CDATA #REQUIRED value CDATA #REQUIRED>
]>
"""


def attrs(**values: object) -> str:
    return "".join(f" {k}={quoteattr(str(v))}" for k, v in values.items() if v is not None)


def record(
    rtype: str,
    source: str,
    start: str,
    end: str | None = None,
    value: object = None,
    unit: str | None = None,
    device: str | None = None,
    children: str = "",
) -> str:
    head = "<Record" + attrs(
        type=rtype,
        sourceName=source,
        device=device,
        unit=unit,
        startDate=start,
        endDate=end or start,
        value=value,
    )
    return f"{head}>{children}</Record>\n" if children else head + "/>\n"


def hr(source: str, at: str, bpm: int) -> str:
    meta = '<MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="2"/>'
    return record(HK + "HeartRate", source, at, value=bpm, unit="count/min", children=meta)


def sleep(source: str, start: str, end: str, stage: str) -> str:
    return record(
        "HKCategoryTypeIdentifierSleepAnalysis",
        source,
        start,
        end,
        value=f"HKCategoryValueSleepAnalysis{stage}",
    )


def workout(
    activity: str,
    source: str,
    start: str,
    end: str,
    *,
    children: str = "",
    device: str | None = None,
    **extra: object,
) -> str:
    return (
        "<Workout"
        + attrs(
            workoutActivityType=f"HKWorkoutActivityType{activity}",
            sourceName=source,
            device=device,
            startDate=start,
            endDate=end,
            **extra,
        )
        + f">{children}</Workout>\n"
    )


def document(*items: str, dtd: str = DTD, root: str = "HealthData") -> bytes:
    body = "".join(items)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{dtd}<{root} locale="en_US">\n'
        f' <ExportDate value="2024-07-01 09:41:07 -0700"/>\n{body}</{root}>\n'
    ).encode()


def gpx(points: list[tuple[str, float, float, float]]) -> bytes:
    pts = "".join(
        f'<trkpt lat="{lat}" lon="{lon}"><ele>{ele}</ele><time>{t}</time></trkpt>'
        for t, lat, lon, ele in points
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1" creator="Apple Health Export" '
        f'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>{pts}</trkseg></trk></gpx>'
    ).encode()


def zipped(
    xml: bytes,
    *,
    routes: dict[str, bytes] | None = None,
    junk: bool = True,
    name: str = "apple_health_export/export.xml",
) -> bytes:
    """export.zip as the iPhone makes it (plus the junk a Mac adds when re-zipping)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, xml)
        for route, data in (routes or {}).items():
            archive.writestr(f"apple_health_export/workout-routes/{route}", data)
        if junk:
            archive.writestr("__MACOSX/apple_health_export/._export.xml", b"\x00\x05\x16\x07junk")
            archive.writestr("apple_health_export/.DS_Store", b"\x00\x00\x00\x01Bud1")
    return buffer.getvalue()
