from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding, Fix
from chainlint.rules.base import (
    DatabaseSetup,
    Example,
    Expected,
    Rule,
    RuleContext,
    migration,
    version_table,
)
from chainlint.rules.common import quoted
from chainlint.rules.dbcompare import Drift, drift, key

_RUNS = migration("a1", None).replace(
    "def upgrade():\n    pass",
    "def upgrade():\n"
    "    op.create_table(\n"
    '        "workflow_runs",\n'
    '        sa.Column("id", sa.Integer(), primary_key=True),\n'
    '        sa.Column("name", sa.String(50), nullable=False),\n'
    "    )",
)
_PARTIAL = migration("a1", None).replace(
    "def upgrade():\n    pass",
    "def upgrade():\n"
    '    op.create_table("workflow_runs", sa.Column("id", sa.Integer(), primary_key=True))\n'
    '    op.execute("ALTER TABLE workflow_runs ADD COLUMN note TEXT -- " + NOTE)',
)


class SchemaDrift(Rule):
    """
    ## What it does
    With `chainlint db`: at the database's revision, reports a *known* table (one the
    migrations created and changed only in ways chainlint can follow) that differs from the
    schema model: a column the migrations created is missing, or a column exists that no
    migration made. Tables touched by code chainlint cannot see through (`op.execute` it
    cannot parse, helpers, loops) are *partial* and never reported.

    ## Why is this bad?
    The next migration that touches the column fails (`column ... does not exist`), or
    `alembic revision --autogenerate` proposes dropping a column someone added by hand —
    with its data. Drift also means another environment (staging, a colleague's laptop) no
    longer matches production.

    ## Example
    ```
    $ chainlint db
    column workflow_runs.priority exists in the database, but no migration up to 'a1' made it
    ```

    ## Fix
    For a column added by hand: write the migration that adds it (`alembic revision
    --autogenerate` writes one), then `alembic stamp` that revision if the column is already
    there. For a missing column: re-create it as the migration that made it says. chainlint
    never suggests a `DROP`: that loses data.
    """

    code = "CL406"
    name = "schema-drift"
    severity = "warning"

    valid = (
        Example(
            {"a.py": _RUNS},
            database=DatabaseSetup(
                (
                    *version_table("a1"),
                    "CREATE TABLE workflow_runs (id INTEGER PRIMARY KEY, "
                    "name VARCHAR(50) NOT NULL)",
                )
            ),
            description="the table is as the migrations made it",
        ),
        Example(
            {
                "a.py": _PARTIAL.replace(
                    "import sqlalchemy as sa", "import sqlalchemy as sa\nNOTE = 1"
                )
            },
            database=DatabaseSetup(
                (
                    *version_table("a1"),
                    "CREATE TABLE workflow_runs (id INTEGER PRIMARY KEY, note TEXT, extra TEXT)",
                )
            ),
            description="a partial table is never reported",
        ),
    )
    invalid = (
        Example(
            {"a.py": _RUNS},
            (
                Expected(
                    "versions/a.py",
                    19,
                    "column workflow_runs.priority exists in the database, but no migration up "
                    "to 'a1' made it",
                ),
            ),
            database=DatabaseSetup(
                (
                    *version_table("a1"),
                    "CREATE TABLE workflow_runs (id INTEGER PRIMARY KEY, name VARCHAR(50) "
                    "NOT NULL, priority INTEGER)",
                )
            ),
            description="a column added by hand",
        ),
        Example(
            {"a.py": _RUNS},
            (
                Expected(
                    "versions/a.py",
                    22,
                    "column workflow_runs.name is missing from the database, but 'a1' created "
                    "it (versions/a.py:22)",
                ),
            ),
            database=DatabaseSetup(
                (*version_table("a1"), "CREATE TABLE workflow_runs (id INTEGER PRIMARY KEY)")
            ),
            description="a column dropped by hand",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        state = ctx.database
        if state is None or state.unknown or not state.current or state.history.cyclic:
            return
        where = quoted(state.current)
        if not state.pending:
            model = state.history.at_heads()
        elif len(state.current) == 1:
            model = state.history.after(state.current[0])
        else:
            return  # several branches part-way: no single schema to compare with
        # Objects a pending revision creates are CL403's.
        pending_columns = {
            f"{key(c.name.split('.', 1)[0], state.live)}.{c.name.split('.', 1)[1].lower()}"
            for applied in state.applied_objects.values()
            for c in applied.created
            if c.kind == "column"
        }
        for item in drift(model, state.live, pending_columns):
            yield self._finding(ctx, item, where)

    def _finding(self, ctx: RuleContext, item: Drift, where: str) -> Finding:
        state = ctx.database
        assert state is not None
        made = f"{ctx.display(item.path)}:{item.line}" if item.path is not None else "?"
        if item.kind == "missing-table":
            message = (
                f"table {item.table} is missing from the database, but '{item.revision}' "
                f"created it ({made}): the next migration that uses it fails. Re-create it as "
                "that migration does"
            )
        elif item.kind == "missing-column":
            message = (
                f"column {item.table}.{item.column} is missing from the database, but "
                f"'{item.revision}' created it ({made}): the next migration that uses it fails. "
                "Re-create it as that migration does"
            )
        else:
            message = (
                f"column {item.table}.{item.column} exists in the database, but no migration up "
                f"to {where} made it (added by hand?): `alembic revision --autogenerate` "
                "would propose dropping it. Write the migration that adds it, then "
                "`alembic stamp` that revision; do not drop it, that loses its data"
            )
        path = item.path if item.path is not None else state.anchor()[0]
        line = item.line or 1
        return self.finding(
            ctx, path, line, 1, message, item.revision, Fix("by hand", applicable=False)
        )
