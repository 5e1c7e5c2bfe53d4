from __future__ import annotations

import weakref
from collections.abc import Iterator

from chainlint.findings import Finding, Fix
from chainlint.graph import RevisionGraph
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration
from chainlint.rules.cl011_orphan_base import orphan_bases
from chainlint.rules.common import has_unresolved, quoted


class MultipleHeads(Rule):
    """
    ## What it does
    Reports two or more heads on the same branch: heads whose nearest declared `branch_labels`
    are the same (both unlabelled included). Nearest is by ancestry, not distance: a label on an
    ancestor of another labelled revision is not the nearest.

    ## Why is this bad?
    Two pull requests that each add a migration on top of the same head are green on their own
    and leave two heads once both merge. Only `alembic upgrade head` fails ("Multiple head
    revisions are present for given argument 'head'"); `alembic heads` exits 0, so the problem
    surfaces at deploy time. Labelled branches that fork from a common base on purpose —
    OpenStack's `expand`/`contract` — are separate branches, not a fork.

    ## Example
    ```python
    # versions/b.py             # versions/c.py
    revision = "b"              revision = "c"
    down_revision = "a"         down_revision = "a"
    ```

    ## Fix
    `chainlint fix --heads merge` (the default) writes a merge revision the way `alembic merge`
    does, from the environment's `script.py.mako` (rendered without running any code from it;
    a template beyond what Alembic's own templates use falls back to the built-in one).
    `chainlint fix --heads rebase` re-parents the younger branch onto the other head instead,
    keeping history linear. A head that a broken `down_revision` (CL001) or an unreadable file
    (CL009) may have caused is not reported here and never merged: fix that first.
    """

    code = "CL010"
    name = "multiple-heads"
    severity = "error"
    fixable = True

    valid = (
        Example(
            {
                "base.py": migration("base", None),
                "e1.py": migration("e1", "base", branch_labels=("expand",)),
                "e2.py": migration("e2", "e1"),
                "c1.py": migration("c1", "base", branch_labels=("contract",)),
            },
            description="OpenStack-style expand/contract branches from a common base",
        ),
        Example(
            {
                "a.py": migration("a", None),
                "b.py": migration("b", "a"),
                "c.py": migration("c", "a"),
                "m.py": migration("m", ("b", "c")),
            },
            description="a fork closed by a merge revision",
        ),
    )
    invalid = (
        Example(
            {
                "a.py": migration("a", None),
                "b.py": migration("b", "a"),
                "c.py": migration("c", "a"),
            },
            (Expected("versions/c.py", 12, "2 heads on one branch: 'b' (versions/b.py) and 'c'"),),
        ),
        Example(
            {
                "base.py": migration("base", None, branch_labels=("expand",)),
                "c1.py": migration("c1", "base", branch_labels=("contract",)),
                "c2.py": migration("c2", "c1"),
                "m.py": migration("m", ("base", "c1")),
            },
            (Expected("versions/m.py", 12, "2 heads on one branch: 'c2' (versions/c2.py)"),),
            description="a merge that also lists an ancestor of its other parent is still on the "
            "nearest labelled branch ('contract'), as in Alembic",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        graph = ctx.graph
        # An unresolved down_revision or label could join or split these heads.
        if any(has_unresolved(graph, f) for f in ("revision", "down_revision", "branch_labels")):
            return
        for group in head_groups(graph):
            youngest = group[-1]
            file = graph.revisions[youngest]
            listed = " and ".join(f"'{h}' ({ctx.display(graph.revisions[h].path)})" for h in group)
            message = (
                f"{len(group)} heads on one branch: {listed}; `alembic upgrade head` fails with "
                f"\"Multiple head revisions are present for given argument 'head'\" while "
                f"`alembic heads` exits 0"
            )
            fix = Fix(
                f"write a merge revision of {quoted(group)} (--heads merge), or re-parent "
                f"'{youngest}' onto '{group[0]}' (--heads rebase)"
            )
            anchor = file.revision
            line, column = (anchor.line, anchor.column) if anchor else (1, 1)
            yield self.finding(ctx, file.path, line, column, message, youngest, fix)


def create_date(graph: RevisionGraph, rev: str) -> str:
    """The `Create Date:` header; a file without one sorts as the newest (it was hand-made)."""
    header = graph.revisions[rev].header_field("Create Date")
    return header.value if header and header.value else "~"


# Each graph's head groups, made once: CL010 and the result cache's save both ask (10k
# revisions: ~40 ms each, mostly the ancestry walks of broken_reference_heads).
_HEAD_GROUPS: weakref.WeakKeyDictionary[RevisionGraph, list[list[str]]] = (
    weakref.WeakKeyDictionary()
)


def head_groups(graph: RevisionGraph) -> list[list[str]]:
    """Heads that share a branch, oldest first. Heads a broken reference may have caused are
    left out: they are the CL001/CL002/CL009's to explain, and merging them is never right."""
    groups = _HEAD_GROUPS.get(graph)
    if groups is None:
        groups = _HEAD_GROUPS[graph] = _head_groups(graph)
    return [list(group) for group in groups]


def _head_groups(graph: RevisionGraph) -> list[list[str]]:
    suspects = broken_reference_heads(graph)
    if suspects is None:
        return []
    orphans = set(orphan_bases(graph))
    clashing = {conflict.label for conflict in graph.label_conflicts}
    groups: dict[frozenset[str], list[str]] = {}
    for head in graph.heads:
        # Only beside an orphan base is the walk needed (it builds the DAG: ~85 ms at 10k).
        if orphans and (bases := graph.reaching_bases(head)) and bases <= orphans:
            continue  # CL011 reports the root cause
        if head in suspects:
            continue  # CL001 (or CL009) is the root cause
        labels = graph.nearest_labels(head)
        if labels & clashing:
            continue  # CL012 is the root cause: the branch is ambiguous
        groups.setdefault(labels, []).append(head)
    return [
        sorted(heads, key=lambda h: age(graph, h)) for heads in groups.values() if len(heads) > 1
    ]


def broken_reference_heads(graph: RevisionGraph) -> set[str] | None:
    """The heads a broken reference may have caused: every head whose own history holds a
    `down_revision` that names nothing (the chain is cut there), and every revision that
    broken reference most likely meant (it is a head only because nothing names it). None when
    that cannot be known: a broken reference without a candidate, or an unreadable file whose
    id is unknown, could have cut the graph anywhere."""
    from chainlint.rules.candidates import find_candidates

    if any(f.problem is not None and f.revision_id not in graph.revisions for f in graph.files):
        return None
    broken = [ref for ref in graph.dangling if ref.field == "down_revision"]
    # An unreadable file's links come from a tolerant scan: never merge a branch through it.
    unreadable = {f.revision_id for f in graph.files if f.problem is not None} - {None}
    if not broken and not unreadable:
        return set()
    suspects: set[str] = set()
    cut = {ref.revision for ref in broken} | {rev for rev in unreadable if rev is not None}
    for ref in broken:
        assert ref.identifier.value is not None
        candidates = find_candidates(graph, ref.identifier.value, ref.revision)
        if not candidates:
            return None
        suspects |= {c.revision for c in candidates}
    for head in graph.heads:
        if (graph.ancestors(head) | {head}) & cut:
            suspects.add(head)
    return suspects


def age(graph: RevisionGraph, rev: str) -> tuple[str, float, int]:
    """Oldest first: by `Create Date:` header, then file modification time, then load order."""
    try:
        mtime = graph.revisions[rev].path.stat().st_mtime
    except OSError:
        mtime = 0.0
    return create_date(graph, rev), mtime, list(graph.revisions).index(rev)


def mtime_ordered_heads(graph: RevisionGraph) -> list[str]:
    """The heads `age` orders by file mtime: those of one CL010 group that share their
    `Create Date:` with another head of it (the result cache keeps their files' mtimes)."""
    if len(graph.heads) < 2:
        return []
    found = []
    for group in head_groups(graph):
        dates = [create_date(graph, head) for head in group]
        found += [head for head, date in zip(group, dates, strict=True) if dates.count(date) > 1]
    return found
