from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding, Fix
from chainlint.rules.base import DatabaseSetup, Example, Expected, Rule, RuleContext, migration
from chainlint.rules.common import quoted
from chainlint.rules.dbstate import stamp_command

_RUNS = migration("001", None).replace(
    "def upgrade():\n    pass",
    "def upgrade():\n"
    '    op.create_table("workflow_runs", sa.Column("id", sa.Integer(), primary_key=True))',
)
_STEPS = migration("002", "001").replace(
    "def upgrade():\n    pass",
    "def upgrade():\n"
    '    op.create_table("step_executions", sa.Column("id", sa.Integer(), primary_key=True))',
)
_LISTED = 5


class UnstampedDatabase(Rule):
    """
    ## What it does
    With `chainlint db`: reports a database that has tables but no Alembic version table.

    ## Why is this bad?
    The tables were made without Alembic — `metadata.create_all()` at application start, a
    restored dump, another tool — and nobody ran `alembic stamp`. Alembic thinks nothing is
    applied: `alembic upgrade head` runs the first migration again and fails with
    "table ... already exists" (or, worse, succeeds halfway on a database without transactional
    DDL).

    ## Example
    ```
    $ chainlint db --url sqlite:///app.db
    the database has 2 tables ('step_executions' and 'workflow_runs') but no alembic_version
    table ...
    ```

    ## Fix
    Record the revision whose schema the database already has: `alembic stamp REV`. Stamping
    writes only the version table. When the database's tables, columns and named indexes are
    exactly the schema model's after one revision, chainlint names it; otherwise compare with
    `chainlint schema --revision REV` first. Never `alembic upgrade` such a database before it
    is stamped.
    """

    code = "CL404"
    name = "unstamped-database"
    severity = "error"

    valid = (
        Example(
            {"a.py": migration("a", None)},
            database=DatabaseSetup(
                (
                    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
                    "INSERT INTO alembic_version VALUES ('a')",
                    "CREATE TABLE workflow_runs (id INTEGER PRIMARY KEY)",
                )
            ),
            description="a stamped database",
        ),
    )
    invalid = (
        Example(
            {"a.py": migration("001", None), "b.py": migration("002_conditional", "001")},
            (
                Expected(
                    "versions/a.py",
                    12,
                    "the database has 2 tables ('step_executions' and 'workflow_runs') but no "
                    "alembic_version table",
                ),
            ),
            database=DatabaseSetup(
                (
                    "CREATE TABLE workflow_runs (id INTEGER PRIMARY KEY)",
                    "CREATE TABLE step_executions (id INTEGER PRIMARY KEY)",
                )
            ),
            description="create_all() without alembic stamp",
        ),
        Example(
            {"a.py": _RUNS, "b.py": _STEPS},
            (
                Expected(
                    "versions/a.py",
                    12,
                    "Its schema is the schema after '001'. Run: `alembic stamp 001`",
                ),
            ),
            database=DatabaseSetup(("CREATE TABLE workflow_runs (id INTEGER PRIMARY KEY)",)),
            description="the schema after one revision: stamp it",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        state = ctx.database
        if state is None or state.live.has_version_table or not state.live.tables:
            return
        names = sorted(state.live.tables)
        shown = (
            quoted(names)
            if len(names) <= _LISTED
            else ", ".join(f"'{n}'" for n in names[:_LISTED]) + f" and {len(names) - _LISTED} more"
        )
        table = state.live.version_table
        message = (
            f"the database has {len(names)} table{'s' if len(names) != 1 else ''} ({shown}) "
            f"but no {table} table: it was built without Alembic (create_all(), a dump) and "
            f"never stamped; `{state.upgrade_command}` would run every migration again and fail "
            'with "already exists"'
        )
        matches = state.matching_revisions
        anchor: str | None
        if len(matches) == 1:
            command = stamp_command(matches[0])
            message += f". Its schema is the schema after '{matches[0]}'. Run: `{command}`"
            fix = Fix(command, applicable=False)
            anchor = matches[0]
        else:
            if matches:
                message += (
                    f". Its schema is the schema after each of {quoted(matches)} (they differ "
                    "only in steps chainlint cannot see): find which one ran, then run "
                    "`alembic stamp REV`"
                )
            else:
                message += (
                    ". Its schema is not the schema after any revision: find the revision it "
                    "has (`chainlint schema --revision REV`), then run `alembic stamp REV`"
                )
            fix = Fix("find the revision the database is at, then stamp it", applicable=False)
            anchor = ctx.graph.bases[0] if ctx.graph.bases else None
        path, line, column = state.anchor(anchor)
        yield self.finding(ctx, path, line, column, message, fix=fix)
