from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration


class DuplicateRevision(Rule):
    """
    ## What it does
    Reports two or more files that declare the same revision id.

    ## Why is this bad?
    Alembic only warns ("Revision X is present more than once") and silently keeps the file it
    loads last; the other migration never runs. Copy-pasting a migration as a template is the
    usual cause.

    ## Example
    ```python
    # versions/ab12_add_users.py        # versions/ab12_add_orders.py (a copy)
    revision = "ab12"                   revision = "ab12"
    ```

    ## Fix
    None automatic: give the copy a fresh id (`alembic revision` generates one) and re-point its
    children.
    """

    code = "CL003"
    name = "duplicate-revision"
    severity = "error"

    valid = (Example({"a.py": migration("a", None), "b.py": migration("b", "a")}),)
    invalid = (
        Example(
            {
                "a.py": migration("a", None),
                "b_users.py": migration("b", "a"),
                "b_orders.py": migration("b", "a"),
            },
            (
                Expected(
                    "versions/b_orders.py",
                    12,
                    "revision 'b' is also declared in versions/b_users.py; Alembic only warns",
                ),
            ),
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        graph = ctx.graph
        for rev, files in graph.duplicates.items():
            kept = graph.revisions[rev]
            for file in files:
                if file is kept:
                    continue
                assert file.revision is not None or file.legacy_revision is not None
                line, column = (
                    (file.revision.line, file.revision.column) if file.revision else (1, 1)
                )
                others = [ctx.display(f.path) for f in files if f is not file]
                message = (
                    f"revision '{rev}' is also declared in {', '.join(others)}; Alembic only "
                    f"warns ('Revision {rev} is present more than once') and silently keeps "
                    f"{ctx.display(kept.path)}, so this migration never runs"
                )
                yield self.finding(ctx, file.path, line, column, message, rev)
