from __future__ import annotations

import re
from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration

# Alembic's Revision.verify_rev_id rejects these characters.
ILLEGAL_CHARACTERS = ("@", "-", "+", ":")
# A `Revises:` header is split on commas and stripped of quotes and brackets.
_HEADER_SYNTAX = (",", "'", '"')
# The common id (hex digits, letters, underscores): legal, and safe in a header unless 'None'.
_PLAIN_ID = re.compile(r"[A-Za-z0-9_]+")


def header_unsafe(value: str) -> str | None:
    """Why `value` cannot be written in a `Revision ID:` / `Revises:` header line (and read
    back as the same id), or None when it can."""
    if _PLAIN_ID.fullmatch(value) and value != "None":
        return None
    if not value.strip():
        return "is blank"
    if value != value.strip():
        return "has leading or trailing whitespace"
    if value == "None":
        return "is the string 'None', which a header reads as no revision"
    if any(not char.isprintable() for char in value):
        return "contains a line break or another control character"
    if any(char.isspace() for char in value):
        return "contains whitespace"
    found = sorted(set(value) & set(_HEADER_SYNTAX))
    if found:
        return f"contains {' and '.join(repr(c) for c in found)}"
    if value[0] in "([" or value[-1] in ")]":
        return "starts or ends with a bracket"
    return None


class IllegalRevisionId(Rule):
    """
    ## What it does
    Reports a `revision` that is empty, not a string, or contains a character Alembic rejects
    (`@`, `-`, `+`, `:`); and one that cannot be written in a docstring header: leading or
    trailing whitespace, a line break or other whitespace, a comma, a quote, or the string
    `'None'`.

    ## Why is this bad?
    Those characters are Alembic's own syntax (`branch@head`, `head-1`, `+2`, `a:b` ranges), so
    Alembic refuses the id when it loads the file: "Character(s) '-' not allowed in revision
    identifier". A number or a tuple makes it fail with a `TypeError`. Alembic checks `revision`
    only; the same character in a `down_revision` is reported as CL001. Alembic loads an id
    such as `'a '` or `'a\\nb'` as it is, but the `Revision ID:` and `Revises:` lines Alembic
    writes cannot carry it (a header is one line, split on commas, stripped of spaces and
    quotes), so header and code can never agree, and the id is stored verbatim in
    `alembic_version` where nobody can type it.

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
        Example(
            {"a.py": migration("a ", None), "b.py": migration("b", "a ", revises_header="x")},
            (Expected("versions/a.py", 12, "revision 'a ' has leading or trailing whitespace"),),
            description="an id a header cannot carry (CL101 does not offer a header edit)",
        ),
        Example(
            {"a.py": migration("a\nb", None, header=False)},
            (Expected("versions/a.py", 5, "contains a line break"),),
        ),
        Example(
            {"a.py": migration("a,b", None)},
            (Expected("versions/a.py", 12, "contains ','"),),
        ),
        Example(
            {"a.py": migration("None", None)},
            (Expected("versions/a.py", 12, "is the string 'None'"),),
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for file in ctx.graph.files:
            assignment = file.revision
            if file.problem is not None or assignment is None or assignment.shape == "dynamic":
                continue
            value = file.revision_id
            if value is not None and _PLAIN_ID.fullmatch(value) and value != "None":
                continue  # no illegal character, and header_unsafe() finds nothing
            line, column = assignment.line, assignment.column
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
                    continue
                unsafe = header_unsafe(value)
                if unsafe is not None:
                    message = (
                        f"revision {_shown(value)} {unsafe}; Alembic loads it as it is, but the "
                        f"`Revision ID:`/`Revises:` header lines cannot carry it, so header and "
                        f"code never agree and `alembic_version` stores it verbatim: use "
                        f"letters, digits and underscores"
                    )
                    yield self.finding(ctx, file.path, line, column, message, value)


def _shown(value: str) -> str:
    """The id quoted, control characters escaped so the message stays one line."""
    shown = repr(value)
    return shown if shown.startswith("'") else "'" + shown[1:-1] + "'"
