from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.graph import RevisionGraph
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration


class RevisionCycle(Rule):
    """
    ## What it does
    Reports `down_revision`/`depends_on` links that form a cycle, a revision naming itself
    included.

    ## Why is this bad?
    A history must run from its bases to its heads. Alembic refuses a cycle when it builds the
    revision map (`CycleDetected`, `LoopDetected`), so every command fails.

    ## Example
    ```python
    # a.py                      # b.py
    revision = "a"              revision = "b"
    down_revision = "b"         down_revision = "a"
    ```

    ## Fix
    None automatic: decide which revision really comes first and point the other one at it.
    """

    code = "CL004"
    name = "revision-cycle"
    severity = "error"

    valid = (
        Example(
            {
                "a.py": migration("a", None),
                "b.py": migration("b", "a"),
                "c.py": migration("c", "a", depends_on="b"),
            }
        ),
    )
    invalid = (
        Example(
            {
                "base.py": migration("base", None),
                "a.py": migration("a", "b"),
                "b.py": migration("b", "a"),
            },
            (Expected("versions/a.py", 13, "revisions 'a' -> 'b' -> 'a' form a cycle"),),
        ),
        Example(
            {"a.py": migration("a", None), "b.py": migration("b", "b")},
            (Expected("versions/b.py", 13, "revision 'b' names itself as its down_revision"),),
        ),
        Example(
            {
                "b0.py": migration("b0", None),
                "a.py": migration("a", "c"),
                "b.py": migration("b", "a"),
                "c.py": migration("c", ("b", "b0")),
                "d.py": migration("d", "c"),
            },
            (Expected("versions/a.py", 13, "Alembic does not notice"),),
            description="a cycle hanging off a merge, which Alembic's own check misses",
        ),
        Example(
            {"a.py": migration("a", None), "b.py": migration("b", "a", depends_on="b")},
            (Expected("versions/b.py", 15, "revision 'b' names itself in depends_on"),),
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        graph = ctx.graph
        links_in = graph.links_in
        for rev, file in graph.revisions.items():
            # An entry naming the revision itself is a link to itself (or `depends_on = ""`
            # of a revision whose id is "", which Alembic reads as no dependency).
            if rev and rev not in links_in[rev]:
                continue
            for field, assignment in (
                ("down_revision", file.down_revision),
                ("depends_on", file.depends_on),
            ):
                if assignment is None:
                    continue
                for item in assignment.items:
                    if item.value == rev:
                        where = (
                            "as its down_revision" if field == "down_revision" else "in depends_on"
                        )
                        message = (
                            f"revision '{rev}' names itself {where}; Alembic fails every command "
                            f"with LoopDetected"
                        )
                        yield self.finding(ctx, file.path, item.line, item.column, message, rev)
        for members in graph.cycles():
            ordered = _cycle_order(ctx, members)
            first = graph.revisions[ordered[0]]
            path = " -> ".join(f"'{m}'" for m in [*ordered, ordered[0]])
            files = ", ".join(ctx.display(graph.revisions[m].path) for m in ordered)
            anchor = first.down_revision or first.depends_on or first.revision
            line, column = (anchor.line, anchor.column) if anchor else (1, 1)
            consequence = (
                "Alembic fails every command with CycleDetected"
                if alembic_detects(graph, members)
                else "Alembic does not notice (the cycle hangs off a merge), so `alembic "
                "upgrade` runs these migrations in an arbitrary order"
            )
            message = f"revisions {path} form a cycle ({files}); {consequence}"
            yield self.finding(ctx, first.path, line, column, message, ordered[0])


def alembic_detects(graph: RevisionGraph, members: list[str]) -> bool:
    """Whether Alembic's RevisionMap._detect_cycles refuses this cycle: only when a member is
    not both reachable down from a head and up from a base (first through `down_revision`
    links, then through every link from the heads and bases that ignore dependencies)."""
    import networkx as nx  # only a tree with a cycle gets here

    for edges, heads, bases in (
        (graph.parent_dag, graph.heads, graph.bases),
        (graph.dag, _real_heads(graph), _real_bases(graph)),
    ):
        if not heads or not bases:
            return True
        down = set(heads).union(*(nx.ancestors(edges, h) for h in heads))
        up = set(bases).union(*(nx.descendants(edges, b) for b in bases))
        if not set(members) <= down & up:
            return True
    return False


def _real_heads(graph: RevisionGraph) -> list[str]:
    return [rev for rev in graph.revisions if graph.dag.out_degree(rev) == 0]


def _real_bases(graph: RevisionGraph) -> list[str]:
    return [rev for rev, file in graph.revisions.items() if file.is_base and not file.dependencies]


def _cycle_order(ctx: RuleContext, members: list[str]) -> list[str]:
    """The cycle's members in link order, starting from the smallest id."""
    graph = ctx.graph
    inside = set(members)
    start = min(members)
    order = [start]
    current = start
    while True:
        # Follow child -> parent links (down_revision, then depends_on) within the cycle.
        nexts = [p for p in graph.dag.predecessors(current) if p in inside and p not in order]
        if not nexts:
            break
        current = min(nexts)
        order.append(current)
    return order + sorted(inside - set(order))
