from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration

# Alembic's Revision.verify_rev_id rejects these characters.
ILLEGAL_CHARACTERS = ("@", "-", "+", ":")


class IllegalRevisionId(Rule):
    """
    ## What it does
    Reports a `revision` that is empty, not a string, or contains a character Alembic rejects
    (`@`, `-`, `+`, `:`).

    ## Why is this bad?
    Those characters are Alembic's own syntax (`branch@head`, `head-1`, `+2`, `a:b` ranges), so
    Alembic refuses the id when it loads the file: "Character(s) '-' not allowed in revision
    identifier". A number or a tuple makes it fail with a `TypeError`. Alembic checks `revision`
    only; the same character in a `down_revision` is reported as CL001.

    ## Example
    ```python
    revision = "2024-01-add-users"
    ```

    ## Fix
    None automatic: pick an id without those characters (`2024_01_add_users`) and update the
    revisions that name it.
    """

    code = "CL005"
    name = "illegal-revision-id"
    severity = "error"

    valid = (Example({"a.py": migration("2024_01_add_users", None)}),)
    invalid = (
        Example(
            {"a.py": migration("2024-01-add-users", None)},
            (Expected("versions/a.py", 12, "Character(s) '-' not allowed in revision identifier"),),
        ),
        Example(
            {
                "a.py": migration(None, None).replace(
                    "down_revision =", "revision = 7\ndown_revision ="
                )
            },
            (Expected("versions/a.py", 12, "revision is int 7, not a string"),),
        ),
        Example(
            {"a.py": migration("", None)},
            (Expected("versions/a.py", 12, "revision is an empty string"),),
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for file in ctx.graph.files:
            assignment = file.revision
            if file.problem is not None or assignment is None or assignment.shape == "dynamic":
                continue
            line, column = assignment.line, assignment.column
            value = file.revision_id
            if value is None:
                if assignment.unresolved and all(i.kind == "dynamic" for i in assignment.items):
                    continue  # CL008
                what = (
                    "None"
                    if assignment.shape == "none"
                    else "a tuple"
                    if assignment.shape == "sequence"
                    else f"{assignment.items[0].kind} {assignment.items[0].source}"
                )
                message = (
                    f"revision is {what}, not a string; Alembic fails every command with a "
                    f"TypeError when it loads this file"
                )
                yield self.finding(ctx, file.path, line, column, message)
            elif value == "" or not value.strip():
                message = (
                    "revision is an empty string; Alembic cannot address it and `alembic "
                    "upgrade` stores it as an empty version"
                )
                yield self.finding(ctx, file.path, line, column, message, value)
            else:
                illegal = sorted(set(value) & set(ILLEGAL_CHARACTERS))
                if illegal:
                    message = (
                        f"revision '{value}': Alembic fails every command with \"Character(s) "
                        f"'{', '.join(illegal)}' not allowed in revision identifier '{value}'\""
                    )
                    yield self.finding(ctx, file.path, line, column, message, value)
