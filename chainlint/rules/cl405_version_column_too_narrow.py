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
from chainlint.rules.dbstate import DatabaseState

_LONG_ID = "add_conditional_execution_columns_to_steps"  # 42 characters


class VersionColumnTooNarrow(Rule):
    """
    ## What it does
    With `chainlint db`: reports a pending revision whose id is longer than the database's
    `version_num` column (`VARCHAR(32)` when Alembic created the table).

    ## Why is this bad?
    Alembic writes each revision's id into the version table as it applies it. PostgreSQL and
    strict MySQL refuse the longer value — `value too long for type character varying(32)` —
    so the upgrade fails after the migration's own work, at the very end of a deploy. SQLite
    stores the long value anyway, which is why tests on SQLite never see it (it is not reported
    there). CL006 finds long ids in the files; this rule checks the real column, which may have
    been widened or narrowed.

    ## Example
    ```
    $ chainlint db --url "$DATABASE_URL"
    revision 'add_conditional_execution_columns_to_steps' is 42 characters but
    alembic_version.version_num is VARCHAR(32) ...
    ```

    ## Fix
    Either give the revision a shorter id while it is applied nowhere
    (`chainlint fix --select CL006`), or widen the column — widening loses nothing:
    `ALTER TABLE alembic_version ALTER COLUMN version_num TYPE VARCHAR(64)`.
    """

    code = "CL405"
    name = "version-column-too-narrow"
    severity = "error"

    valid = (
        Example(
            {"a.py": migration("001", None), "b.py": migration(_LONG_ID, "001")},
            database=DatabaseSetup(version_table("001", length=64), dialect="postgresql"),
            description="a widened version_num column",
        ),
        Example(
            {"a.py": migration("001", None), "b.py": migration(_LONG_ID, "001")},
            database=DatabaseSetup(version_table("001")),
            description="SQLite does not enforce VARCHAR lengths",
        ),
    )
    invalid = (
        Example(
            {"a.py": migration("001", None), "b.py": migration(_LONG_ID, "001")},
            (
                Expected(
                    "versions/b.py",
                    12,
                    f"revision '{_LONG_ID}' is 42 characters but alembic_version.version_num "
                    'is VARCHAR(32): `alembic upgrade` fails with "value too long for type '
                    'character varying(32)" when it records this revision. Repair: '
                    "ALTER TABLE alembic_version ALTER COLUMN version_num TYPE VARCHAR(64); "
                    "or shorten the id: `chainlint fix --select CL006`",
                ),
            ),
            database=DatabaseSetup(version_table("001"), dialect="postgresql"),
            description="a 42-character pending id, PostgreSQL's VARCHAR(32)",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        state = ctx.database
        if state is None or state.unknown:
            return
        live = state.live
        length = live.version_num_length
        if not live.has_version_table or length is None or not live.enforces_length:
            return
        for revision in state.pending:
            if len(revision) > length:
                repair = self.repair(state, length)
                message = (
                    f"revision '{revision}' is {len(revision)} characters but "
                    f"{live.version_table}.version_num is VARCHAR({length}): `alembic upgrade` "
                    f'fails with "value too long for type character varying({length})" when it '
                    f"records this revision. Repair: {repair}"
                )
                path, line, column = state.anchor(revision)
                yield self.finding(
                    ctx, path, line, column, message, revision, Fix(repair, applicable=False)
                )

    @staticmethod
    def repair(state: DatabaseState, length: int) -> str:
        longest = max(len(rev) for rev in state.graph.revisions)
        width = max(64, longest)
        widen = (
            f"ALTER TABLE {state.live.version_table_name} ALTER COLUMN version_num "
            f"TYPE VARCHAR({width});"
        )
        flag = "" if length == 32 else f" --max-revision-length {length}"
        return f"{widen} or shorten the id: `chainlint fix --select CL006{flag}`"
