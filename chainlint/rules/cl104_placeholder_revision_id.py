from __future__ import annotations

import re
from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration

# Matched once per id (`match`: every alternative starts at the start of the id).
_PLACEHOLDER = re.compile(
    r"(?P<c>.)(?P=c){3,}$"  # one repeated character: 000000000000, aaaa
    r"|0{6,}[0-9]{1,6}$"  # 000000000001
    r"|(?:a1b2c3d4e5f6|1a2b3c4d5e6f|abcdef123456|123456abcdef)$"
    r"|(?:0123456789ab|123456789abc|1234567890ab)$"
    r"|(?i:abc123|deadbeef|cafebabe|feedface|badc0ffee|xxxx|todo|changeme)"
)


class PlaceholderRevisionId(Rule):
    """
    ## What it does
    Reports a revision id that is a well-known placeholder rather than a generated one
    (`a1b2c3d4e5f6`, `000000000001`, `abc123…`, `deadbeef…`, one repeated character).

    ## Why is this bad?
    Placeholder ids are copied from documentation, tutorials and other migrations; two copies of
    the same placeholder are how duplicate ids (CL003) are born, often in different branches
    that only collide after merging.

    ## Example
    ```python
    revision = "a1b2c3d4e5f6"
    ```

    ## Fix
    None automatic: generate a real id (`python -c "import uuid; print(uuid.uuid4().hex[-12:])"`,
    which is what `alembic revision` does) before the revision reaches a database.
    """

    code = "CL104"
    name = "placeholder-revision-id"
    severity = "warning"

    valid = (
        Example({"a.py": migration("3f2c9a1b7d4e", None)}),
        Example({"a.py": migration("001", None)}, description="short human-chosen ids are fine"),
    )
    invalid = (
        Example(
            {"a.py": migration("a1b2c3d4e5f6", None)},
            (Expected("versions/a.py", 12, "'a1b2c3d4e5f6' looks like a placeholder"),),
        ),
        Example(
            {"a.py": migration("000000000001", None)},
            (Expected("versions/a.py", 12, "'000000000001' looks like a placeholder"),),
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for rev, file in ctx.graph.revisions.items():
            if file.revision is None or not _PLACEHOLDER.match(rev):
                continue
            message = (
                f"revision '{rev}' looks like a placeholder, not a generated id; copies of the "
                f"same placeholder become duplicate revisions"
            )
            yield self.finding(
                ctx, file.path, file.revision.line, file.revision.column, message, rev
            )
