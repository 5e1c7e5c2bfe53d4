from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding, Fix
from chainlint.rules.base import DatabaseSetup, Example, Expected, Rule, RuleContext, migration
from chainlint.rules.common import quoted

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
    writes only the version table. When the schema model shows the database equals the schema
    after exactly one revision, chainlint names it; otherwise compare with
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
            'with "already exists". Find the revision whose schema it has '
            "(`chainlint schema --revision REV`), then run `alembic stamp REV`"
        )
        fix = Fix("find the revision the database is at, then stamp it", applicable=False)
        base = ctx.graph.bases[0] if ctx.graph.bases else None
        path, line, column = state.anchor(base)
        yield self.finding(ctx, path, line, column, message, None, fix)
