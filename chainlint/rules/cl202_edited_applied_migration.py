from __future__ import annotations

import ast
from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.read import parse_revision_source
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration
from chainlint.source import decode_source

_OPERATIONS = ("upgrade", "downgrade")


class EditedAppliedMigration(Rule):
    """
    ## What it does
    With `--base REF`: reports a migration that exists on REF whose identifiers
    (`revision`, `down_revision`, `branch_labels`, `depends_on`) or whose `upgrade()` /
    `downgrade()` code changed. Code is compared as syntax trees, so reformatting, comments and
    docstrings do not count.

    ## Why is this bad?
    Databases that already applied the migration never run it again: an edit reaches new
    databases only, and production drifts from development. A changed `down_revision` rewrites
    history under databases that are already past it.

    ## Example
    ```python
    def upgrade():
        op.add_column("users", sa.Column("email", sa.String(255)))  # was String(100) on main
    ```

    ## Fix
    None automatic: revert the edit and write a new migration for the change.
    """

    code = "CL202"
    name = "edited-applied-migration"
    severity = "warning"

    valid = (
        Example(
            {
                "a.py": migration("a", None).replace(
                    "    pass\n\n\ndef downgrade", "    pass  # ok\n\n\ndef downgrade"
                )
            },
            base={"a.py": migration("a", None)},
            description="a comment is not a change",
        ),
    )
    invalid = (
        Example(
            {
                "a.py": migration("a", None).replace(
                    "    pass\n\n\ndef downgrade", "    op.drop_table('t')\n\n\ndef downgrade"
                )
            },
            (Expected("versions/a.py", 18, "its upgrade() changed"),),
            base={"a.py": migration("a", None)},
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        if ctx.base is None:
            return
        base = ctx.base
        for rev, file in ctx.graph.revisions.items():
            on_ref = base.graph.revisions.get(rev)
            old_bytes = base.before_this_branch(on_ref.path) if on_ref is not None else None
            if on_ref is None or old_bytes is None or file.problem is not None:
                continue
            old = parse_revision_source(on_ref.path, old_bytes)
            if old.problem is not None:
                continue
            changed = [
                name
                for name, before, after in (
                    ("down_revision", old.down_revisions, file.down_revisions),
                    ("branch_labels", old.labels, file.labels),
                    ("depends_on", old.dependencies, file.dependencies),
                )
                if before != after
            ]
            line = file.revision.line if file.revision else 1
            try:
                new_bytes = file.path.read_bytes()
            except OSError:
                continue
            if old_bytes != new_bytes:
                before_ops, after_ops = _operations(old_bytes), _operations(new_bytes)
                for name in _OPERATIONS:
                    if before_ops.get(name, (0, ""))[1] != after_ops.get(name, (0, ""))[1]:
                        changed.append(f"{name}()")
                        line = after_ops.get(name, (line, ""))[0] or line
            if not changed:
                continue
            what = " and ".join(changed)
            message = (
                f"migration '{rev}' exists on {base.ref} and its {what} changed: databases that "
                f"already applied it never run it again; revert the edit and write a new migration"
            )
            yield self.finding(ctx, file.path, line, 1, message, rev)


def _operations(data: bytes) -> dict[str, tuple[int, str]]:
    """upgrade()/downgrade() as (line, syntax tree dump without docstrings)."""
    try:
        text, _ = decode_source(data)
        module = ast.parse(text)
    except (SyntaxError, ValueError, LookupError, UnicodeDecodeError, RecursionError):
        return {}
    found: dict[str, tuple[int, str]] = {}
    for node in module.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in _OPERATIONS:
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            found[node.name] = (node.lineno, "".join(ast.dump(stmt) for stmt in body))
    return found
