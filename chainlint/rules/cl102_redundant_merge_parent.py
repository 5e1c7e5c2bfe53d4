from __future__ import annotations

from collections.abc import Iterator

from chainlint.edits import Edit, SetAssignment
from chainlint.findings import Finding, Fix
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration
from chainlint.rules.common import revises_edit


class RedundantMergeParent(Rule):
    """
    ## What it does
    Reports a merge revision that names a parent which is already an ancestor of another of its
    parents.

    ## Why is this bad?
    The extra parent adds nothing: it is reached anyway. It makes the history harder to read and
    usually means the merge was written against a stale list of heads (`alembic merge` run
    before pulling).

    ## Example
    ```python
    revision = "m"
    down_revision = ("a", "b")  # "b" already descends from "a"
    ```

    ## Fix
    `chainlint fix --extend-fix CL102` drops the redundant parent from `down_revision` and from
    the `Revises:` header. A warning: its fix applies only when the rule is named.
    """

    code = "CL102"
    name = "redundant-merge-parent"
    severity = "warning"
    fixable = True

    valid = (
        Example(
            {
                "a.py": migration("a", None),
                "b.py": migration("b", "a"),
                "c.py": migration("c", "a"),
                "m.py": migration("m", ("b", "c")),
            }
        ),
    )
    invalid = (
        Example(
            {
                "a.py": migration("a", None),
                "b.py": migration("b", "a"),
                "m.py": migration("m", ("a", "b")),
            },
            (Expected("versions/m.py", 13, "merge parent 'a' is already an ancestor of 'b'"),),
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        graph = ctx.graph
        for rev in graph.merge_points:
            file = graph.revisions[rev]
            assert file.down_revision is not None
            parents = [p for p in file.down_revisions if p in graph.revisions]
            if len(set(parents)) != len(file.down_revisions):
                continue  # unknown or repeated parents: CL001 / not this rule
            redundant = [
                (p, next(q for q in parents if q != p and graph.is_ancestor(p, q)))
                for p in parents
                if any(q != p and graph.is_ancestor(p, q) for q in parents)
            ]
            if not redundant:
                continue
            drop = {p for p, _ in redundant}
            keep = tuple(p for p in file.down_revisions if p not in drop)
            value: str | tuple[str, ...] = keep[0] if len(keep) == 1 else keep
            edits: tuple[Edit, ...] = (SetAssignment(file.path, "down_revision", value),)
            edits += revises_edit(file, keep)
            for parent, descendant in redundant:
                item = next(i for i in file.down_revision.items if i.value == parent)
                message = (
                    f"merge parent '{parent}' is already an ancestor of '{descendant}'; it adds "
                    f"nothing to the merge"
                )
                fix = Fix(f"drop '{parent}' from down_revision", edits=edits)
                yield self.finding(ctx, file.path, item.line, item.column, message, rev, fix)
