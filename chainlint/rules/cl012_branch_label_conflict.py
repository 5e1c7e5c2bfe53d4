from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration


class BranchLabelConflict(Rule):
    """
    ## What it does
    Reports a branch label used by two revisions (or twice by one), or equal to a revision id.

    ## Why is this bad?
    Branch labels share one namespace with revision ids in Alembic's revision map. A clash makes
    every command fail with "Branch name '<label>' in revision <id> already used by revision
    <other>".

    ## Example
    ```python
    # versions/n1.py                    # versions/n2.py
    branch_labels = ("network",)        branch_labels = ("network",)
    ```

    ## Fix
    None automatic: a label belongs on the first revision of its branch only; remove the copy or
    rename one of the branches.
    """

    code = "CL012"
    name = "branch-label-conflict"
    severity = "error"

    valid = (
        Example(
            {
                "a.py": migration("a", None, branch_labels="main"),
                "n.py": migration("n1", None, branch_labels="network"),
            }
        ),
    )
    invalid = (
        Example(
            {
                "a.py": migration("a", None, branch_labels="network"),
                "n.py": migration("n1", None, branch_labels="network"),
            },
            (
                Expected(
                    "versions/n.py", 14, "branch label 'network' is already used by revision 'a'"
                ),
            ),
        ),
        Example(
            {"a.py": migration("a", None), "n.py": migration("n1", "a", branch_labels="a")},
            (Expected("versions/n.py", 14, "branch label 'a' is also the id of revision 'a'"),),
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        graph = ctx.graph
        for conflict in graph.label_conflicts:
            file = conflict.file
            rev = file.revision_id
            holder = graph.revisions[conflict.holder]
            if conflict.label == conflict.holder and conflict.label in graph.revisions:
                what = f"is also the id of revision '{conflict.holder}'"
            else:
                what = f"is already used by revision '{conflict.holder}'"
            message = (
                f"branch label '{conflict.label}' {what} ({ctx.display(holder.path)}); every "
                f"Alembic command fails with \"Branch name '{conflict.label}' in revision {rev} "
                f'already used by revision {conflict.holder}"'
            )
            assignment = file.branch_labels
            item = (
                next((i for i in assignment.items if i.value == conflict.label), None)
                if assignment
                else None
            )
            line, column = (item.line, item.column) if item else (1, 1)
            yield self.finding(ctx, file.path, line, column, message, rev)
