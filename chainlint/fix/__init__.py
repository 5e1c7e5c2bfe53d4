"""`chainlint fix`: findings -> edits -> checked in memory -> written atomically.

A fix is applied only when the re-read, re-checked result has no error-severity finding that
was not there before; files that cannot be parsed, and read-only files, are never touched.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from chainlint.config import Settings
from chainlint.constants import ModuleConstants
from chainlint.discover import Environment
from chainlint.edits import CreateFile, Edit, RenameFile
from chainlint.findings import Finding
from chainlint.fix.apply import EditFailed, SourceEdit, apply_source_edits
from chainlint.fix.plan import CannotFix, HeadsMode, edits_for
from chainlint.fix.write import is_read_only, rename_atomic, write_atomic
from chainlint.graph import RevisionGraph
from chainlint.lint import check_graph
from chainlint.read import RevisionFile, parse_revision_source, read_revision_file

# Fix the causes first: ids and references, then the heads they leave, then headers.
_ORDER = ["CL006", "CL001", "CL002", "CL013", "CL102", "CL010", "CL101"]
_MAX_ROUNDS = 500


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

    def paths(self) -> list[Path]:
        current = [self.renames.get(p, p) for p in self.environment.files]
        return current + [p for p in self.created if p not in current]

    def read(self, path: Path) -> bytes:
        if path in self.contents:
            return self.contents[path]
        return path.read_bytes()

    def graph(self) -> RevisionGraph:
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
        return RevisionGraph(self.environment, files)

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
            copy._set(path, apply_source_edits(copy.read(path), source_edits))
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

    def changed(self) -> bool:
        return bool(self.contents or self.renames or self.created)


@dataclass(frozen=True)
class Applied:
    finding: Finding
    description: str


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


def _key(finding: Finding) -> tuple[str, str, str]:
    return finding.code, str(finding.path), finding.message


def _new_errors(before: Iterable[Finding], after: Iterable[Finding]) -> list[Finding]:
    """Errors of a code that the fix made more numerous (messages may change as the graph
    changes: a merged head group is still one CL010)."""
    counts = Counter(f.code for f in before if f.severity == "error")
    grown = Counter(f.code for f in after if f.severity == "error") - counts
    return [f for f in after if f.severity == "error" and grown[f.code] > 0]


def fix_environment(
    environment: Environment,
    settings: Settings,
    heads: HeadsMode = "merge",
    editable: Collection[str] | None = None,
) -> EnvironmentFix:
    workspace = Workspace(environment)
    applied: list[Applied] = []
    refused: dict[tuple[str, str, str], Refused] = {}
    for _ in range(_MAX_ROUNDS):
        graph = workspace.graph()
        findings = check_graph(graph, settings)
        candidates = [
            f for f in findings if f.code in _ORDER and f.fix is not None and _key(f) not in refused
        ]
        if not candidates:
            break
        finding = min(candidates, key=lambda f: (_ORDER.index(f.code), str(f.path), f.line))
        try:
            staged = _stage(workspace, graph, finding, heads, editable)
            after = check_graph(staged.graph(), settings)
            new_errors = _new_errors(findings, after)
            if new_errors:
                raise CannotFix(f"it would introduce {new_errors[0].code}: {new_errors[0].message}")
        except (CannotFix, EditFailed) as exc:
            refused[_key(finding)] = Refused(finding, str(exc))
            continue
        workspace = staged
        applied.append(Applied(finding, _describe(finding, heads)))
    remaining = check_graph(workspace.graph(), settings)
    still = {_key(f) for f in remaining}
    return EnvironmentFix(
        workspace, applied, [r for k, r in refused.items() if k in still], remaining
    )


def _stage(
    workspace: Workspace,
    graph: RevisionGraph,
    finding: Finding,
    heads: HeadsMode,
    editable: Collection[str] | None,
) -> Workspace:
    edits = edits_for(finding, graph, heads, editable)
    problems = {f.path for f in graph.files if f.problem is not None}
    for edit in edits:
        path = edit.path
        if path in problems:
            raise CannotFix(f"{path.name} cannot be parsed, so it is never edited")
        if (
            not isinstance(edit, CreateFile)
            and path not in workspace.contents
            and is_read_only(path)
        ):
            raise CannotFix(f"{path.name} is read-only")
    return workspace.staged(edits)


def _describe(finding: Finding, heads: HeadsMode) -> str:
    if finding.code == "CL010":
        return "wrote a merge revision" if heads == "merge" else "re-parented the younger branch"
    return finding.fix.description if finding.fix else finding.code


def write_workspace(workspace: Workspace) -> None:
    """Write every change atomically: edited files in place, then renames, then new files."""
    renamed_to = {new: old for old, new in workspace.renames.items()}
    for path, data in workspace.contents.items():
        if path in workspace.created:
            continue
        write_atomic(renamed_to.get(path, path), data)
    for old, new in workspace.renames.items():
        rename_atomic(old, new)
    for path in workspace.created:
        write_atomic(path, workspace.contents[path])


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
