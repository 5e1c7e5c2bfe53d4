from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration
from chainlint.rules.schema_common import history

_TABLE = """op.create_table(
    "users",
    sa.Column("id", sa.Integer(), primary_key=True),
)"""
_ADD = """op.add_column("users", sa.Column("email", sa.String(), nullable=True))
op.create_index("ix_users_email", "users", ["email"])"""


class DowngradeDoesNotRevert(Rule):
    """
    ## What it does
    Replays `upgrade()` and then `downgrade()` on the schema model and reports a revision whose
    downgrade does not bring back the schema it started from: it names the tables, columns and
    indexes left behind or lost, and the downgrade operations that would fail. Only when
    `downgrade()` does something: an empty or missing one is CL304's business.

    ## Why is this bad?
    A downgrade is the rollback plan of a deploy. One that forgets a column leaves the next
    upgrade failing with "already exists"; one that drops the wrong thing loses data; one that
    drops what is not there stops half-way, with the version table pointing nowhere useful.

    ## Example
    ```python
    def upgrade():
        op.add_column("users", sa.Column("email", sa.String()))
        op.create_index("ix_users_email", "users", ["email"])

    def downgrade():
        op.drop_column("users", "email")    # ix_users_email? dropped with it; fine
        op.drop_column("users", "nickname") # not there: the downgrade fails
    ```

    ## Fix
    Make `downgrade()` undo exactly what `upgrade()` did, in reverse order. When a migration
    cannot be undone, say so: `raise NotImplementedError(...)` (CL303 then stays silent).
    """

    code = "CL303"
    name = "downgrade-does-not-revert"
    severity = "warning"
    replays_schema = True

    valid = (
        Example(
            {
                "a.py": migration("a", None, upgrade=_TABLE, downgrade='op.drop_table("users")'),
                "b.py": migration(
                    "b",
                    "a",
                    upgrade=_ADD,
                    downgrade='op.drop_index("ix_users_email", table_name="users")\n'
                    'op.drop_column("users", "email")',
                ),
            },
            description="downgrade undoes upgrade in reverse order",
        ),
        Example(
            {
                "a.py": migration(
                    "a", None, upgrade=_TABLE, downgrade='raise NotImplementedError("one way")'
                ),
            },
            description="an irreversible migration that says so",
        ),
    )
    invalid = (
        Example(
            {
                "a.py": migration("a", None, upgrade=_TABLE, downgrade='op.drop_table("users")'),
                "b.py": migration(
                    "b",
                    "a",
                    upgrade=_ADD,
                    downgrade='op.drop_index("ix_users_email", table_name="users")',
                ),
            },
            (Expected("versions/b.py", 23, "leaves column users.email behind"),),
            description="the added column stays",
        ),
        Example(
            {
                "a.py": migration("a", None, upgrade=_TABLE, downgrade='op.drop_table("user")'),
            },
            (Expected("versions/a.py", 25, "leaves table users behind"),),
            description="drops the wrong table",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        graph = ctx.graph
        for rev, revert in history(ctx).reverts.items():
            file = graph.revisions[rev]
            operations = file.operations
            parts = []
            if revert.left_behind:
                parts.append(f"leaves {', '.join(revert.left_behind)} behind")
            if revert.lost:
                parts.append(f"loses {', '.join(revert.lost)}")
            for failure in revert.failures:
                verb = "already exists" if failure.kind == "exists" else "does not exist"
                parts.append(f"fails at line {failure.operation.line}: {failure.what} {verb}")
            line = operations.downgrade_line if operations and operations.downgrade_line else 1
            message = f"downgrade() does not revert upgrade(): {'; '.join(parts)}"
            yield self.finding(ctx, file.path, line, 1, message, rev)
