from __future__ import annotations

from collections.abc import Iterator

from chainlint.findings import Finding
from chainlint.graph import RevisionGraph
from chainlint.read import RevisionFile
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration
from chainlint.rules.common import has_unresolved, quoted


class OrphanBase(Rule):
    """
    ## What it does
    Reports a second base (`down_revision = None`) without `branch_labels` whose history never
    joins the main one.

    ## Why is this bad?
    It is almost always a copy-pasted `down_revision = None`. Alembic sees two independent
    histories, so `alembic upgrade head` fails with "Multiple head revisions are present", and
    on a fresh database the orphan's migrations run before tables they expect exist. It is
    reported once, here, as the root cause: the extra head it causes is not reported again as
    CL010. Deliberate extra bases carry a `branch_labels` (`alembic revision --head=base
    --branch-label=...`).

    ## Example
    ```python
    # versions/0001_initial.py          # versions/0007_add_orders.py
    revision = "0001"                   revision = "0007"
    down_revision = None                down_revision = None   # should be "0006"
    ```

    ## Fix
    None automatic: point `down_revision` at the revision it follows (usually the head of the
    main history when the file was written).
    """

    code = "CL011"
    name = "orphan-base"
    severity = "error"

    valid = (
        Example(
            {
                "a.py": migration("a", None),
                "b.py": migration("b", "a"),
                "n.py": migration("n1", None, branch_labels="network"),
            },
            description="a second base with a branch label is a deliberate second history",
        ),
        Example(
            {
                "a.py": migration("a", None),
                "x.py": migration("x", None),
                "m.py": migration("m", ("a", "x")),
            },
            description="a second base merged into the main history",
        ),
        Example(
            {
                "a.py": migration("a", None),
                "b.py": migration("b", "a"),
                "n.py": migration("n1", None).replace(
                    "branch_labels = None",
                    "from reporting_plugin.branches import REPORTS\nbranch_labels = (REPORTS,)",
                ),
            },
            description="a branch label chainlint cannot resolve (CL008) may be deliberate",
        ),
    )
    invalid = (
        Example(
            {
                "0001.py": migration("0001", None),
                "0002.py": migration("0002", "0001"),
                "0003.py": migration("0003", None),
            },
            (Expected("versions/0003.py", 13, "second base '0003'"),),
        ),
        Example(
            {
                "0001_initial.py": migration("0001", None, create_date="2024-01-05 10:00:00"),
                "0007_orders.py": migration("0007", None, create_date="2024-03-01 09:00:00"),
                "0008_items.py": migration("0008", "0007", create_date="2024-03-02 09:00:00"),
            },
            (Expected("versions/0007_orders.py", 13, "but '0001' (versions/0001_initial.py)"),),
            description="the newer base is the orphan, even with more history on top of it",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        graph = ctx.graph
        # An id or a down_revision nobody could resolve may be what joins the two histories.
        if has_unresolved(graph, "revision") or has_unresolved(graph, "down_revision"):
            return
        main = main_base(graph)
        for base in orphan_bases(graph):
            assert main is not None
            file = graph.revisions[base]
            assert file.down_revision is not None
            main_heads = [h for h in graph.heads if main in graph.reaching_bases(h)]
            message = (
                f"second base '{base}': down_revision is None, but '{main}' "
                f"({ctx.display(graph.revisions[main].path)}) already starts this history and "
                f'nothing merges the two; `alembic upgrade head` fails with "Multiple head '
                f'revisions are present". Point down_revision at the revision this one follows'
            )
            if main_heads:
                message += f" (the main history's head: {quoted(main_heads)})"
            yield self.finding(
                ctx, file.path, file.down_revision.line, file.down_revision.column, message, base
            )


def _unlabelled_bases(graph: RevisionGraph) -> list[str]:
    """Bases known to carry no branch label: one whose labels could not be resolved (CL008)
    may be a deliberate labelled history."""
    return [
        b
        for b in graph.bases
        if not graph.revisions[b].labels and not _labels_unresolved(graph.revisions[b])
    ]


def _labels_unresolved(file: RevisionFile) -> bool:
    labels = file.branch_labels
    return labels is not None and (labels.shape == "dynamic" or bool(labels.unresolved))


def main_base(graph: RevisionGraph) -> str | None:
    """The oldest unlabelled base: the initial migration. Oldest by `Create Date:` header (a
    file without one sorts as the newest: it was hand-made), then by load order (file order).
    The copy-pasted `down_revision = None` is the newer file, whatever grew on top of it."""
    bases = _unlabelled_bases(graph)
    if not bases:
        return None
    order = {rev: index for index, rev in enumerate(graph.revisions)}

    def age(rev: str) -> tuple[str, int]:
        header = graph.revisions[rev].header_field("Create Date")
        return (header.value if header and header.value else "~"), order[rev]

    return min(bases, key=age)


def orphan_bases(graph: RevisionGraph) -> list[str]:
    """Unlabelled bases other than the main one whose descendants never join the main history."""
    bases = _unlabelled_bases(graph)
    if len(bases) < 2:
        return []
    main = main_base(graph)
    assert main is not None
    main_line = graph.descendants(main) | {main}
    return [
        base
        for base in bases
        if base != main and not (graph.descendants(base) | {base}) & main_line
    ]
