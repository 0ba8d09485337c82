"""Route files (`workout-routes/*.gpx` in the zip): GPX 1.1 track points, read as safely
as export.xml itself (they come from the same untrusted upload)."""

from __future__ import annotations

from aurora_ingest.apple.dates import parse_iso
from aurora_ingest.apple.errors import ExportError
from aurora_ingest.apple.mapping import RoutePoint
from aurora_ingest.apple.parser import HardenedExpat, Limits

MAX_POINTS = 200_000


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def parse_gpx(
    data: bytes, *, name: str = "route.gpx", limits: Limits | None = None
) -> list[RoutePoint]:
    points: list[RoutePoint] = []
    current: dict[str, str] = {}
    field: list[str] = []  # the element whose text is being collected ("time", "ele")
    text: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        local = _local(tag)
        if local == "trkpt":
            current.clear()
            current["lat"], current["lon"] = attrs.get("lat", ""), attrs.get("lon", "")
        elif local in ("time", "ele") and "lat" in current:
            field[:] = [local]
            text.clear()

    def end(tag: str) -> None:
        local = _local(tag)
        if field and local == field[0]:
            current[local] = "".join(text)
            field.clear()
        elif local == "trkpt" and "lat" in current:
            if len(points) >= MAX_POINTS:
                raise ExportError(f"{name} has more than {MAX_POINTS} track points")
            try:
                lat, lon = float(current["lat"]), float(current["lon"])
                ele = float(current["ele"]) if current.get("ele") else None
            except ValueError:
                raise ExportError(f"{name} has a track point with a non-numeric value") from None
            if "time" in current:
                points.append(RoutePoint(parse_iso(current["time"], f"{name} time"), lat, lon, ele))
            current.clear()

    def chars(data: str) -> None:
        if field:
            text.append(data)

    parser = HardenedExpat(start, end, chars, limits=limits, what=name)
    size = parser.limits.chunk_bytes
    for offset in range(0, len(data), size):
        parser.feed(data[offset : offset + size])
    parser.feed(b"", final=True)
    return points
