from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.ops import AddColumn, CreateTable, DropTable, MigrationOperations, RenameTable
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration

_TABLE = """op.create_table(
    "users",
    sa.Column("id", sa.Integer(), primary_key=True),
)"""


class NotNullColumnWithoutDefault(Rule):
    """
    ## What it does
    Reports a NOT NULL column added without a `server_default` to a table made before this
    revision. It reads `op.add_column`, `batch_op.add_column` and plain `ALTER TABLE ... ADD
    COLUMN ... NOT NULL` statements in `op.execute`. A table the same upgrade created, or
    emptied first (`DELETE FROM t` without `WHERE`, `TRUNCATE t`) and has not filled again
    (`INSERT`, `op.bulk_insert`), has no rows to fill.

    ## Why is this bad?
    The database must fill the new column for every existing row and has nothing to fill it
    with: PostgreSQL fails with `column "x" contains null values`, SQLite with `Cannot add a
    NOT NULL column with default value NULL`. The migration passes on an empty development
    database and fails in production, where the table has rows.

    ## Example
    ```python
    op.add_column("users", sa.Column("plan", sa.String(20), nullable=False))
    ```

    ## Fix
    Give it a `server_default` (drop it afterwards with `alter_column(server_default=None)` if
    it should not stay), or add it nullable, fill it, then `alter_column(..., nullable=False)`.
    """

    code = "CL305"
    name = "not-null-column-without-default"
    severity = "warning"

    valid = (
        Example(
            {
                "a.py": migration("a", None, upgrade=_TABLE),
                "b.py": migration(
                    "b",
                    "a",
                    upgrade='op.add_column("users", sa.Column("plan", sa.String(20), '
                    'nullable=False, server_default="free"))',
                ),
            },
            description="a server default fills the existing rows",
        ),
        Example(
            {
                "a.py": migration(
                    "a",
                    None,
                    upgrade=_TABLE
                    + '\nop.add_column("users", sa.Column("plan", sa.String(), nullable=False))',
                ),
            },
            description="the table is created in the same revision: it has no rows yet",
        ),
        Example(
            {
                "a.py": migration("a", None, upgrade=_TABLE),
                "b.py": migration(
                    "b",
                    "a",
                    upgrade='op.execute("DELETE FROM users")\n'
                    'op.rename_table("users", "accounts")\n'
                    'with op.batch_alter_table("accounts") as batch_op:\n'
                    '    batch_op.add_column(sa.Column("plan", sa.String(20), nullable=False))',
                ),
            },
            description="the rows are deleted first (Airflow's 0093 restructures a table so)",
        ),
    )
    invalid = (
        Example(
            {
                "a.py": migration("a", None, upgrade=_TABLE),
                "b.py": migration(
                    "b",
                    "a",
                    upgrade='with op.batch_alter_table("users") as batch_op:\n'
                    '    batch_op.add_column(sa.Column("plan", sa.String(20), nullable=False))',
                ),
            },
            (Expected("versions/b.py", 20, "NOT NULL column users.plan"),),
            description="batch add of a NOT NULL column",
        ),
        Example(
            {
                "a.py": migration("a", None, upgrade=_TABLE),
                "b.py": migration(
                    "b",
                    "a",
                    upgrade='op.execute("DELETE FROM users WHERE id > 10")\n'
                    'op.add_column("users", sa.Column("plan", sa.String(20), nullable=False))',
                ),
            },
            (Expected("versions/b.py", 20, "NOT NULL column users.plan"),),
            description="a DELETE with a WHERE clause keeps rows",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for rev, file in ctx.graph.revisions.items():
            operations = file.operations
            if operations is None:
                continue
            for operation in _adds_to_tables_with_rows(operations):
                definition = operation.column_def
                message = (
                    f"adds NOT NULL column {operation.table}.{definition.name} without a "
                    "server_default to a table made before this revision: the upgrade "
                    "fails on any table that has rows"
                )
                yield self.finding(ctx, file.path, operation.line, operation.column, message, rev)


def _adds_to_tables_with_rows(operations: MigrationOperations) -> Iterator[AddColumn]:
    """The NOT NULL columns without a server default that upgrade() adds to a table that may
    have rows: not one it created or emptied (`DELETE FROM t`, `TRUNCATE t`) and has not
    filled since."""
    empty: set[str] = set()
    rows = list(operations.upgrade_rows)
    for index, operation in enumerate(operations.upgrade):
        while rows and rows[0].at <= index:
            change = rows.pop(0)
            if change.emptied:
                empty.add(change.table)
            elif change.table:
                empty.discard(change.table)
            else:
                empty.clear()  # rows went somewhere chainlint cannot tell
        if isinstance(operation, CreateTable):
            empty.add(operation.table)
        elif isinstance(operation, RenameTable) and operation.table in empty:
            empty.discard(operation.table)
            empty.add(operation.new_name)
        elif isinstance(operation, DropTable):
            empty.discard(operation.table)
        elif isinstance(operation, AddColumn):
            definition = operation.column_def
            if not (
                definition.nullable
                or definition.server_default is not None
                or operation.table in empty
            ):
                yield operation
