from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration


class FilenameMismatch(Rule):
    """
    ## What it does
    Reports a file whose name does not carry its revision id although the environment's
    `file_template` (default `%%(rev)s_%%(slug)s`) puts the id in every file name. Off by
    default; enable it with `--select CL103` or `extend-select = ["CL103"]`.

    ## Why is this bad?
    People find a revision by its file name. A renamed or copied file whose name carries another
    id is how a `down_revision` ends up naming a file stem instead of a revision (CL001).

    ## Example
    ```python
    # versions/3f2c9a1b7d4e_add_users.py
    revision = "9b8e7d6c5a4f"
    ```

    ## Fix
    None automatic: rename the file (or the id, with CL006's help, if it was never applied).
    """

    code = "CL103"
    name = "filename-mismatch"
    severity = "warning"
    default_enabled = False

    valid = (Example({"3f2c9a1b7d4e_add_users.py": migration("3f2c9a1b7d4e", None)}),)
    invalid = (
        Example(
            {"3f2c9a1b7d4e_add_users.py": migration("9b8e7d6c5a4f", None)},
            (
                Expected(
                    "versions/3f2c9a1b7d4e_add_users.py",
                    12,
                    "file name does not contain the revision id '9b8e7d6c5a4f'",
                ),
            ),
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        template = ctx.graph.environment.file_template
        if "%(rev)s" not in template:
            return
        for rev, file in ctx.graph.revisions.items():
            if file.revision is None or rev in file.path.stem:
                continue
            message = (
                f"file name does not contain the revision id '{rev}' although file_template "
                f"'{template}' puts it there"
            )
            yield self.finding(
                ctx, file.path, file.revision.line, file.revision.column, message, rev
            )
