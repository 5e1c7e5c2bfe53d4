"""Which revision a broken reference most likely meant: the candidates CL001 and CL002 offer."""

from __future__ import annotations

from dataclasses import dataclass

from chainlint.graph import RevisionGraph
from chainlint.read import RevisionFile


@dataclass(frozen=True, slots=True)
class Candidate:
    revision: str
    file: RevisionFile
    why: str


def find_candidates(
    graph: RevisionGraph, missing: str, referrer: str, *, labels: bool = False
) -> list[Candidate]:
    """Candidates for `missing`, named by revision `referrer`, from the most certain kind of match
    down: a file name stem or `Revision ID:` header equal to it, then a unique prefix (or
    `<id>_<slug>`), then a near miss. Never `referrer` itself or one of its descendants, which
    would make a cycle."""
    excluded = graph.descendants(referrer) | {referrer} if referrer in graph.revisions else set()
    excluded |= (
        set(graph.revisions[referrer].down_revisions) if referrer in graph.revisions else set()
    )

    def allowed(rev: str) -> bool:
        return rev not in excluded

    tiers: list[list[Candidate]] = [[], [], []]
    for rev, file in graph.revisions.items():
        if not allowed(rev):
            continue
        header = file.header_field("Revision ID")
        if file.path.stem == missing or file.path.stem.startswith(missing + "_"):
            # The file is named after the missing id (file_template "%(rev)s_%(slug)s").
            tiers[0].append(Candidate(rev, file, f"declared in {file.path.name}"))
        elif header is not None and header.value == missing:
            tiers[0].append(Candidate(rev, file, f"its `Revision ID:` header says '{missing}'"))
        elif (len(missing) >= 4 and rev.startswith(missing)) or missing.startswith(rev + "_"):
            tiers[1].append(Candidate(rev, file, "prefix"))
        elif _near_miss(missing, rev):
            tiers[2].append(Candidate(rev, file, "near miss"))
    if labels:
        for label, rev in graph.branch_labels.items():
            if rev not in excluded and _near_miss(missing, label):
                tiers[2].append(Candidate(label, graph.revisions[rev], "branch label"))
    for tier in tiers:
        if tier:
            return tier
    return []


def _near_miss(a: str, b: str) -> bool:
    """A typo: at most one edit for short ids, two for ids of 12 characters or more."""
    limit = 2 if min(len(a), len(b)) >= 12 else 1
    if len(a) < 3 or abs(len(a) - len(b)) > limit:
        return False
    return _distance(a, b, limit) <= limit


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
