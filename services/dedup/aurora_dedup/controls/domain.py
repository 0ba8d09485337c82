"""Pure rules of the athlete's controls: effective priority orders and manual links.

No I/O, so the rules are tested exhaustively. Links are decisions about pairs of
records: a "same" link over n records says every pair of them is one session, an
"apart" link that every pair is not (or, anchored on one record taken out of its
session, that each pair of it with another is not), and for each pair the latest
decision wins.
What reaches the resolution core is the pairs' current verdicts, restricted to
the records being resolved.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal, get_args

from aurora_dedup.resolution.health import DEFAULT_HEALTH_PRIORITY
from aurora_dedup.resolution.priority import DEFAULT_WORKOUT_PRIORITY
from aurora_dedup.resolution.rules import Overrides

Domain = Literal["workouts", "sleep", "recovery"]
DOMAINS: Final[tuple[Domain, ...]] = get_args(Domain)
Relation = Literal["same", "apart"]
RELATIONS: Final[tuple[Relation, ...]] = get_args(Relation)

DEFAULT_PRIORITIES: Final[Mapping[Domain, Mapping[str, int]]] = MappingProxyType(
    {
        "workouts": DEFAULT_WORKOUT_PRIORITY,
        "sleep": DEFAULT_HEALTH_PRIORITY,
        "recovery": DEFAULT_HEALTH_PRIORITY,
    }
)
MAX_PRIORITY: Final = 1000
# A link expands into n(n-1)/2 pair decisions; a session never has more records.
MAX_LINK_RECORDS: Final = 50

Pair = frozenset[uuid.UUID]


def effective_priorities(domain: Domain, chosen: Mapping[str, int] | None) -> dict[str, int]:
    """The defaults of the domain with the athlete's choices on top."""
    return {**DEFAULT_PRIORITIES[domain], **(chosen or {})}


@dataclass(frozen=True, slots=True)
class LinkDecision:
    seq: int  # the user's decision order: a larger seq is a later decision
    relation: Relation
    record_ids: tuple[uuid.UUID, ...]
    # An "apart" link that took one record out of its session decides only its pairs.
    anchor: uuid.UUID | None = None

    def pairs(self) -> list[Pair]:
        if self.anchor is None:
            return pairs_of(self.record_ids)
        return [frozenset((self.anchor, r)) for r in sorted(self.record_ids) if r != self.anchor]


@dataclass(frozen=True, slots=True)
class WorkoutControls:
    """Everything of the athlete's that a workout resolution needs."""

    priorities: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_WORKOUT_PRIORITY))
    links: tuple[LinkDecision, ...] = ()
    verdicts: Mapping[Pair, Relation] = field(default_factory=dict)

    @classmethod
    def of(cls, chosen: Mapping[str, int] | None, links: Iterable[LinkDecision]) -> WorkoutControls:
        ordered = tuple(sorted(links, key=lambda link: link.seq))
        return cls(effective_priorities("workouts", chosen), ordered, pair_verdicts(ordered))

    def overrides(self, records: Collection[uuid.UUID]) -> Overrides:
        return overrides_for(self.verdicts, records)

    def same_partners(self) -> dict[uuid.UUID, set[uuid.UUID]]:
        return same_partners(self.verdicts)


def as_relation(value: str) -> Relation:
    for relation in RELATIONS:
        if value == relation:
            return relation
    raise ValueError(f"unknown link relation {value!r}")


def pairs_of(record_ids: Iterable[uuid.UUID]) -> list[Pair]:
    return [frozenset(p) for p in itertools.combinations(sorted(set(record_ids)), 2)]


def pair_verdicts(links: Iterable[LinkDecision]) -> dict[Pair, Relation]:
    """For every pair some link names, the relation of the latest such link."""
    verdicts: dict[Pair, Relation] = {}
    for link in sorted(links, key=lambda link: link.seq):
        for pair in link.pairs():
            verdicts[pair] = link.relation
    return verdicts


def links_in_effect(links: Iterable[LinkDecision]) -> set[int]:
    """The seqs of links that still decide at least one pair (the rest are superseded)."""
    deciding: dict[Pair, int] = {}
    for link in sorted(links, key=lambda link: link.seq):
        for pair in link.pairs():
            deciding[pair] = link.seq
    return set(deciding.values())


def overrides_for(verdicts: Mapping[Pair, Relation], records: Collection[uuid.UUID]) -> Overrides:
    """The verdicts about pairs that are both among `records`, as the core takes them.

    A removed record is not among the records resolved, so its pairs drop out;
    when it comes back, its links apply again.
    """
    present = set(records)
    same: set[Pair] = set()
    apart: set[Pair] = set()
    for pair, relation in verdicts.items():
        if pair <= present:
            (same if relation == "same" else apart).add(pair)
    return Overrides(same=frozenset(same), apart=frozenset(apart))


def same_partners(verdicts: Mapping[Pair, Relation]) -> dict[uuid.UUID, set[uuid.UUID]]:
    """Records the athlete merged with each record: a resolution of one needs the others."""
    partners: dict[uuid.UUID, set[uuid.UUID]] = {}
    for pair, relation in verdicts.items():
        if relation != "same":
            continue
        a, b = tuple(pair)
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    return partners
