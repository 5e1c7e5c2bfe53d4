from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration


class DynamicRevision(Rule):
    """
    ## What it does
    Reports a `revision`, `down_revision`, `branch_labels` or `depends_on` value that is computed
    rather than a literal chainlint can resolve (module constants and constants imported from
    the project's own modules are resolved).

    ## Why is this bad?
    chainlint never imports a migration, so it cannot know a computed value; the revision graph
    is incomplete around it. No rule reports an error from a value it could not resolve: an
    unresolved branch label is unknown, not absent.

    ## Example
    ```python
    down_revision = os.environ["PARENT"]
    ```

    ## Fix
    None automatic: write the id as a string literal (Alembic's own templates do).
    """

    code = "CL008"
    name = "dynamic-revision"
    severity = "warning"

    valid = (
        Example(
            {
                "a.py": migration("a", None),
                "b.py": 'PARENT = "a"\nrevision = "b"\ndown_revision = PARENT\n',
            },
            description="a module-level constant is resolved",
        ),
    )
    invalid = (
        Example(
            {
                "a.py": migration("a", None),
                "b.py": 'import os\nrevision = "b"\ndown_revision = os.environ["PARENT"]\n',
            },
            (Expected("versions/b.py", 3, 'down_revision is computed (os.environ["PARENT"])'),),
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for file in ctx.graph.files:
            if file.problem is not None:
                continue
            for assignment in (
                file.revision,
                file.down_revision,
                file.branch_labels,
                file.depends_on,
            ):
                if assignment is None:
                    continue
                for item in assignment.items:
                    if item.kind != "dynamic":
                        continue
                    message = (
                        f"{assignment.name} is computed ({item.source}), not a literal chainlint "
                        f"can resolve without importing the file; the graph around "
                        f"{file.path.name} is incomplete"
                    )
                    yield self.finding(
                        ctx, file.path, item.line, item.column, message, file.revision_id
                    )
