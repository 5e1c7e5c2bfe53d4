from __future__ import annotations

from collections.abc import Iterator

from chainlint.edits import ReplaceHeaderLine
from chainlint.findings import Finding, Fix
from chainlint.graph import is_unresolved
from chainlint.read import header_revises
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration
from chainlint.rules.cl005_illegal_revision_id import header_unsafe


class HeaderMismatch(Rule):
    """
    ## What it does
    Reports a docstring header (`Revision ID:` / `Revises:`) that disagrees with the code.

    ## Why is this bad?
    Alembic writes the header when it generates a file and never reads it again; people do. When
    someone re-points `down_revision` by hand and forgets the header, the next reader trusts the
    wrong line — and tools such as `alembic history` show the docstring next to the real ids.

    ## Example
    ```python
    \"\"\"add users

    Revision ID: 002
    Revises: 001_add_workflow_run_fields
    \"\"\"
    revision = "002"
    down_revision = "001"
    ```

    ## Fix
    `chainlint fix --extend-fix CL101` rewrites the header so it follows the code (a warning:
    its fix applies only when named). An id a header cannot carry (`'a '`, a line break, a
    comma) is CL005's finding instead, and no header edit is offered.
    """

    code = "CL101"
    name = "header-mismatch"
    severity = "warning"
    fixable = True

    valid = (
        Example({"a.py": migration("a", None), "b.py": migration("b", "a")}),
        Example({"a.py": migration("a", None, header=False)}, description="no header at all"),
        Example(
            {"a.py": migration("a", None, revises_header="None")},
            description="older templates wrote a base's header as `Revises: None`",
        ),
    )
    invalid = (
        Example(
            {"a.py": migration("a", None), "b.py": migration("b", "a", revises_header="zzz")},
            (Expected("versions/b.py", 4, "header says Revises: zzz but down_revision is 'a'"),),
        ),
        Example(
            {"a.py": migration("a", None).replace("Revision ID: a", "Revision ID: 0a")},
            (Expected("versions/a.py", 3, "header says Revision ID: 0a but revision is 'a'"),),
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for rev, file in ctx.graph.revisions.items():
            header = file.header_field("Revision ID")
            # An id a header cannot carry is CL005's finding; no header edit could ever agree.
            if (
                header is not None
                and file.revision is not None
                and header.value != rev
                and header_unsafe(rev) is None
            ):
                message = f"header says Revision ID: {header.value} but revision is '{rev}'"
                fix = Fix(
                    f"set the header to Revision ID: {rev}",
                    edits=(
                        ReplaceHeaderLine(file.path, header.line, "Revision ID", header.value, rev),
                    ),
                )
                yield self.finding(ctx, file.path, header.line, header.column, message, rev, fix)
            revises = file.header_field("Revises")
            down = file.down_revision
            if revises is None or down is None or is_unresolved(down):
                continue
            parents = file.down_revisions
            # The header as Alembic writes it agrees whatever the ids are (header_revises reads
            # safe ids back unchanged; an unsafe one is skipped below): no split needed.
            if revises.value == ", ".join(parents):
                continue
            if any(header_unsafe(parent) is not None for parent in parents):
                continue
            if set(header_revises(revises.value)) != set(parents):
                code_side = "None" if not parents else ", ".join(f"'{p}'" for p in parents)
                message = (
                    f"header says Revises: {revises.value or '(nothing)'} but down_revision is "
                    f"{code_side}"
                )
                new = ", ".join(parents)
                fix = Fix(
                    f"set the header to Revises: {new}".rstrip(),
                    edits=(
                        ReplaceHeaderLine(file.path, revises.line, "Revises", revises.value, new),
                    ),
                )
                yield self.finding(ctx, file.path, revises.line, revises.column, message, rev, fix)
