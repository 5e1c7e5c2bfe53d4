from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration
from chainlint.rules.schema_common import history, place, running_order
from chainlint.schema import Origin

_TABLE = """op.create_table(
    "users",
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("email", sa.String(length=200), nullable=True),
)
op.create_index("ix_users_email", "users", ["email"])"""
_ADD_NAME = 'op.add_column("users", sa.Column("name", sa.String(length=50), nullable=True))'


class ObjectAlreadyExists(Rule):
    """
    ## What it does
    Reports a revision that creates a table, adds a column or creates an index that already
    exists at that point of the history, in a table whose every change chainlint could read.
    It names the revision that made the object first (file:line). The common real case: two
    branches each add the same column, and a merge joins them.

    ## Why is this bad?
    `alembic upgrade` stops with `column "condition_expression" already exists` (or `table ...
    already exists`) half-way through a deploy. Each branch passed its own tests: only the
    database that runs both fails, and the usual way out — `alembic stamp` past the revision, or
    dropping the column by hand — loses track of what the schema really is.

    ## Example
    ```python
    # versions/b.py (down_revision = "a")   # versions/c.py (down_revision = "a")
    op.add_column("users",                  op.add_column("users",
        sa.Column("name", sa.String(50)))       sa.Column("name", sa.String(50)))
    # versions/m.py: down_revision = ("b", "c")
    ```

    ## Fix
    Remove the second operation (keep the one that runs first), or make the later revision
    depend on the earlier one and drop its duplicate. No automatic fix: which of the two
    definitions is right is a decision about the data model.
    """

    code = "CL301"
    name = "object-already-exists"
    severity = "error"
    replays_schema = True

    valid = (
        Example(
            {
                "a.py": migration("a", None, upgrade=_TABLE),
                "b.py": migration("b", "a", upgrade=_ADD_NAME),
                "c.py": migration(
                    "c",
                    "a",
                    upgrade='op.add_column("users", sa.Column("age", sa.Integer(), nullable=True))',
                ),
                "m.py": migration("m", ("b", "c")),
            },
            description="two branches add different columns",
        ),
        Example(
            {
                "a.py": migration("a", None, upgrade=_TABLE),
                "b.py": migration(
                    "b",
                    "a",
                    upgrade='if op.get_context().dialect.name == "postgresql":\n'
                    '    op.add_column("users", sa.Column("name", sa.String()))',
                ),
                "c.py": migration("c", "b", upgrade=_ADD_NAME),
            },
            description="the first add is conditional: the table is partial, nothing is claimed",
        ),
    )
    invalid = (
        Example(
            {
                "a.py": migration("a", None, upgrade=_TABLE),
                "b.py": migration("b", "a", upgrade=_ADD_NAME),
                "c.py": migration("c", "a", upgrade=_ADD_NAME),
                "m.py": migration("m", ("b", "c")),
            },
            (Expected("versions/c.py", 19, "also added by 'b' (versions/b.py:19)"),),
            description="two branches add the same column, merged",
        ),
        Example(
            {
                "a.py": migration("a", None, upgrade=_TABLE),
                "b.py": migration(
                    "b",
                    "a",
                    upgrade='op.create_index("ix_users_email", "users", ["email"], unique=True)',
                ),
            },
            (Expected("versions/b.py", 19, "index ix_users_email already exists"),),
            description="an index created twice",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        graph = ctx.graph
        for problem in history(ctx).problems:
            if problem.kind != "exists":
                continue
            file = graph.revisions[problem.revision]
            here = Origin(problem.revision, file.path, problem.operation.line)
            column = problem.operation.column
            other = problem.origin
            if problem.merge is None or other is None:
                first = f": made by {place(ctx, other)}" if other else ""
                message = (
                    f"{problem.what} already exists here{first}; `alembic upgrade` fails "
                    f"with: {_error(problem.what)}"
                )
                yield self.finding(ctx, here.path, here.line, column, message, here.revision)
                continue
            if running_order(graph, other.revision) > running_order(graph, here.revision):
                here, other = other, here
                column = 1
            message = (
                f"{problem.what} is also added by {place(ctx, other)} on another branch; "
                f"upgrading through merge '{problem.merge}' runs both and the second fails "
                f"with: {_error(problem.what)}"
            )
            yield self.finding(ctx, here.path, here.line, column, message, here.revision)


def _error(what: str) -> str:
    kind, _, name = what.partition(" ")
    name = name.split(" ")[0].rpartition(".")[2]
    return f'{kind} "{name}" already exists'
