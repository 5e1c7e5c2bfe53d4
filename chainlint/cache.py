"""A persistent cache of per-file read results, so repeated runs on an unchanged tree are cheap.

Plain JSON, validated field by field on load: a cache folder can arrive inside a pull request,
and pickle or marshal data from it would run or crash code in CI. A corrupt, truncated, foreign
or tampered cache is ignored and rebuilt. Entries are keyed by path, size and mtime (of the
file and of every project module its constants came from) and chainlint's version.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chainlint import __version__
from chainlint.findings import Finding, Fix
from chainlint.ops import dump_operations, load_operations
from chainlint.read import Assignment, HeaderField, Identifier, ReadProblem, RevisionFile

CACHE_DIR = ".chainlint_cache"
SCHEMA = 2
_SHAPES = {"none", "scalar", "sequence", "dynamic"}


class InvalidCache(Exception):
    pass


def cache_folder(cwd: Path | None = None) -> Path:
    """`.chainlint_cache/` in the working directory (the project root under pre-commit and CI),
    or `$CHAINLINT_CACHE_DIR`."""
    override = os.environ.get("CHAINLINT_CACHE_DIR")
    if override:
        return Path(override)
    return (cwd or Path.cwd()) / CACHE_DIR


def _stamp(path: Path) -> list[int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return [status.st_size, status.st_mtime_ns]


class ReadCache:
    """One environment's entries: load, look up, record, save."""

    def __init__(self, folder: Path, environment_root: Path) -> None:
        digest = hashlib.sha1(str(environment_root).encode("utf-8")).hexdigest()[:16]
        self.path = folder / f"env-{digest}.json"
        self.folder = folder
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        self._load()

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except OSError:
            return
        try:
            document = json.loads(raw)
            if (
                not isinstance(document, dict)
                or document.get("schema") != SCHEMA
                or document.get("chainlint") != __version__
                or not isinstance(document.get("files"), dict)
            ):
                raise InvalidCache
            self.entries = document["files"]
        except (ValueError, InvalidCache, RecursionError):
            self.entries = {}
            self.dirty = True

    def get(self, path: Path, stamp: list[int] | None) -> RevisionFile | None:
        entry = self.entries.get(str(path))
        if stamp is None or not isinstance(entry, dict) or entry.get("stamp") != stamp:
            return None
        try:
            for dependency in _list(entry.get("deps", [])):
                dep_path, dep_stamp = _list(dependency)
                if _stamp(Path(_str(dep_path))) != dep_stamp:
                    return None
            return revision_file_from_json(path, entry["data"])
        except (InvalidCache, KeyError, TypeError, ValueError):
            self.entries.pop(str(path), None)
            self.dirty = True
            return None

    def put(self, path: Path, stamp: list[int] | None, file: RevisionFile) -> None:
        if stamp is None:
            return
        deps = [[str(p), _stamp(p)] for p in file.used_modules]
        self.entries[str(path)] = {
            "stamp": stamp,
            "deps": deps,
            "data": revision_file_to_json(file),
        }
        self.dirty = True

    def save(self, keep: set[str]) -> None:
        """Write the entries for `keep` (the environment's current files) atomically."""
        stale = set(self.entries) - keep
        if not self.dirty and not stale:
            return
        for key in stale:
            del self.entries[key]
        document = {"schema": SCHEMA, "chainlint": __version__, "files": self.entries}
        with contextlib.suppress(OSError):
            self.folder.mkdir(exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# Created by chainlint.\n*\n", encoding="utf-8")
            descriptor, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            try:
                with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                    json.dump(document, handle, separators=(",", ":"))
                os.replace(temporary, self.path)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)


def read_with_cache(
    paths: list[Path],
    cache: ReadCache,
    read: Callable[[list[Path]], list[RevisionFile]],
) -> list[RevisionFile]:
    stamps = [_stamp(path) for path in paths]
    found = [cache.get(path, stamp) for path, stamp in zip(paths, stamps, strict=True)]
    missing = [i for i, file in enumerate(found) if file is None]
    for index, file in zip(missing, read([paths[i] for i in missing]), strict=True):
        found[index] = file
        if file.problem is None or not file.problem.message.startswith("cannot be read"):
            cache.put(paths[index], stamps[index], file)
    cache.save({str(p) for p in paths})
    return [file for file in found if file is not None]


# -- JSON <-> RevisionFile, validated ---------------------------------------------------------


def revision_file_to_json(file: RevisionFile) -> dict[str, Any]:
    return {
        "revision": _assignment_out(file.revision),
        "down_revision": _assignment_out(file.down_revision),
        "branch_labels": _assignment_out(file.branch_labels),
        "depends_on": _assignment_out(file.depends_on),
        "header": [[h.label, h.value, h.line, h.column] for h in file.header],
        "problem": (
            [file.problem.message, file.problem.line, file.problem.column] if file.problem else None
        ),
        "legacy": file.legacy_revision,
        "noqa": [[line, sorted(codes) if codes is not None else None] for line, codes in file.noqa],
        "docstring": list(file.docstring_lines) if file.docstring_lines else None,
        "encoding": file.encoding,
        "used": [str(p) for p in file.used_modules],
        "message": file.message,
        "ops": dump_operations(file.operations) if file.operations is not None else None,
    }


def _assignment_out(assignment: Assignment | None) -> list[Any] | None:
    if assignment is None:
        return None
    items = [[i.value, i.line, i.column, i.source, i.kind, i.via] for i in assignment.items]
    return [
        assignment.name,
        assignment.line,
        assignment.column,
        assignment.shape,
        items,
        assignment.annotated,
    ]


# Each row is validated by the exact types of its cells, compared in one set lookup.
_NONE = type(None)
_IDENTIFIER_ROWS = {
    (value, int, int, str, str, via) for value in (str, _NONE) for via in (str, _NONE)
}
_ASSIGNMENT_ROW = (str, int, int, str, list, bool)
_HEADER_ROW = (str, str, int, int)
_PROBLEM_ROW = (str, int, int)


def _row(row: Any, allowed: Any) -> Any:
    if type(row) is not list or tuple(map(type, row)) not in allowed:
        raise InvalidCache
    return row


def revision_file_from_json(path: Path, data: Any) -> RevisionFile:
    if type(data) is not dict:
        raise InvalidCache
    problem = data["problem"]
    docstring = data["docstring"]
    legacy = data["legacy"]
    encoding = data["encoding"]
    message = data["message"]
    if type(encoding) is not str or (legacy is not None and type(legacy) is not str):
        raise InvalidCache
    if type(message) is not str:
        raise InvalidCache
    noqa = []
    for line, codes in _list(data["noqa"]):
        if type(line) is not int or (codes is not None and not _all_str(_list(codes))):
            raise InvalidCache
        noqa.append((line, frozenset(codes) if codes is not None else None))
    used = _list(data["used"])
    if not _all_str(used):
        raise InvalidCache
    return RevisionFile(
        path=path,
        revision=_assignment_in(data["revision"]),
        down_revision=_assignment_in(data["down_revision"]),
        branch_labels=_assignment_in(data["branch_labels"]),
        depends_on=_assignment_in(data["depends_on"]),
        header=tuple(HeaderField(*_row(row, {_HEADER_ROW})) for row in _list(data["header"])),
        problem=ReadProblem(*_row(problem, {_PROBLEM_ROW})) if problem is not None else None,
        legacy_revision=legacy,
        noqa=tuple(noqa),
        docstring_lines=(
            (docstring[0], docstring[1])
            if docstring is not None and _row(docstring, {(int, int)})
            else None
        ),
        encoding=encoding,
        used_modules=tuple(Path(p) for p in used),
        message=message,
        operations=load_operations(data["ops"]) if data["ops"] is not None else None,
    )


def _all_str(values: list[Any]) -> bool:
    return all(type(v) is str for v in values)


def _assignment_in(data: Any) -> Assignment | None:
    if data is None:
        return None
    name, line, column, shape, items, annotated = _row(data, {_ASSIGNMENT_ROW})
    if shape not in _SHAPES:
        raise InvalidCache
    return Assignment(
        name,
        line,
        column,
        shape,
        tuple(Identifier(*_row(item, _IDENTIFIER_ROWS)) for item in items),
        annotated,
    )


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidCache
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidCache
    return value


# -- whole-environment results ------------------------------------------------------------------
#
# When no file of an environment (nor any project module its constants came from) changed, and
# neither did the settings, the findings cannot have changed either: `check` reuses them without
# rebuilding the graph. Only findings and the environment's summary are stored, validated on load
# like everything else here.

_FINDING_ROWS = {
    (str, str, str, str, str, int, int, revision, fix, environment)
    for revision in (str, _NONE)
    for fix in (list, _NONE)
    for environment in (str, _NONE)
}


class ResultCache:
    def __init__(self, folder: Path, environment_root: Path) -> None:
        digest = hashlib.sha1(str(environment_root).encode("utf-8")).hexdigest()[:16]
        self.path = folder / f"result-{digest}.json"
        self.folder = folder

    def load(
        self, key: str
    ) -> tuple[tuple[int, tuple[str, ...], tuple[str, ...]], list[Finding]] | None:
        try:
            document = json.loads(self.path.read_bytes())
            if (
                type(document) is not dict
                or document.get("schema") != SCHEMA
                or document.get("chainlint") != __version__
                or document.get("key") != key
            ):
                return None
            for module, stamp in _list(document["modules"]):
                if _stamp(Path(_str(module))) != stamp:
                    return None
            count, heads, bases = _row(document["summary"], {(int, list, list)})
            if not (_all_str(heads) and _all_str(bases)):
                return None
            findings = [_finding_in(row) for row in _list(document["findings"])]
        except (OSError, ValueError, KeyError, TypeError, InvalidCache, RecursionError):
            return None
        return (count, tuple(heads), tuple(bases)), findings

    def save(
        self,
        key: str,
        summary: tuple[int, tuple[str, ...], tuple[str, ...]],
        findings: list[Finding],
        modules: set[Path],
    ) -> None:
        document = {
            "schema": SCHEMA,
            "chainlint": __version__,
            "key": key,
            "modules": [[str(m), _stamp(m)] for m in sorted(modules)],
            "summary": [summary[0], list(summary[1]), list(summary[2])],
            "findings": [_finding_out(f) for f in findings],
        }
        with contextlib.suppress(OSError):
            self.folder.mkdir(exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            try:
                with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                    json.dump(document, handle, separators=(",", ":"))
                os.replace(temporary, self.path)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)


def environment_key(environment: Any, settings: Any, paths: list[Path]) -> str:
    """What a check's findings depend on, besides imported modules: chainlint's version, the
    environment's configuration, the settings, and every file's path, size and mtime."""
    material = [
        __version__,
        str(environment.root),
        environment.source,
        [str(p) for p in environment.version_locations],
        environment.recursive,
        environment.file_template,
        [settings.select, settings.ignore, settings.extend_select, settings.max_revision_length],
        [[str(p), _stamp(p)] for p in paths],
    ]
    return hashlib.sha256(json.dumps(material).encode("utf-8")).hexdigest()


def _finding_out(finding: Finding) -> list[Any]:
    return [
        finding.code,
        finding.name,
        finding.severity,
        finding.message,
        str(finding.path),
        finding.line,
        finding.column,
        finding.revision,
        [finding.fix.description, finding.fix.applicable] if finding.fix else None,
        str(finding.environment) if finding.environment else None,
    ]


def _finding_in(row: Any) -> Finding:
    code, name, severity, message, path, line, column, revision, fix, environment = _row(
        row, _FINDING_ROWS
    )
    if severity not in ("error", "warning"):
        raise InvalidCache
    if fix is not None:
        description, applicable = _row(fix, {(str, bool)})
        # The edits are not kept: `check` only reports a fix; `fix` recomputes it.
        fix = Fix(description, applicable)
    return Finding(
        code,
        name,
        severity,
        message,
        Path(path),
        line,
        column,
        revision,
        fix,
        Path(environment) if environment else None,
    )
