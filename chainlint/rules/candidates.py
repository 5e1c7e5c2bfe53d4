"""Which revision a broken reference most likely meant: the candidates CL001 and CL002 offer.

The search is bounded: exact and prefix matches are dictionary and bisect lookups, and the
near-miss (typo) comparisons of one graph share a fixed budget, so a `down_revision` tuple of
thousands of unknown ids costs time linear in its length, not quadratic.
"""

from __future__ import annotations

import bisect
import weakref

from chainlint.graph import RevisionGraph
from chainlint.read import RevisionFile
from chainlint.records import record

# Edit-distance comparisons one graph may spend on near misses; real graphs use a few hundred.
NEAR_MISS_BUDGET = 100_000


@record
class Candidate:
    revision: str
    file: RevisionFile
    why: str


class CandidateIndex:
    """Lookups over one graph's revisions, built once and shared by every broken reference."""

    def __init__(self, graph: RevisionGraph) -> None:
        self.graph = graph
        self.order = {rev: index for index, rev in enumerate(graph.revisions)}
        # File name stem, and each `<stem up to an underscore>` prefix, -> revisions.
        self.by_stem: dict[str, list[str]] = {}
        self.by_stem_prefix: dict[str, list[str]] = {}
        self.by_header: dict[str, list[str]] = {}
        self.by_length: dict[int, list[str]] = {}
        for rev, file in graph.revisions.items():
            stem = file.path.stem
            self.by_stem.setdefault(stem, []).append(rev)
            for position, char in enumerate(stem):
                if char == "_":
                    self.by_stem_prefix.setdefault(stem[:position], []).append(rev)
            header = file.header_field("Revision ID")
            if header is not None:
                self.by_header.setdefault(header.value, []).append(rev)
            self.by_length.setdefault(len(rev), []).append(rev)
        self.sorted_ids = sorted(graph.revisions)
        self.budget = NEAR_MISS_BUDGET
        # How many edit-distance comparisons were made (tests check the bound).
        self.comparisons = 0
        self._excluded: dict[str, frozenset[str]] = {}

    def excluded(self, referrer: str) -> frozenset[str]:
        """`referrer`, its descendants (a cycle) and the parents it already names."""
        if referrer not in self._excluded:
            graph = self.graph
            if referrer in graph.revisions:
                found = graph.descendants(referrer) | {referrer}
                found |= set(graph.revisions[referrer].down_revisions)
            else:
                found = set()
            self._excluded[referrer] = frozenset(found)
        return self._excluded[referrer]

    def near_misses(self, missing: str) -> list[str] | None:
        """Revisions one typo away from `missing`, in load order; None when the graph's
        budget is spent."""
        if len(missing) < 3:
            return []
        found = []
        for length in range(len(missing) - 2, len(missing) + 3):
            for rev in self.by_length.get(length, ()):
                if self.budget <= 0:
                    return None
                self.budget -= 1
                self.comparisons += 1
                if _near_miss(missing, rev):
                    found.append(rev)
        return sorted(found, key=self.order.__getitem__)


_INDEXES: weakref.WeakKeyDictionary[RevisionGraph, CandidateIndex] = weakref.WeakKeyDictionary()


def candidate_index(graph: RevisionGraph) -> CandidateIndex:
    if graph not in _INDEXES:
        _INDEXES[graph] = CandidateIndex(graph)
    return _INDEXES[graph]


def find_candidates(
    graph: RevisionGraph, missing: str, referrer: str, *, labels: bool = False
) -> list[Candidate] | None:
    """Candidates for `missing`, named by revision `referrer`, from the most certain kind of match
    down: a file name stem or `Revision ID:` header equal to it, then a unique prefix (or
    `<id>_<slug>`), then a near miss. Never `referrer` itself or one of its descendants, which
    would make a cycle. None when the near-miss search was skipped (budget spent) and nothing
    more certain matched."""
    index = candidate_index(graph)
    excluded = index.excluded(referrer)

    def collect(revs: list[str], why: str, seen: set[str]) -> list[Candidate]:
        picked = []
        for rev in sorted(set(revs) - excluded - seen, key=index.order.__getitem__):
            seen.add(rev)
            picked.append(Candidate(rev, graph.revisions[rev], why))
        return picked

    exact: list[Candidate] = []
    seen: set[str] = set()
    stem_named = index.by_stem.get(missing, []) + index.by_stem_prefix.get(missing, [])
    for rev in sorted(set(stem_named) - excluded, key=index.order.__getitem__):
        seen.add(rev)
        exact.append(
            Candidate(rev, graph.revisions[rev], f"declared in {graph.revisions[rev].path.name}")
        )
    exact += collect(
        index.by_header.get(missing, []), f"its `Revision ID:` header says '{missing}'", seen
    )
    if exact:
        return sorted(exact, key=lambda c: index.order[c.revision])

    prefixed: list[str] = []
    if len(missing) >= 4:
        start = bisect.bisect_left(index.sorted_ids, missing)
        for rev in index.sorted_ids[start:]:
            if not rev.startswith(missing):
                break
            prefixed.append(rev)
    for position, char in enumerate(missing):
        if char == "_" and missing[:position] in graph.revisions:
            prefixed.append(missing[:position])
    prefix = collect(prefixed, "prefix", seen)
    if prefix:
        return prefix

    near = index.near_misses(missing)
    if near is None:
        return None
    tier = collect(near, "near miss", seen)
    if labels:
        for label, rev in graph.branch_labels.items():
            if index.budget <= 0:
                return tier or None
            index.budget -= 1
            index.comparisons += 1
            if rev not in excluded and _near_miss(missing, label):
                tier.append(Candidate(label, graph.revisions[rev], "branch label"))
    return tier


def _near_miss(a: str, b: str) -> bool:
    """A typo: at most one edit for short ids, two for ids of 12 characters or more."""
    limit = 2 if min(len(a), len(b)) >= 12 else 1
    if len(a) < 3 or abs(len(a) - len(b)) > limit:
        return False
    # Edits happen between the common prefix and suffix; only that part needs the table.
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end = 0
    while end < len(a) - start and end < len(b) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    return _distance(a[start : len(a) - end], b[start : len(b) - end], limit) <= limit


def _distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (adjacent transpositions count as one edit)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]
