"""The athlete's own decisions on top of the automatic sessions.

`same` sets always end in one session and `apart` pairs never share one; when the two
disagree, `apart` wins. Links are added strongest first (the athlete's merges, then
the automatic links) in an order fixed by the records, and a link that would put an
`apart` pair together is skipped, so the outcome depends only on the records and the
overrides, never on the order they were given in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from uuid import UUID

from aurora_dedup.resolution.provenance import View
from aurora_dedup.resolution.records import Overrides

RULE_MERGED: Final = "merged"


def apply_overrides(
    views: list[View], sessions: list[list[View]], overrides: Overrides
) -> list[list[View]]:
    by_id = {v.record.id: v for v in views}
    forbidden: dict[int, set[int]] = {}
    for pair in overrides.apart:
        present = sorted(_present(pair, by_id))
        for i, a in enumerate(present):
            for b in present[i + 1 :]:
                forbidden.setdefault(a, set()).add(b)
                forbidden.setdefault(b, set()).add(a)

    merges: list[tuple[int, int]] = []
    for same in overrides.same:
        present = sorted(_present(same, by_id))
        merges += [(present[0], other) for other in present[1:]]
    automatic: list[tuple[int, int]] = []
    for members in sessions:
        anchor = members[0]
        for view in members[1:]:
            partner = view.link_to if view.link_to is not None else anchor
            automatic.append((min(view.order, partner.order), max(view.order, partner.order)))

    groups = _ConstrainedUnion([v.order for v in views], forbidden)
    merged = {(a, b) for a, b in sorted(set(merges)) if groups.union(a, b)}
    for a, b in sorted(set(automatic)):
        groups.union(a, b)

    by_order = {v.order: v for v in views}
    for a, b in merged:
        for order in (a, b):
            by_order[order].link_rule = RULE_MERGED
    return [[by_order[i] for i in sorted(members)] for members in groups.components()]


def _present(ids: Iterable[UUID], by_id: dict[UUID, View]) -> set[int]:
    return {by_id[i].order for i in ids if i in by_id}


class _ConstrainedUnion:
    """Union-find whose unions refuse to join two records the athlete said are apart."""

    def __init__(self, items: list[int], forbidden: dict[int, set[int]]) -> None:
        self.parent = {i: i for i in items}
        self.members = {i: {i} for i in items}
        self.forbidden = {i: set(forbidden.get(i, ())) for i in items}

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if not self.forbidden[ra].isdisjoint(self.members[rb]):
            return False
        keep, gone = min(ra, rb), max(ra, rb)
        self.parent[gone] = keep
        self.members[keep] |= self.members.pop(gone)
        self.forbidden[keep] |= self.forbidden.pop(gone)
        return True

    def components(self) -> list[set[int]]:
        return [self.members[r] for r in sorted(self.members)]
