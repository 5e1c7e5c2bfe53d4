from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration


class RemovedAppliedMigration(Rule):
    """
    ## What it does
    With `--base REF`: reports a revision that exists on REF but is gone from this branch
    (deleted, or its id changed).

    ## Why is this bad?
    Databases that applied it record its id in `alembic_version`; once it is gone, every
    command against them fails with "Can't locate revision identified by '<id>'".

    ## Example
    ```
    main:    versions/b_add_users.py  (revision = "b")
    branch:  (deleted)
    ```

    ## Fix
    None automatic: restore the file. To undo a migration, write a new one that reverses it.
    """

    code = "CL203"
    name = "removed-applied-migration"
    severity = "error"

    valid = (
        Example(
            {"a.py": migration("a", None), "b.py": migration("b", "a")},
            base={"a.py": migration("a", None)},
            description="adding revisions is fine",
        ),
    )
    invalid = (
        Example(
            {"a.py": migration("a", None)},
            (Expected("versions/b.py", 1, "revision 'b' exists on main"),),
            base={"a.py": migration("a", None), "b.py": migration("b", "a")},
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        if ctx.base is None:
            return
        for rev, old in ctx.base.graph.revisions.items():
            if rev in ctx.graph.revisions or ctx.base.before_this_branch(old.path) is None:
                continue  # still here, or added on REF after this branch forked
            message = (
                f"revision '{rev}' exists on {ctx.base.ref} but is gone from this branch: "
                f"databases that applied it fail every command with \"Can't locate revision "
                f"identified by '{rev}'\"; restore the file"
            )
            yield self.finding(ctx, old.path, 1, 1, message, rev)
