from __future__ import annotations

from collections.abc import Iterator

from chainlint.edits import SetAssignment
from chainlint.findings import Finding, Fix
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration


class SuspiciousBranchLabel(Rule):
    """
    ## What it does
    Reports a branch label that is the string `'None'`, empty, or blank.

    ## Why is this bad?
    `branch_labels = "None"` is almost always `None` written as a string (a template rendered
    with a stray quote). Alembic then treats `None` as a real branch name: `None@head` becomes a
    valid target and a second file with the same mistake fails with "Branch name 'None' ...
    already used".

    ## Example
    ```python
    branch_labels = "None"
    ```

    ## Fix
    `chainlint fix --extend-fix CL013` removes the label (`branch_labels = None` when nothing
    else is left). A warning: its fix applies only when the rule is named.
    """

    code = "CL013"
    name = "suspicious-branch-label"
    severity = "warning"
    fixable = True

    valid = (Example({"a.py": migration("a", None, branch_labels="core")}),)
    invalid = (
        Example(
            {"a.py": migration("a", None, branch_labels="None")},
            (Expected("versions/a.py", 14, "branch label 'None' is a string"),),
        ),
        Example(
            {"a.py": migration("a", None, branch_labels=("core", " "))},
            (Expected("versions/a.py", 14, "branch label ' ' is blank"),),
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for file in ctx.graph.files:
            assignment = file.branch_labels
            if file.problem is not None or assignment is None:
                continue
            bad = [i for i in assignment.items if i.value is not None and _suspicious(i.value)]
            if not bad:
                continue
            keep = tuple(
                i.value
                for i in assignment.items
                if i.value is not None and not _suspicious(i.value)
            )
            value: str | tuple[str, ...] | None = keep if keep else None
            for item in bad:
                assert item.value is not None
                if item.value.strip() == "None":
                    what = (
                        f"branch label '{item.value}' is a string, almost certainly meant as None"
                    )
                else:
                    what = (
                        f"branch label '{item.value}' is {'empty' if not item.value else 'blank'}"
                    )
                message = f"{what}; Alembic treats it as a real branch name"
                fix = Fix(
                    "set branch_labels to " + (repr(value) if value is not None else "None"),
                    applicable=item.via is None,
                    edits=(SetAssignment(file.path, "branch_labels", value),),
                )
                yield self.finding(
                    ctx, file.path, item.line, item.column, message, file.revision_id, fix
                )


def _suspicious(label: str) -> bool:
    return not label.strip() or label.strip() == "None"
