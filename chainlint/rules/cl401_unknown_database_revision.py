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
from chainlint.rules.candidates import Candidate, find_candidates
from chainlint.rules.common import has_unresolved, quoted
from chainlint.rules.dbstate import DatabaseState, resolve_row, stamp_command

_RUNS = migration("a1", None).replace(
    "def upgrade():\n    pass",
    "def upgrade():\n"
    '    op.create_table("workflow_runs", sa.Column("id", sa.Integer(), primary_key=True))',
)
_STEPS = migration("b2", "a1").replace(
    "def upgrade():\n    pass",
    "def upgrade():\n"
    '    op.create_table("step_executions", sa.Column("id", sa.Integer(), primary_key=True))',
)


class UnknownDatabaseRevision(Rule):
    """
    ## What it does
    With `chainlint db`: reports an id in the database's version table (`alembic_version`)
    that no migration file declares, and the revision it most likely became.

    ## Why is this bad?
    Alembic looks the database's revision up before doing anything: `alembic current`,
    `upgrade`, `downgrade` and even `alembic stamp REV` fail with
    `Can't locate revision identified by '<id>'`. It happens when a revision id was renamed
    after it was applied (the seed guide's `001_add_workflow_run_fields` -> `001`), or its file
    was deleted or lives on another branch. Until someone edits the table by hand, nothing runs.

    ## Example
    ```
    $ chainlint db --url sqlite:///app.db
    alembic_version holds '001_add_workflow_run_fields', which no migration file declares;
    did you mean '001' (declared in versions/001_add_workflow_run_fields.py)? ...
    ```

    A row that is the start of exactly one id longer than three characters is not reported:
    Alembic reads it as that revision (a partial id), as `alembic current` shows.

    ## Fix
    Point the row at the revision the database is really at: the one its name points to, or
    the one after which the schema model's tables, columns and named indexes are exactly the
    database's. With one version row,
    `alembic stamp --purge REV` (plain `alembic stamp` fails the same way); with several
    (independent branches), the `UPDATE alembic_version SET version_num = 'REV' WHERE
    version_num = '<id>';` that chainlint prints, which leaves the other rows alone. Neither
    touches your tables. chainlint names REV only when one revision fits (a file or
    `Revision ID:` header named after the id, a unique prefix, a near miss); otherwise it lists
    the candidates.
    """

    code = "CL401"
    name = "unknown-database-revision"
    severity = "error"

    valid = (
        Example(
            {"a.py": migration("001", None), "b.py": migration("002_conditional", "001")},
            database=DatabaseSetup(version_table("002_conditional")),
            description="the database is at a revision a file declares",
        ),
        Example(
            {"a.py": migration("001", None), "b.py": migration("002_conditional", "001")},
            database=DatabaseSetup(version_table("002_cond")),
            description="a partial id Alembic resolves",
        ),
    )
    invalid = (
        Example(
            {
                "001_add_workflow_run_fields.py": migration("001", None),
                "002_add_conditional.py": migration("002_conditional", "001"),
            },
            (
                Expected(
                    "versions/001_add_workflow_run_fields.py",
                    12,
                    "alembic_version holds '001_add_workflow_run_fields', which no migration file "
                    "declares; did you mean '001' (declared in "
                    "versions/001_add_workflow_run_fields.py)? Every Alembic command fails with "
                    "Can't locate revision identified by '001_add_workflow_run_fields'. "
                    "Repair: `alembic stamp --purge 001`",
                ),
            ),
            database=DatabaseSetup(version_table("001_add_workflow_run_fields")),
            description="a renamed id (the seed scenario)",
        ),
        Example(
            {
                "a.py": migration("a1", None),
                "b.py": migration("b1", "a1", branch_labels="other"),
                "c.py": migration("c1", None, branch_labels="main"),
            },
            (
                Expected(
                    "versions/a.py",
                    12,
                    "UPDATE alembic_version SET version_num = 'a1' WHERE version_num = 'a1x';",
                ),
            ),
            database=DatabaseSetup(version_table("a1x", "c1")),
            description="a typo in one of two version rows: only that row is updated",
        ),
        Example(
            {"a.py": migration("a", None), "b.py": migration("b", "a")},
            (Expected("versions", 1, "no revision looks like it (heads: 'b')"),),
            database=DatabaseSetup(
                (*version_table("ffff0000eeee"), "CREATE TABLE legacy (id INTEGER)")
            ),
            description="an id nothing resembles",
        ),
        Example(
            {"a.py": _RUNS, "b.py": _STEPS},
            (
                Expected(
                    "versions/a.py",
                    12,
                    "alembic_version holds '9c1d7e2b44a0', which no migration file declares; "
                    "the database's schema is the schema after 'a1' (declared in versions/a.py). "
                    "Every Alembic command fails with Can't locate revision identified by "
                    "'9c1d7e2b44a0'. Repair: `alembic stamp --purge a1`",
                ),
            ),
            database=DatabaseSetup(
                (
                    *version_table("9c1d7e2b44a0"),
                    "CREATE TABLE workflow_runs (id INTEGER PRIMARY KEY)",
                )
            ),
            description="a deleted revision: the schema model names where the database is",
        ),
        Example(
            {
                "a.py": migration("a", None),
                "b.py": migration("c3_add_condition", "a"),
                "c.py": migration("c3_add_column", "a", branch_labels="other"),
            },
            (Expected("versions", 1, "Multiple revisions start with 'c3'"),),
            database=DatabaseSetup(version_table("c3")),
            description="a partial id that two ids start with",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        state = ctx.database
        # A file whose id the reader could not resolve may declare the row's id.
        if state is None or has_unresolved(ctx.graph, "revision"):
            return
        for row in state.unknown:
            prefixed = resolve_row(ctx.graph, row)
            if len(prefixed) > 1:
                # Alembic reads a row as a partial id; several ids start with this one.
                files = ctx.graph.revisions
                candidates = [Candidate(rev, files[rev], "prefix") for rev in prefixed]
                consequence = (
                    f"Every Alembic command fails with Multiple revisions start with '{row}'."
                )
            else:
                candidates = [
                    c
                    for c in find_candidates(ctx.graph, row, referrer="") or []
                    if c.revision not in state.applied
                ]
                consequence = (
                    f"Every Alembic command fails with Can't locate revision identified by '{row}'."
                )
            yield self._finding(ctx, state, row, candidates, consequence)

    def _finding(
        self,
        ctx: RuleContext,
        state: DatabaseState,
        row: str,
        candidates: list[Candidate],
        consequence: str,
    ) -> Finding:
        table = state.live.version_table
        message = f"{table} holds '{row}', which no migration file declares"
        # The schema model's answer: which revision's schema the database has (one row only:
        # several rows are several branches).
        matches = state.matching_revisions if len(state.live.versions) == 1 else ()
        target: str | None = None
        if len(candidates) == 1:
            target = candidates[0].revision
            message += (
                f"; did you mean '{target}' (declared in {ctx.display(candidates[0].file.path)})?"
            )
            if matches == (target,):
                message += " The database's schema is the schema after it."
            elif matches and target not in matches:
                message += (
                    f" (But the database's schema is the schema after {quoted(matches)}: "
                    "check which one it is before stamping.)"
                )
        elif len(matches) == 1:
            target = matches[0]
            file = ctx.graph.revisions[target]
            message += (
                f"; the database's schema is the schema after '{target}' (declared in "
                f"{ctx.display(file.path)})."
            )
        if target is not None:
            repair = self.repair(state, row, target)
            message += f" {consequence} Repair: {repair}"
            path, line, column = state.anchor(target)
            fix = Fix(repair, applicable=False)
        else:
            if candidates:
                message += "; it could be " + quoted(c.revision for c in candidates)
            elif matches:
                message += "; the database's schema is the schema after each of " + quoted(matches)
            else:
                heads = ctx.graph.heads
                message += "; no revision looks like it" + (
                    f" (heads: {quoted(heads)})" if heads else ""
                )
            message += (
                f". {consequence} Find the revision whose schema the database has "
                f"(`chainlint schema --revision REV`), then "
                f"{self.repair(state, row, 'REV')}"
            )
            path, line, column = state.anchor()
            fix = Fix("find the revision the database is at, then stamp it", applicable=False)
        return self.finding(ctx, path, line, column, message, row, fix)

    @staticmethod
    def repair(state: DatabaseState, row: str, target: str) -> str:
        if len(state.live.versions) == 1:
            return (
                f"`{stamp_command(target, purge=True)}` (or: {state.update_statement(row, target)})"
            )
        # `stamp --purge` would empty the whole table, losing the other branches' rows.
        return state.update_statement(row, target)
