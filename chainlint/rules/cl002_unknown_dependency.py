from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration
from chainlint.rules.candidates import find_candidates
from chainlint.rules.cl001_unknown_down_revision import repoint_fix, suggestion, with_consequence
from chainlint.rules.common import has_unresolved


class UnknownDependency(Rule):
    """
    ## What it does
    Reports a `depends_on` entry that names neither a revision nor a branch label.

    ## Why is this bad?
    Alembic resolves `depends_on` through its revision map when any command starts; an unknown
    name makes every command fail with `KeyError: '<name>'`.

    ## Example
    ```python
    revision = "b2"
    down_revision = "b1"
    depends_on = "netwrok"  # the branch label is "network"
    ```

    ## Fix
    With exactly one candidate (same matching as CL001: file name stem or `Revision ID:` header,
    unique prefix, unique near miss), `chainlint fix` rewrites the entry. Otherwise nothing is
    edited and the finding lists the candidates.
    """

    code = "CL002"
    name = "unknown-dependency"
    severity = "error"
    fixable = True

    valid = (
        Example(
            {
                "a.py": migration("a", None),
                "n.py": migration("n1", None, branch_labels="network"),
                "b.py": migration("b", "a", depends_on="network"),
                "c.py": migration("c", "b", depends_on=("n1",)),
            },
            description="depends_on a branch label and a revision id",
        ),
        Example(
            {
                "a.py": migration("a", None),
                "b.py": migration("b", "a", depends_on=""),
                "c.py": migration("c", "b", depends_on=("",)),
            },
            description='an empty depends_on ("" or ("",)): Alembic sees no dependency',
        ),
    )
    invalid = (
        Example(
            {
                "a.py": migration("a", None),
                "n.py": migration("n1", None, branch_labels="network"),
                "b.py": migration("b", "a", depends_on="n2"),
            },
            (
                Expected(
                    "versions/b.py", 15, "depends_on 'n2' names no revision and no branch label"
                ),
            ),
        ),
        Example(
            {
                "a.py": migration("a", None),
                "3f2c9a1b7d4e_add_users.py": migration("3f2c9a1b7d4e", "a"),
                "b.py": migration("b", "a", depends_on="3f2c9a1b7d4e_add_users"),
            },
            (Expected("versions/b.py", 15, "did you mean '3f2c9a1b7d4e'"),),
        ),
        Example(
            {"a.py": migration("a", None), "b.py": migration("b", "a", depends_on=("", "a"))},
            (Expected("versions/b.py", 15, "depends_on '' names no revision"),),
            description="an empty entry among others: Alembic looks it up (KeyError: '')",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        graph = ctx.graph
        # An unresolved id or branch label is unknown, not absent.
        if has_unresolved(graph, "revision") or has_unresolved(graph, "branch_labels"):
            return
        for ref in graph.dangling:
            if ref.field != "depends_on":
                continue
            missing = ref.identifier.value
            assert missing is not None
            candidates = find_candidates(graph, missing, ref.revision, labels=True)
            message = f"depends_on '{missing}' names no revision and no branch label"
            message += suggestion(ctx, candidates, ())
            message = with_consequence(
                message, f"every Alembic command fails with KeyError: '{missing}'"
            )
            yield self.finding(
                ctx,
                ref.file.path,
                ref.identifier.line,
                ref.identifier.column,
                message,
                ref.revision,
                repoint_fix(ref, candidates, "depends_on"),
            )
