from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding, Fix
from chainlint.rules.base import (
    DatabaseSetup,
    Example,
    Expected,
    Rule,
    RuleContext,
    version_table,
)
from chainlint.rules.common import quoted
from chainlint.rules.dbcompare import Applied, Created
from chainlint.rules.dbstate import DatabaseState, stamp_command

_SEED_001 = '''"""add workflow run fields

Revision ID: 001
Revises:
Create Date: 2025-01-10 09:12:44.120931

"""
from alembic import op
import sqlalchemy as sa

revision = "001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("workflow_runs", sa.Column("triggered_by", sa.String(100), nullable=True))


def downgrade():
    op.drop_column("workflow_runs", "triggered_by")
'''

_SEED_002 = '''"""add conditional execution columns

Revision ID: 002_conditional
Revises: 001
Create Date: 2025-01-17 14:03:51.558102

"""
from alembic import op
import sqlalchemy as sa

revision = "002_conditional"
down_revision = "001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("step_executions", sa.Column("condition_expression", sa.Text(), nullable=True))
    op.add_column("step_executions", sa.Column("condition_result", sa.Boolean(), nullable=True))
    op.add_column("step_executions", sa.Column("branch_taken", sa.String(50), nullable=True))


def downgrade():
    op.drop_column("step_executions", "branch_taken")
    op.drop_column("step_executions", "condition_result")
    op.drop_column("step_executions", "condition_expression")
'''

_TABLES = (
    "CREATE TABLE workflow_runs (id INTEGER PRIMARY KEY, triggered_by VARCHAR(100))",
    "CREATE TABLE step_executions (id INTEGER PRIMARY KEY)",
)
_COLUMNS = (
    "ALTER TABLE step_executions ADD COLUMN condition_expression TEXT",
    "ALTER TABLE step_executions ADD COLUMN condition_result BOOLEAN",
    "ALTER TABLE step_executions ADD COLUMN branch_taken VARCHAR(50)",
)


class AlreadyApplied(Rule):
    """
    ## What it does
    With `chainlint db`: reports a pending revision whose tables, columns or indexes are already
    in the database, naming them — and, when only some are, the ones still missing.

    ## Why is this bad?
    `alembic upgrade` runs the revision and stops at the first object that exists:
    `column "condition_expression" of relation "step_executions" already exists`. It happens
    when a startup hook or `create_all()` made the object, when someone added it by hand, or when
    a database without transactional DDL (MySQL) kept half of a migration that failed.

    ## Example
    ```
    $ chainlint db
    002_conditional is pending but everything its upgrade creates already exists: column
    step_executions.condition_expression, ... Run: `alembic stamp 002_conditional`
    ```

    ## Fix
    When everything the revision does is already there, record it as applied:
    `alembic stamp REV` (it writes only the version table). When only some objects exist (a
    half-applied migration), finish it by hand — create the missing objects as the migration
    defines them — then `alembic stamp REV`. chainlint never suggests dropping what exists:
    that would lose its data. Steps it cannot check (`alter_column`, `op.execute`, ...) are
    named so you can verify them before stamping.
    """

    code = "CL403"
    name = "already-applied"
    severity = "error"

    valid = (
        Example(
            {"001_add_workflow_run_fields.py": _SEED_001, "002_conditional.py": _SEED_002},
            database=DatabaseSetup((*_TABLES, *version_table("001"))),
            description="the pending revision's columns do not exist yet",
        ),
    )
    invalid = (
        Example(
            {"001_add_workflow_run_fields.py": _SEED_001, "002_conditional.py": _SEED_002},
            (
                Expected(
                    "versions/002_conditional.py",
                    11,
                    "'002_conditional' is pending, but everything its upgrade creates already "
                    "exists: column step_executions.condition_expression, column "
                    "step_executions.condition_result and column step_executions.branch_taken. "
                    '`alembic upgrade` fails with "already exists". Run: '
                    "`alembic stamp 002_conditional`",
                ),
            ),
            database=DatabaseSetup((*_TABLES, *_COLUMNS, *version_table("001"))),
            description="the columns were added by hand (the seed scenario)",
        ),
        Example(
            {"001_add_workflow_run_fields.py": _SEED_001, "002_conditional.py": _SEED_002},
            (
                Expected(
                    "versions/002_conditional.py",
                    11,
                    "'002_conditional' is half applied: column "
                    "step_executions.condition_expression already exists; column "
                    "step_executions.condition_result and column step_executions.branch_taken "
                    "do not (versions/002_conditional.py:19, 20)",
                ),
            ),
            database=DatabaseSetup((*_TABLES, _COLUMNS[0], *version_table("001"))),
            description="a half-applied migration",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        state = ctx.database
        if state is None:
            return
        for applied in state.already_applied.values():
            yield self._finding(ctx, state, applied)

    def _finding(self, ctx: RuleContext, state: DatabaseState, applied: Applied) -> Finding:
        rev = applied.revision
        path = state.graph.revisions[rev].path
        shown = ctx.display(path)
        present = _names(applied.present)
        steps = _lines(shown, applied.other_steps)
        before = self._pending_before(state, rev)
        prefix = f"first `alembic upgrade {before[0]}`, then " if len(before) == 1 else ""
        if before and not prefix:
            prefix = f"first apply {quoted(before)}, then "
        if not applied.missing:
            message = (
                f"'{rev}' is pending, but everything its upgrade creates already exists: "
                f'{present}. `alembic upgrade` fails with "already exists".'
            )
            command = stamp_command(rev)
            if applied.other_steps:
                message += (
                    f" Its other steps cannot be checked ({steps}): when they are done too, "
                    f"{prefix}run `{command}`"
                )
                fix = Fix(f"check {steps}, then {command}", applicable=False)
            else:
                message += f" Run: {prefix}`{command}`" if prefix else f" Run: `{command}`"
                fix = Fix(command, applicable=False)
        else:
            missing = _names(applied.missing)
            where = _lines(shown, tuple(c.line for c in applied.missing))
            message = (
                f"'{rev}' is half applied: {present} already "
                f"{'exists' if len(applied.present) == 1 else 'exist'}; {missing} "
                f"{'does' if len(applied.missing) == 1 else 'do'} not ({where}). "
                f'`alembic upgrade` fails with "already exists". Create the missing '
                f"{'one' if len(applied.missing) == 1 else 'ones'} by hand as the migration "
                f"does, then {prefix}`{stamp_command(rev)}`"
                + (f" (check its other steps too: {steps})" if applied.other_steps else "")
                + "; do not drop what exists, that loses its data"
            )
            fix = Fix(f"finish {rev} by hand, then {stamp_command(rev)}", applicable=False)
        _, line, column = state.anchor(rev)
        return self.finding(ctx, path, line, column, message, rev, fix)

    @staticmethod
    def _pending_before(state: DatabaseState, rev: str) -> tuple[str, ...]:
        """Pending parents that are not themselves already applied: stamping `rev` would mark
        them applied without running them."""
        ancestors = state.graph.ancestors(rev, include_dependencies=True)
        complete = {r for r, a in state.applied_objects.items() if a.complete}
        blocking = [r for r in state.pending if r in ancestors and r not in complete]
        parents = [p for p in state.graph.revisions[rev].down_revisions if p in blocking]
        return tuple(parents or blocking[-1:])


def _names(created: tuple[Created, ...]) -> str:
    items = [c.label for c in created]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _lines(shown: str, lines: tuple[int, ...]) -> str:
    unique = sorted(set(lines))
    return f"{shown}:{', '.join(str(n) for n in unique)}"
