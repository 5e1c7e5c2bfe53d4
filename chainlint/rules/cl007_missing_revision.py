from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration


class MissingRevision(Rule):
    """
    ## What it does
    Reports a file Alembic would load that declares no `revision` or no `down_revision`.

    ## Why is this bad?
    Alembic loads every `.py` file in a versions folder except `__init__*` and `.#*`. A file
    without `revision` (a helper module such as `_utils.py` counts) makes every command fail with
    "Could not determine revision id from filename"; one without `down_revision` fails with an
    `AttributeError`.

    ## Example
    ```python
    # versions/_utils.py — a helper that happens to live among the migrations
    def create_enum(name): ...
    ```

    ## Fix
    None automatic: move helper modules out of the versions folder (or into a package outside
    it); declare `down_revision = None` for a base, or the parent's id.
    """

    code = "CL007"
    name = "missing-revision"
    severity = "error"

    valid = (
        Example(
            {
                "a.py": migration("a", None),
                "__init__.py": "",
                "ab12cd.py": migration(None, "a"),
            },
            description="__init__.py is skipped; a hex file name is Alembic's legacy id",
        ),
    )
    invalid = (
        Example(
            {"a.py": migration("a", None), "_utils.py": "def helper():\n    pass\n"},
            (
                Expected(
                    "versions/_utils.py",
                    1,
                    "Could not determine revision id from filename _utils.py",
                ),
            ),
        ),
        Example(
            {"a.py": migration("a", None), "b.py": 'revision = "b"\n'},
            (Expected("versions/b.py", 1, "declares no down_revision"),),
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for file in ctx.graph.files:
            if file.problem is not None:
                continue
            if file.revision is None and file.legacy_revision is None:
                message = (
                    f'declares no `revision`: every Alembic command fails with "Could not '
                    f'determine revision id from filename {file.path.name}"; Alembic loads every '
                    f".py file here except __init__* and .#*, so move helper modules elsewhere"
                )
                yield self.finding(ctx, file.path, 1, 1, message)
            elif file.down_revision is None:
                rev = file.revision_id
                line = file.revision.line if file.revision else 1
                message = (
                    "declares no down_revision: every Alembic command fails with AttributeError; "
                    "set down_revision = None for a base, or the parent's id"
                )
                yield self.finding(ctx, file.path, line, 1, message, rev)
