from __future__ import annotations

from collections.abc import Iterator

from chainlint.edits import Edit, ReplaceString
from chainlint.findings import Finding, Fix
from chainlint.graph import DanglingReference
from chainlint.rules.base import Example, Expected, Rule, RuleContext, migration
from chainlint.rules.candidates import Candidate, find_candidates
from chainlint.rules.common import has_unresolved, quoted, revises_edit


class UnknownDownRevision(Rule):
    """
    ## What it does
    Reports a `down_revision` (or a member of a merge tuple) that names no revision in the
    environment.

    ## Why is this bad?
    Alembic builds its revision map when any command starts: `alembic heads`, `upgrade`,
    `history` and every other command fail with `KeyError: '<id>'`, usually during a deploy.
    The usual cause is a parent named by its file name (`001_add_workflow_run_fields`) instead
    of the id it declares (`revision = '001'`), or a typo.

    ## Example
    ```python
    # versions/001_add_workflow_run_fields.py
    revision = "001"
    down_revision = None

    # versions/002_add_conditional_execution_columns.py
    revision = "002_conditional"
    down_revision = "001_add_workflow_run_fields"  # KeyError at run time
    ```

    ## Fix
    When exactly one revision fits — a file whose name stem or `Revision ID:` header equals the
    missing id, a unique prefix match, or a unique near miss — `chainlint fix` points
    `down_revision` (and the `Revises:` header) at it; never at a revision that would make a
    cycle. With zero or several candidates nothing is edited and the finding lists them.
    """

    code = "CL001"
    name = "unknown-down-revision"
    severity = "error"
    fixable = True

    valid = (
        Example(
            {
                "001_add_workflow_run_fields.py": migration("001", None),
                "002_add_conditional.py": migration("002_conditional", "001"),
            }
        ),
        Example(
            {
                "a.py": migration("a", None),
                "b.py": migration("b", "a"),
                "c.py": migration("c", "a"),
                "m.py": migration("m", ("b", "c")),
            },
            description="a merge revision whose parents all exist",
        ),
    )
    invalid = (
        Example(
            {
                "001_add_workflow_run_fields.py": migration("001", None),
                "002_add_conditional_execution_columns.py": migration(
                    "002_conditional", "001_add_workflow_run_fields"
                ),
            },
            (
                Expected(
                    "versions/002_add_conditional_execution_columns.py",
                    13,
                    "down_revision '001_add_workflow_run_fields' is not a known revision; did you "
                    "mean '001' (declared in versions/001_add_workflow_run_fields.py)?",
                ),
            ),
            description="the parent named by its file name (the seed scenario)",
        ),
        Example(
            {
                "a.py": migration("a1b2c3d4e5f6", None),
                "b.py": migration("0f0f0f0f0f0f", "a1b2c3d4e5f7"),
            },
            (Expected("versions/b.py", 13, "did you mean 'a1b2c3d4e5f6'"),),
            description="a typo",
        ),
        Example(
            {
                "a.py": migration("abc1", None),
                "b.py": migration("abc2", "abc1"),
                "c.py": migration("c", ("abc2", "zzz")),
            },
            (Expected("versions/c.py", 13, "KeyError: 'zzz'"),),
            description="a missing member of a merge tuple",
        ),
        Example(
            {
                "a.py": migration("a", None, branch_labels="core"),
                "b.py": migration("b", "core"),
            },
            (
                Expected(
                    "versions/b.py",
                    13,
                    "down_revision 'core' names a branch label, not a revision",
                ),
            ),
            description="a branch label where a revision id belongs (Alembic: KeyError)",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        graph = ctx.graph
        # An id the reader could not resolve might be the one named here.
        if has_unresolved(graph, "revision"):
            return
        for ref in graph.dangling:
            if ref.field == "down_revision":
                yield self._finding(ctx, ref)

    def _finding(self, ctx: RuleContext, ref: DanglingReference) -> Finding:
        missing = ref.identifier.value
        assert missing is not None
        if ref.label_holder is not None:
            message, fix = self._names_label(ctx, ref, missing, ref.label_holder)
        else:
            candidates = find_candidates(ctx.graph, missing, ref.revision)
            message = f"down_revision '{missing}' is not a known revision"
            message += suggestion(ctx, candidates, ctx.graph.heads)
            fix = repoint_fix(ref, candidates, "down_revision")
        message = with_consequence(
            message, f"every Alembic command fails with KeyError: '{missing}'"
        )
        return self.finding(
            ctx,
            ref.file.path,
            ref.identifier.line,
            ref.identifier.column,
            message,
            ref.revision,
            fix,
        )

    @staticmethod
    def _names_label(
        ctx: RuleContext, ref: DanglingReference, label: str, holder: str
    ) -> tuple[str, Fix]:
        """Alembic looks a `down_revision` up among revision ids only, never branch labels."""
        graph = ctx.graph
        message = (
            f"down_revision '{label}' names a branch label, not a revision (Alembic looks "
            f"down_revision up among revision ids only); did you mean '{holder}', the revision "
            f"that carries the label (declared in {ctx.display(graph.revisions[holder].path)})?"
        )
        candidate = Candidate(holder, graph.revisions[holder], "carries the branch label")
        if (
            graph.children(holder)
            or holder == ref.revision
            or graph.is_ancestor(ref.revision, holder)
        ):
            # Under a revision that already has children, the fix would open a second head.
            return message, Fix(
                f"'{holder}' already has children: point down_revision at the revision this one "
                f"follows by hand",
                applicable=False,
            )
        return message, repoint_fix(ref, [candidate], "down_revision")


def suggestion(ctx: RuleContext, candidates: list[Candidate] | None, heads: tuple[str, ...]) -> str:
    if candidates is None:
        return "; too many unknown ids in this environment to look for similar ones"
    if len(candidates) == 1:
        only = candidates[0]
        return f"; did you mean '{only.revision}' (declared in {ctx.display(only.file.path)})?"
    if candidates:
        return "; did you mean one of " + quoted(c.revision for c in candidates) + "?"
    return "; no revision looks like it" + (f" (heads: {quoted(heads)})" if heads else "")


def with_consequence(message: str, consequence: str) -> str:
    """Append what Alembic does, as a sentence of its own."""
    separator = " " if message.endswith("?") else ". "
    return f"{message}{separator}{consequence[0].upper()}{consequence[1:]}"


def repoint_fix(ref: DanglingReference, candidates: list[Candidate] | None, field: str) -> Fix:
    missing = ref.identifier.value
    assert missing is not None
    if candidates is None:
        return Fix(f"point {field} at the right revision by hand", applicable=False)
    if len(candidates) != 1:
        reason = "several candidates" if candidates else "no candidate"
        return Fix(f"{reason}: point {field} at the right revision by hand", applicable=False)
    target = candidates[0].revision
    if ref.identifier.via is not None:
        return Fix(
            f"the id comes from {ref.identifier.via}: change it to '{target}' by hand",
            applicable=False,
        )
    edits: tuple[Edit, ...] = (
        ReplaceString(ref.file.path, ref.identifier.line, ref.identifier.column, missing, target),
    )
    if field == "down_revision":
        parents = tuple(target if p == missing else p for p in ref.file.down_revisions)
        edits += revises_edit(ref.file, parents)
    return Fix(f"set {field} to '{target}'", applicable=True, edits=edits)
