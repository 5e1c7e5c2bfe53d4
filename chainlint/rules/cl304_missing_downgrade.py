from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration

_ADD = 'op.add_column("users", sa.Column("email", sa.String(), nullable=True))'


class MissingDowngrade(Rule):
    """
    ## What it does
    Reports a revision whose `upgrade()` changes the schema while `downgrade()` is missing or
    does nothing (`pass`, a docstring). Off by default: enable it with
    `extend-select = ["CL304"]` where rollbacks are part of the deploy plan.

    ## Why is this bad?
    `alembic downgrade` runs it and reports success while the schema stays as it was: the
    version table and the database disagree from then on. Alembic's own guide asks for both
    `upgrade()` and `downgrade()`.

    ## Example
    ```python
    def upgrade():
        op.add_column("users", sa.Column("email", sa.String()))

    def downgrade():
        pass
    ```

    ## Fix
    Write the reverse operations, or `raise NotImplementedError(...)` when the change cannot be
    undone, so a rollback stops loudly instead of silently doing nothing.
    """

    code = "CL304"
    name = "missing-downgrade"
    severity = "warning"
    default_enabled = False

    valid = (
        Example(
            {
                "a.py": migration(
                    "a", None, upgrade=_ADD, downgrade='op.drop_column("users", "email")'
                )
            },
            description="both directions written",
        ),
        Example({"a.py": migration("a", None)}, description="an empty revision (a merge, say)"),
    )
    invalid = (
        Example(
            {"a.py": migration("a", None, upgrade=_ADD)},
            (Expected("versions/a.py", 22, "downgrade() does nothing"),),
            description="downgrade is pass",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for rev, file in ctx.graph.revisions.items():
            operations = file.operations
            if operations is None or not operations.upgrade:
                continue
            if operations.has_downgrade and not operations.downgrade_is_empty:
                continue
            if operations.has_downgrade:
                line, what = operations.downgrade_line, "downgrade() does nothing"
            else:
                line, what = operations.upgrade_line, "there is no downgrade()"
            message = (
                f"{what} while upgrade() changes the schema ({len(operations.upgrade)} "
                f"operation{'s' if len(operations.upgrade) != 1 else ''}): `alembic downgrade` "
                "would report success and change nothing"
            )
            yield self.finding(ctx, file.path, line or 1, 1, message, rev)
