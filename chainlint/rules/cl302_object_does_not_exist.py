from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration
from chainlint.rules.schema_common import history, place

_TABLE = """op.create_table(
    "users",
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("email", sa.String(length=200), nullable=True),
)"""


class ObjectDoesNotExist(Rule):
    """
    ## What it does
    Reports a revision that drops, alters or renames a table, column or index that does not
    exist at that point of the history: in a table whose every change chainlint could read, or a
    table the history itself dropped. It says who dropped it, or that it was never made.

    ## Why is this bad?
    `alembic upgrade` stops with `column "nickname" does not exist` (or `no such table`). A typo
    in a column name, a revision that drops what another branch already dropped, a rename
    applied twice: each passes review, and the deploy fails.

    ## Example
    ```python
    # versions/a.py                          # versions/b.py (down_revision = "a")
    op.create_table("users",                 op.drop_column("users", "nickname")
        sa.Column("id", sa.Integer()),
        sa.Column("email", sa.String()))
    ```

    ## Fix
    Name the object as it is at that revision (check `chainlint schema --revision REV`), or
    remove the operation when another revision already did it. No automatic fix.
    """

    code = "CL302"
    name = "object-does-not-exist"
    severity = "error"
    replays_schema = True

    valid = (
        Example(
            {
                "a.py": migration("a", None, upgrade=_TABLE),
                "b.py": migration("b", "a", upgrade='op.drop_column("users", "email")'),
            },
            description="drops a column the table has",
        ),
        Example(
            {
                "b.py": migration("b", None, upgrade='op.drop_column("accounts", "legacy")'),
            },
            description="a table made outside the traced history: nothing is claimed",
        ),
    )
    invalid = (
        Example(
            {
                "a.py": migration("a", None, upgrade=_TABLE),
                "b.py": migration("b", "a", upgrade='op.drop_column("users", "nickname")'),
            },
            (Expected("versions/b.py", 19, "column users.nickname does not exist"),),
            description="a column that was never added",
        ),
        Example(
            {
                "a.py": migration("a", None, upgrade=_TABLE),
                "b.py": migration("b", "a", upgrade='op.drop_table("users")'),
                "c.py": migration(
                    "c", "b", upgrade='op.alter_column("users", "email", nullable=False)'
                ),
            },
            (Expected("versions/c.py", 19, "dropped by 'b' (versions/b.py:19)"),),
            description="alters a table an earlier revision dropped",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        graph = ctx.graph
        for problem in history(ctx).problems:
            if problem.kind != "missing":
                continue
            file = graph.revisions[problem.revision]
            if problem.origin is not None:
                why = f"dropped by {place(ctx, problem.origin)}"
            else:
                why = "never created in the traced history"
            merge = (
                f" (the other branch, merged at '{problem.merge}', drops it too)"
                if problem.merge
                else ""
            )
            message = f"{problem.what} does not exist here: {why}{merge}; `alembic upgrade` fails"
            yield self.finding(
                ctx,
                file.path,
                problem.operation.line,
                problem.operation.column,
                message,
                problem.revision,
            )
