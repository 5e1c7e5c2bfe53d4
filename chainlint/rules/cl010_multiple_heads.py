from __future__ import annotations

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
    are the same (both unlabelled included).

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
    does, rendering the environment's `script.py.mako`. `chainlint fix --heads rebase` re-parents
    the younger branch onto the other head instead, keeping history linear.
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


def head_groups(graph: RevisionGraph) -> list[list[str]]:
    """Heads that share a branch, oldest first."""
    orphans = set(orphan_bases(graph))
    broken = {ref.revision for ref in graph.dangling if ref.field == "down_revision"}
    clashing = {conflict.label for conflict in graph.label_conflicts}
    groups: dict[frozenset[str], list[str]] = {}
    for head in graph.heads:
        bases = graph.reaching_bases(head)
        if bases and bases <= orphans:
            continue  # CL011 reports the root cause
        if broken and not bases and (graph.ancestors(head) | {head}) & broken:
            continue  # a chain cut by an unknown down_revision: CL001 is the root cause
        labels = graph.nearest_labels(head)
        if labels & clashing:
            continue  # CL012 is the root cause: the branch is ambiguous
        groups.setdefault(labels, []).append(head)
    return [
        sorted(heads, key=lambda h: age(graph, h)) for heads in groups.values() if len(heads) > 1
    ]


def age(graph: RevisionGraph, rev: str) -> tuple[str, float, int]:
    """Oldest first: by `Create Date:` header, then file modification time, then load order."""
    try:
        mtime = graph.revisions[rev].path.stat().st_mtime
    except OSError:
        mtime = 0.0
    return create_date(graph, rev), mtime, list(graph.revisions).index(rev)
