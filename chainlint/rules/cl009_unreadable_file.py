from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration


class UnreadableFile(Rule):
    """
    ## What it does
    Reports a migration file that cannot be read, decoded or parsed.

    ## Why is this bad?
    Alembic imports every file in the versions folder; one it cannot import makes every command
    fail. chainlint cannot see the revision it should declare either, so the graph has a hole.

    ## Example
    ```python
    revision = "b"
    down_revision = "a"
    def upgrade(:   # SyntaxError
    ```

    ## Fix
    None automatic: repair the file (or remove stray non-migration files from the versions
    folder).
    """

    code = "CL009"
    name = "unreadable-file"
    severity = "error"

    valid = (Example({"a.py": migration("a", None)}),)
    invalid = (
        Example(
            {
                "a.py": migration("a", None),
                "b.py": 'revision = "b"\ndown_revision = "a"\ndef upgrade(:\n',
            },
            (Expected("versions/b.py", 3, "is not valid Python"),),
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for file in ctx.graph.files:
            if file.problem is None:
                continue
            problem = file.problem
            message = (
                f"{file.path.name} {problem.message}; Alembic cannot import it, so every command "
                f"fails"
            )
            yield self.finding(ctx, file.path, problem.line, problem.column, message)
