from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding, Fix
from chainlint.graph import RevisionGraph
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration
from chainlint.rules.cl010_multiple_heads import head_groups
from chainlint.rules.common import quoted


class HeadsAfterMerge(Rule):
    """
    ## What it does
    With `--base REF`: reports a branch whose new revisions fork from a revision that is no
    longer REF's head, so merging the branch into REF would leave more than one head.

    ## Why is this bad?
    Two pull requests that each add a migration on top of the same head are green on their own;
    main gets two heads the moment both merge, and the next deploy fails with "Multiple head
    revisions are present". This is the one check that must look at the target branch.

    ## Example
    ```
    main:    a -> b -> d        (d merged from another pull request)
    branch:  a -> b -> c        (c still revises b)
    ```

    ## Fix
    Bring REF into the branch (`git merge REF` or `git rebase REF`), then
    `chainlint fix --base REF --heads rebase` re-parents only the revisions that are new on
    this branch onto REF's head; revisions that exist on REF are never edited.
    """

    code = "CL201"
    name = "heads-after-merge"
    severity = "error"
    fixable = True

    valid = (
        Example(
            {
                "a.py": migration("a", None),
                "b.py": migration("b", "a"),
                "c.py": migration("c", "b"),
            },
            base={"a.py": migration("a", None), "b.py": migration("b", "a")},
            description="the branch builds on REF's head",
        ),
    )
    invalid = (
        Example(
            {
                "a.py": migration("a", None),
                "b.py": migration("b", "a"),
                "c.py": migration("c", "b"),
            },
            (Expected("versions/c.py", 13, "merging into main leaves 2 heads"),),
            base={
                "a.py": migration("a", None),
                "b.py": migration("b", "a"),
                "d.py": migration("d", "b"),
            },
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        if ctx.base is None:
            return
        graph, base = ctx.graph, ctx.base.graph
        new = {rev for rev in graph.revisions if rev not in base.revisions}
        if not new:
            return
        merged_files = [f for rev, f in base.revisions.items() if rev not in graph.revisions]
        merged = RevisionGraph(graph.environment, [*merged_files, *graph.revisions.values()])
        for group in head_groups(merged):
            branch_heads = [h for h in group if h in new]
            ref_heads = [h for h in group if h not in new]
            if not branch_heads or not ref_heads:
                continue  # the branch alone (CL010) or REF alone is at fault
            if all(h in graph.revisions for h in group):
                continue  # REF's head is in this tree already: CL010 reports it here
            for head in branch_heads:
                root = _first_new(graph, head, new)
                file = graph.revisions[root]
                parents = quoted(file.down_revisions) or "nothing"
                message = (
                    f"merging into {ctx.base.ref} leaves {len(group)} heads: {ctx.base.ref}'s "
                    f"{quoted(ref_heads)} and this branch's '{head}'; this branch's first new "
                    f"revision '{root}' revises {parents}, which is no longer "
                    f"{ctx.base.ref}'s head. Merge {ctx.base.ref} into this branch, then "
                    f"`chainlint fix --base {ctx.base.ref} --heads rebase` re-parents only the "
                    f"revisions new on this branch"
                )
                anchor = file.down_revision or file.revision
                line, column = (anchor.line, anchor.column) if anchor else (1, 1)
                fix = Fix(
                    f"after merging {ctx.base.ref}: re-parent '{root}' onto {quoted(ref_heads)}",
                    applicable=False,
                )
                yield self.finding(ctx, file.path, line, column, message, root, fix)


def _first_new(graph: RevisionGraph, head: str, new: set[str]) -> str:
    """Walk down from `head` through revisions new on this branch to the first of them."""
    current = head
    while True:
        parents = [p for p in graph.parents(current) if p in new and p in graph.revisions]
        if not parents:
            return current
        current = parents[0]
