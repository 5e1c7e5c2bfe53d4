from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

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


class DatabaseBehind(Rule):
    """
    ## What it does
    With `chainlint db`: reports migrations the database has not applied yet, in the order
    `alembic upgrade` would run them. A warning; an error with `--require-head` (a deploy gate).

    ## Why is this bad?
    Code that expects the new schema fails against the old one, and
    `alembic revision --autogenerate` refuses to run: "Target database is not up to date".
    In CI, a database that is behind after the migration step means the step did not run.

    ## Example
    ```
    $ chainlint db --url "$DATABASE_URL" --require-head
    the database is at '001'; 1 migration is pending: '002_conditional' ...
    ```

    ## Fix
    `alembic upgrade head` (`heads` when the environment has several). When a pending
    migration's changes are already in the database, CL403 says so instead: upgrading would
    fail, and the pending revision is not listed here.
    """

    code = "CL402"
    name = "database-behind"
    severity = "warning"

    valid = (
        Example(
            {"a.py": migration("001", None), "b.py": migration("002_conditional", "001")},
            database=DatabaseSetup(version_table("002_conditional")),
            description="the database is at the head",
        ),
    )
    invalid = (
        Example(
            {"a.py": migration("001", None), "b.py": migration("002_conditional", "001")},
            (
                Expected(
                    "versions/b.py",
                    12,
                    "the database is at '001'; 1 migration is pending: '002_conditional'. "
                    '`alembic revision --autogenerate` fails with "Target database is not up to '
                    'date". Run: `alembic upgrade head`',
                ),
            ),
            database=DatabaseSetup(version_table("001")),
            description="one migration pending (the seed guide before its upgrade)",
        ),
        Example(
            {"a.py": migration("a", None), "b.py": migration("b", "a")},
            (Expected("versions/a.py", 12, "nothing is applied yet; 2 migrations are pending"),),
            database=DatabaseSetup(version_table(), require_head=True),
            description="an empty version table, with --require-head",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        state = ctx.database
        # With an unknown row (CL401) nobody can tell what is pending.
        if state is None or state.unknown or not state.live.has_version_table:
            return
        # A revision whose changes are already there is CL403's: upgrading would fail on it.
        pending = tuple(rev for rev in state.pending if rev not in state.already_applied)
        if not pending:
            return
        where = (
            f"the database is at {quoted(state.current)}"
            if state.current
            else f"{state.live.version_table} is empty: nothing is applied yet"
        )
        count = f"{len(pending)} migration{' is' if len(pending) == 1 else 's are'} pending"
        command = state.upgrade_command
        run = (
            f"Run: `{command}`"
            if not state.already_applied
            else f"Once CL403 is resolved, run `{command}`"
        )
        message = (
            f"{where}; {count}: {quoted(pending)}. `alembic revision --autogenerate` fails "
            f'with "Target database is not up to date". {run}'
        )
        path, line, column = state.anchor(pending[0])
        finding = self.finding(
            ctx, path, line, column, message, pending[0], Fix(command, applicable=False)
        )
        yield replace(finding, severity="error") if state.require_head else finding
