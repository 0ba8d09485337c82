"""The real FIT corpus through POST /uploads (runs only where ../shared/fixtures exists).

Every file in invalid/ and every non-activity file is a 422 with a reason; every
valid activity is imported with one workout per session; every quirk file gets
the answer the FIT package pins for it (the upload never disagrees with it).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from aurora_ingest.providers.kit import ProviderKit
from aurora_ingest.uploads.fitimport import FileRejectedError, sha256_of, workouts_in
from aurora_ingest.uploads.settings import UploadSettings

from .conftest import RunJobs, post_file

FIXTURES = Path(__file__).resolve().parents[5] / "shared" / "fixtures" / "fit"
pytestmark = [
    pytest.mark.conformance,
    pytest.mark.skipif(not FIXTURES.exists(), reason="FIT fixtures are not present"),
]
NOT_ACTIVITIES = {"MonitoringFile.fit": "monitoring_b", "WorkoutIndividualSteps.fit": "workout"}


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.fit")) if folder.exists() else []


@pytest.fixture
def roomy(upload_settings: UploadSettings) -> UploadSettings:
    upload_settings.upload_max_bytes = 64 * 1024 * 1024
    upload_settings.upload_sync_max_bytes = 64 * 1024 * 1024
    return upload_settings


@pytest.mark.parametrize("name", names(FIXTURES / "invalid"))
async def test_every_invalid_file_is_422_with_a_reason(
    uploads_client: httpx.AsyncClient, alice: dict[str, str], roomy: UploadSettings, name: str
) -> None:
    response = await post_file(uploads_client, alice, (FIXTURES / "invalid" / name).read_bytes())
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("not a valid FIT file: ")


@pytest.mark.parametrize("name", sorted(NOT_ACTIVITIES))
async def test_non_activity_files_are_422_saying_what_they_are(
    uploads_client: httpx.AsyncClient, alice: dict[str, str], roomy: UploadSettings, name: str
) -> None:
    response = await post_file(uploads_client, alice, (FIXTURES / name).read_bytes())
    assert response.status_code == 422
    assert response.json()["detail"] == f"this is a {NOT_ACTIVITIES[name]} file, not an activity"


@pytest.mark.parametrize(
    "name", [n for n in names(FIXTURES) if n not in NOT_ACTIVITIES and n != "big_activity.fit"]
)
async def test_valid_activities_are_imported_one_workout_per_session(
    uploads_client: httpx.AsyncClient,
    alice: dict[str, str],
    kit: ProviderKit,
    run_jobs: RunJobs,
    roomy: UploadSettings,
    name: str,
) -> None:
    data = (FIXTURES / name).read_bytes()
    expected = len(workouts_in(data, sha256_of(data)))
    response = await post_file(uploads_client, alice, data, filename=name)
    assert response.status_code == 202, response.text
    await run_jobs(kit)
    detail = (await uploads_client.get(f"/uploads/{response.json()['id']}", headers=alice)).json()
    assert detail["status"] == "done"
    assert detail["workouts"] == expected >= 1


@pytest.mark.parametrize("name", names(FIXTURES / "quirks"))
async def test_quirk_files_get_the_fit_packages_decision(
    uploads_client: httpx.AsyncClient, alice: dict[str, str], roomy: UploadSettings, name: str
) -> None:
    data = (FIXTURES / "quirks" / name).read_bytes()
    try:
        workouts_in(data, sha256_of(data))
    except FileRejectedError as exc:
        expected: tuple[int, str | None] = (422, exc.reason)
    else:
        expected = (202, None)
    response = await post_file(uploads_client, alice, data, filename=name)
    got = (response.status_code, response.json()["detail"] if response.status_code == 422 else None)
    assert got == expected
