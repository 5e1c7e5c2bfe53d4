"""`chainlint fix`: findings -> edits -> checked in memory -> written atomically.

A fix is applied only when the re-read, re-checked result has no error-severity finding that
was not there before; files that cannot be parsed, and files the user may not write, are never
touched. How the result reaches the disk (lock, journal, recovery) is `chainlint.fix.transaction`.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chainlint.config import Settings
from chainlint.constants import ModuleConstants
from chainlint.discover import Environment
from chainlint.edits import CreateFile, Edit, RenameFile, ReplaceString
from chainlint.findings import Finding
from chainlint.fix.apply import EditFailed, SourceEdit, apply_source_edits
from chainlint.fix.plan import CannotFix, HeadsMode, Plan, edits_for
from chainlint.fix.transaction import write_workspace as write_workspace  # moved there
from chainlint.fix.write import write_refusal
from chainlint.graph import RevisionGraph
from chainlint.lint import check_graph
from chainlint.read import RevisionFile, parse_revision_source, read_revision_file
from chainlint.rules.cl006_revision_id_too_long import stamped_database_statement

if TYPE_CHECKING:
    from chainlint.git import BaseSnapshot

# Fix the causes first: references (while their candidates still carry the ids they were
# meant to name), then ids, then the heads they leave, then headers.
_ORDER = ["CL001", "CL002", "CL006", "CL013", "CL102", "CL010", "CL101"]


@dataclass
class Workspace:
    """An environment's files as the fix would leave them, kept in memory until written."""

    environment: Environment
    contents: dict[Path, bytes] = field(default_factory=dict)
    originals: dict[Path, bytes | None] = field(default_factory=dict)
    renames: dict[Path, Path] = field(default_factory=dict)
    created: list[Path] = field(default_factory=list)
    _parsed: dict[Path, RevisionFile] = field(default_factory=dict)
    _constants: ModuleConstants = field(default_factory=ModuleConstants)
    # The graph of these contents, built once: a refused fix leaves the workspace as it was,
    # and the next candidate is planned on the same graph.
    _graph: RevisionGraph | None = field(default=None, repr=False, compare=False)

    def paths(self) -> list[Path]:
        current = [self.renames.get(p, p) for p in self.environment.files]
        return current + [p for p in self.created if p not in current]

    def current_path(self, path: Path) -> Path:
        """Where a file of the environment is now (after the renames planned so far)."""
        return self.renames.get(path, path)

    def read_files(self, settings: Settings) -> None:
        """Read the environment's files as `check` does: within max-file-size (a file above it
        is CL009 and never edited), and through the read cache when it is on (a `fix` after a
        `check`, or a second `fix`, parses only what changed)."""
        from chainlint.lint import read_environment

        files = read_environment(
            self.environment,
            self._constants,
            cache=settings.cache,
            max_file_size=settings.max_file_size,
        )
        self._parsed.update(zip(self.environment.files, files, strict=True))
        self._graph = None

    def read(self, path: Path) -> bytes:
        if path in self.contents:
            return self.contents[path]
        return path.read_bytes()

    def graph(self) -> RevisionGraph:
        if self._graph is not None:
            return self._graph
        files = []
        for path in self.paths():
            if path not in self._parsed:
                if path in self.contents:
                    self._parsed[path] = parse_revision_source(
                        path, self.contents[path], self._constants
                    )
                else:
                    self._parsed[path] = read_revision_file(path, self._constants)
            files.append(self._parsed[path])
        self._graph = RevisionGraph(self.environment, files)
        return self._graph

    def staged(self, edits: Iterable[Edit]) -> Workspace:
        """A copy with the edits applied, or EditFailed."""
        copy = Workspace(
            self.environment,
            dict(self.contents),
            dict(self.originals),
            dict(self.renames),
            list(self.created),
            dict(self._parsed),
            self._constants,
        )
        by_path: dict[Path, list[SourceEdit]] = {}
        files: list[RenameFile | CreateFile] = []
        for edit in edits:
            if isinstance(edit, (RenameFile, CreateFile)):
                files.append(edit)
            else:
                by_path.setdefault(edit.path, []).append(edit)
        for path, source_edits in by_path.items():
            try:
                copy._set(path, apply_source_edits(copy.read(path), source_edits))
            except EditFailed as exc:
                raise EditFailed(f"{path.name}: {exc}") from exc
        for edit in files:
            if isinstance(edit, CreateFile):
                if edit.path.exists() or edit.path in copy.paths():
                    raise EditFailed(f"{edit.path.name} already exists")
                copy.created.append(edit.path)
                copy._set(edit.path, edit.content.encode("utf-8"), new_file=True)
            else:
                copy._rename(edit.path, edit.new_path)
        return copy

    def _set(self, path: Path, data: bytes, new_file: bool = False) -> None:
        if path not in self.originals:
            self.originals[path] = None if new_file else path.read_bytes()
        self.contents[path] = data
        self._parsed.pop(path, None)
        self._graph = None

    def _rename(self, old: Path, new: Path) -> None:
        if new.exists() or new in self.paths():
            raise EditFailed(f"cannot rename to {new.name}: it exists")
        data = self.read(old)
        if old in self.created:
            self.created[self.created.index(old)] = new
            self.originals[new] = None
        else:
            source = next((s for s, t in self.renames.items() if t == old), old)
            self.renames[source] = new
            self.originals.setdefault(new, self.originals.pop(old, source.read_bytes()))
        self.contents.pop(old, None)
        self.contents[new] = data
        self._parsed.pop(old, None)
        self._graph = None

    def changed(self) -> bool:
        return bool(self.contents or self.renames or self.created)


@dataclass(frozen=True)
class Applied:
    finding: Finding
    description: str
    # The files the fix wrote (created, edited or renamed to), as they will be named.
    paths: tuple[Path, ...] = ()
    # What the user must do beyond the files (a database stamped with a renamed id).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refused:
    finding: Finding
    reason: str


@dataclass
class EnvironmentFix:
    workspace: Workspace
    applied: list[Applied]
    refused: list[Refused]
    remaining: list[Finding]
    # Warnings with a fix that was not applied because their rule was not named.
    unnamed: list[Finding] = field(default_factory=list)


def _key(finding: Finding) -> tuple[str, str, str]:
    return finding.code, str(finding.path), finding.message


def _new_errors(before: Iterable[Finding], after: Iterable[Finding]) -> list[Finding]:
    """Errors of a code that the fix made more numerous (messages may change as the graph
    changes: a merged head group is still one CL010)."""
    counts = Counter(f.code for f in before if f.severity == "error")
    grown = Counter(f.code for f in after if f.severity == "error") - counts
    return [f for f in after if f.severity == "error" and grown[f.code] > 0]


def is_named(code: str, named: Collection[str]) -> bool:
    """Whether the user named the rule: a code or prefix from --extend-fix / extend-fix, or
    from --select on the fix command line (the command line drops `ALL` from --select)."""
    return any(n == "ALL" or code.startswith(n) for n in named)


def in_scope(finding: Finding, named: Collection[str]) -> bool:
    """Errors' fixes apply by default; a warning's fix only when its rule is named."""
    return finding.severity == "error" or is_named(finding.code, named)


def fix_environment(
    environment: Environment,
    settings: Settings,
    heads: HeadsMode = "merge",
    editable: Collection[str] | None = None,
    named: Collection[str] = (),
    base: BaseSnapshot | None = None,
) -> EnvironmentFix:
    """Plan every fix in memory, one verified fix at a time, to a fixed point.

    A fix is kept only when the re-checked result no longer reports its finding and has no
    new error. A refused finding is tried again once the fixes applied after its refusal ran
    out (they may have removed the reason: a label another fix cleared), round after round
    while a round applies something. The number of fixes is bounded by the findings there were
    to begin with, so the plan always ends. With `editable` (the revisions new on the branch,
    under --base), a file of any other revision is edited only by a fix of its own finding
    whose rule the user named."""
    workspace = Workspace(environment)
    workspace.read_files(settings)
    applied: list[Applied] = []
    # Each refusal, with how many fixes had been applied when it was made.
    refused: dict[tuple[str, str, str], tuple[Refused, int]] = {}
    findings = check_graph(workspace.graph(), settings, base)
    budget = 2 * sum(1 for f in findings if _wanted(f, named)) + 8
    # The fixable findings in the order they are tried, and the first one not yet refused:
    # refusals only grow until a fix applies, so the position only moves forward (thousands of
    # refused findings in one file cost a pass over them, not a pass per refusal).
    ordered = _ordered(findings, named)
    position = 0
    while True:
        position = _next_unrefused(ordered, position, refused)
        if position == len(ordered):
            # The next round: what was refused before the latest fix, in the tree as it is now.
            stale = [k for k, (_, when) in refused.items() if when < len(applied)]
            for key in stale:
                del refused[key]
            position = _next_unrefused(ordered, 0, refused)
            if position == len(ordered):
                break
        finding = ordered[position]
        if len(applied) >= budget:
            for left in ordered[position:]:
                refused.setdefault(
                    _key(left),
                    (Refused(left, "the fixes did not converge; fix it by hand"), len(applied)),
                )
            break
        try:
            staged, plan = _stage(workspace, finding, heads, editable, named)
            after = _recheck(staged, settings, base)
            again = _flagged_again(finding, staged, after)
            if again is not None:
                raise CannotFix(f"the result would be flagged again: {again.message}")
            new_errors = _new_errors(findings, after)
            if new_errors:
                raise CannotFix(f"it would introduce {new_errors[0].code}: {new_errors[0].message}")
        except (CannotFix, EditFailed) as exc:
            refused[_key(finding)] = (Refused(finding, str(exc)), len(applied))
            continue
        workspace, findings = staged, after
        ordered, position = _ordered(findings, named), 0
        applied.append(_applied(finding, plan, staged))
    still = {_key(f) for f in findings}
    unnamed = [f for f in findings if f.code in _ORDER and f.fixable and not in_scope(f, named)]
    return EnvironmentFix(
        workspace, applied, [r for k, (r, _) in refused.items() if k in still], findings, unnamed
    )


def _ordered(findings: Iterable[Finding], named: Collection[str]) -> list[Finding]:
    """The findings whose fixes apply, causes first (see _ORDER), then by file and line."""
    wanted = [f for f in findings if _wanted(f, named)]
    return sorted(wanted, key=lambda f: (_ORDER.index(f.code), str(f.path), f.line))


def _next_unrefused(
    ordered: list[Finding], position: int, refused: Collection[tuple[str, str, str]]
) -> int:
    while position < len(ordered) and _key(ordered[position]) in refused:
        position += 1
    return position


def _wanted(finding: Finding, named: Collection[str]) -> bool:
    return finding.code in _ORDER and finding.fix is not None and in_scope(finding, named)


def _recheck(staged: Workspace, settings: Settings, base: BaseSnapshot | None) -> list[Finding]:
    try:
        return check_graph(staged.graph(), settings, base)
    except RecursionError as exc:  # the edited file nests too deeply to be read back
        raise CannotFix("the edited file is nested too deeply to be checked again") from exc


def _flagged_again(finding: Finding, staged: Workspace, after: Iterable[Finding]) -> Finding | None:
    """The same rule, on the same file and line, after the fix: the fix did not converge."""
    path = staged.current_path(finding.path)
    return next(
        (f for f in after if f.code == finding.code and f.path == path and f.line == finding.line),
        None,
    )


def _stage(
    workspace: Workspace,
    finding: Finding,
    heads: HeadsMode,
    editable: Collection[str] | None,
    named: Collection[str],
) -> tuple[Workspace, Plan]:
    graph = workspace.graph()
    plan = edits_for(finding, graph, heads, editable)
    problems = {f.path for f in graph.files if f.problem is not None}
    locked: set[Path] = set()
    if editable is not None:
        locked = {file.path for rev, file in graph.revisions.items() if rev not in editable}
    for edit in plan.edits:
        path = edit.path
        if path in problems:
            raise CannotFix(f"{path.name} cannot be parsed, so it is never edited")
        if path in locked and not (path == finding.path and is_named(finding.code, named)):
            raise CannotFix(
                f"it would edit {path.name}, which exists on the base branch (name "
                f"{finding.code} with --select or --extend-fix to fix this file's own finding)"
                if path == finding.path
                else f"it would edit {path.name}, which exists on the base branch"
            )
        if not isinstance(edit, CreateFile) and path not in workspace.contents:
            environment = workspace.environment
            refusal = write_refusal(path, (environment.root, *environment.version_locations))
            if refusal is not None:
                raise CannotFix(refusal)
    return workspace.staged(plan.edits), plan


def _applied(finding: Finding, plan: Plan, staged: Workspace) -> Applied:
    """What was done, naming the files actually written."""
    edits, note = plan.edits, plan.note
    written: list[Path] = []
    for edit in edits:
        path = staged.current_path(edit.new_path if isinstance(edit, RenameFile) else edit.path)
        if path not in written:
            written.append(path)
    description = plan.description or (finding.fix.description if finding.fix else finding.code)
    notes: tuple[str, ...] = (note,) if note else ()
    if finding.code == "CL006" and finding.revision is not None:
        new = next(
            (e.new for e in edits if isinstance(e, ReplaceString) and e.old == finding.revision),
            None,
        )
        if new is not None:
            notes += (
                "a database already stamped with the old id needs: "
                + stamped_database_statement(finding.revision, new),
            )
    return Applied(finding, description, tuple(written), notes)


def unified_diff(workspace: Workspace, cwd: Path) -> str:
    from chainlint.report import display_path

    renamed_to = {new: old for old, new in workspace.renames.items()}
    chunks: list[str] = []
    for path, data in sorted(workspace.contents.items()):
        original = workspace.originals.get(path)
        old_path = renamed_to.get(path, path)
        before = original.decode("utf-8", "replace") if original is not None else ""
        after = data.decode("utf-8", "replace")
        old_name = display_path(old_path, cwd) if original is not None else "/dev/null"
        if old_path != path:
            chunks.append(
                f"rename from {display_path(old_path, cwd)}\nrename to {display_path(path, cwd)}\n"
            )
        chunks.extend(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                f"a/{old_name}" if original is not None else old_name,
                f"b/{display_path(path, cwd)}",
            )
        )
    return "".join(chunk if chunk.endswith("\n") else chunk + "\n" for chunk in chunks)
