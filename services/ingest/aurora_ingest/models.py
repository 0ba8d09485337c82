"""Imports every ORM module so alembic and the metadata see all tables."""

from aurora_ingest.accounts.models import ACCOUNTS
from aurora_ingest.apple.models import APPLE_SAMPLES, AppleImport
from aurora_ingest.connections.models import Connection
from aurora_ingest.db import BUS, Base
from aurora_ingest.jobs.models import ProviderJob
from aurora_ingest.raw.models import RawPayload
from aurora_ingest.records.models import Record
from aurora_ingest.uploads.models import Upload, UploadFile

__all__ = [
    "ACCOUNTS",
    "APPLE_SAMPLES",
    "BUS",
    "AppleImport",
    "Base",
    "Connection",
    "ProviderJob",
    "RawPayload",
    "Record",
    "Upload",
    "UploadFile",
]
