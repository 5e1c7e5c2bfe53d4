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
        candidates = find_candidates(ctx.graph, missing, ref.revision)
        message = f"down_revision '{missing}' is not a known revision"
        message += suggestion(ctx, candidates, ctx.graph.heads)
        message = with_consequence(
            message, f"every Alembic command fails with KeyError: '{missing}'"
        )
        fix = repoint_fix(ref, candidates, "down_revision")
        return self.finding(
            ctx,
            ref.file.path,
            ref.identifier.line,
            ref.identifier.column,
            message,
            ref.revision,
            fix,
        )


def suggestion(ctx: RuleContext, candidates: list[Candidate], heads: tuple[str, ...]) -> str:
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


def repoint_fix(ref: DanglingReference, candidates: list[Candidate], field: str) -> Fix:
    missing = ref.identifier.value
    assert missing is not None
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
