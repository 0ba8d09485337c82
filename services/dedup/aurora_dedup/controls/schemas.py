"""What the controls API takes and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

from aurora_dedup.controls.domain import MAX_LINK_RECORDS, MAX_PRIORITY, Domain, Relation
from aurora_dedup.resolution.priority import Source

Priority = Annotated[int, Field(strict=True, ge=0, le=MAX_PRIORITY)]


class PrioritiesIn(RootModel[dict[Source, Priority]]):
    """{source: priority} for some or all of the eight sources; the rest keep their default."""

    @field_validator("root")
    @classmethod
    def _not_empty(cls, value: dict[Source, int]) -> dict[Source, int]:
        if not value:
            raise ValueError("name at least one source; DELETE restores the defaults")
        return value


class DomainPriorities(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: Domain
    # Every source's effective priority: the athlete's choice, else the default.
    priorities: dict[str, int]
    # The sources the athlete set; empty when the domain uses the defaults.
    customized: dict[str, int]


class PrioritiesOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Always the three domains (workouts, sleep, recovery): a fixed set, not a page.
    domains: list[DomainPriorities]


class PrioritiesChanged(DomainPriorities):
    # Canonical workouts announced anew (or withdrawn) because of this change.
    workouts_changed: int


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    relation: Relation
    record_ids: list[uuid.UUID] = Field(min_length=2, max_length=MAX_LINK_RECORDS)

    @field_validator("record_ids")
    @classmethod
    def _distinct(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(value)) != len(value):
            raise ValueError("record ids must be distinct")
        return value


class LinkOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    relation: Relation
    record_ids: list[uuid.UUID]
    # Set on a link that took this record out of its session: it is apart from each
    # of the others, which the link says nothing about among themselves.
    anchor_id: uuid.UUID | None
    created_at: datetime
    # False once later links decided every pair this one names.
    in_effect: bool


class LinkPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Newest decision first, at most `limit` of them.
    items: list[LinkOut]
    # More decisions exist than the page shows.
    more: bool
