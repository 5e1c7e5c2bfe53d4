"""How a fix reaches the disk: one transaction per environment (git's `index.lock` and SQLite's
journal are the pattern; chainlint's journal rolls forward).

1. Lock: `flock` on the environment's root folder. The kernel drops the lock when its process
   dies (even on SIGKILL), so no lock file is left behind to go stale. A second `fix` waits
   `LOCK_WAIT` seconds, then stops with "another chainlint fix is running on ...". `check` never
   takes the lock.
2. Recover: a journal left by an interrupted run is validated and rolled forward; chainlint's
   leftover temporary files (`.NAME.xxxxxxxx.chainlint-tmp`) are removed.
3. Plan (the caller, under the lock), then verify: every environment file and folder has the size
   and mtime it had before planning, and every file the plan edits still holds the bytes it read.
4. Prepare: each new content goes to a temporary file next to its target, fsynced, with the
   target's owner, group and mode.
5. Commit: the journal `.chainlint-fix-journal.json` in the environment's root folder (plain
   JSON, fsynced, written by rename) lists every operation: replace a file by its temporary
   file, rename a file, create a file. Then they run, in that order, and the journal is removed.

An interruption before 5 leaves only temporary files, which the next `fix` removes; after it, a
journal that the next `fix` finishes. Every operation can be repeated (a rerun that is itself
interrupted is finished by the one after). The journal lives next to the environment rather
than in the cache folder because the cache folder follows the working directory: runs from two
directories must see the same lock and the same journal.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from chainlint.discover import Environment, alembic_files
from chainlint.errors import ChainlintError
from chainlint.fix.write import (
    TEMP_SUFFIX,
    fsync_folder,
    inside_folders,
    real_target,
    write_atomic,
    write_temporary,
)
from chainlint.journal import journal_path

if TYPE_CHECKING:
    from chainlint.fix import Workspace

JOURNAL_FORMAT = 1
LOCK_WAIT = 5.0
_MAX_JOURNAL_BYTES = 1 << 20
_TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX))
_SHA256 = re.compile(r"[0-9a-f]{64}")

# Test hook: CHAINLINT_TEST_CRASH_AFTER=k stops the process (as a kill would, without any
# cleanup) once k steps are done; a step is a temporary file written, the journal written, one
# operation performed, or the journal removed.
CRASH_VARIABLE = "CHAINLINT_TEST_CRASH_AFTER"
CRASH_EXIT = 75
_step_count = 0


class FixLocked(ChainlintError):
    """Another `chainlint fix` holds the environment's lock."""


class TransactionError(ChainlintError):
    """The fix could not be written, or an interrupted one could not be finished."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One journaled change. `source` is the temporary file (replace, create) or the file being
    renamed (rename); `path` is where the result ends up."""

    kind: str
    path: Path
    source: Path
    sha256: str = ""

    def to_json(self) -> dict[str, str]:
        if self.kind == "rename":
            return {"op": "rename", "from": str(self.source), "path": str(self.path)}
        return {
            "op": self.kind,
            "temp": str(self.source),
            "path": str(self.path),
            "sha256": self.sha256,
        }


class _Planned(Protocol):
    @property
    def workspace(self) -> Workspace: ...


Planned = TypeVar("Planned", bound=_Planned)


# -- the whole transaction ----------------------------------------------------------------------


def fix_transaction(
    environment: Environment, plan: Callable[[Environment], Planned]
) -> tuple[Planned, bool]:
    """Lock, recover, plan, verify, write. Returns the plan's result and whether an interrupted
    fix was finished first."""
    with environment_lock(environment):
        finished = recover(environment)
        # Another fix may have added or renamed files since the environment was discovered.
        environment = dataclasses.replace(
            environment, files=alembic_files(environment.version_locations, environment.recursive)
        )
        state = TreeState.capture(environment)
        result = plan(environment)
        if result.workspace.changed():
            write_locked(result.workspace, state)
        _step(count=False)
    return result, finished


def write_workspace(workspace: Workspace) -> None:
    """Write a planned workspace as one transaction (lock, recover, verify, journal, write)."""
    with environment_lock(workspace.environment):
        recover(workspace.environment)
        write_locked(workspace, None)


def write_locked(workspace: Workspace, state: TreeState | None) -> None:
    """Verify, prepare, journal, perform, clear; the caller holds the environment's lock."""
    environment = workspace.environment
    renamed_from = {new: old for old, new in workspace.renames.items()}
    _verify(workspace, state, renamed_from)
    replaced: list[tuple[Path, bytes]] = []
    for path, data in workspace.contents.items():
        if path in workspace.created or data == workspace.originals.get(path):
            continue
        replaced.append((real_target(renamed_from.get(path, path)), data))
    created = [(path, workspace.contents[path]) for path in workspace.created]
    journal = journal_path(environment)
    prepared: list[Operation] = []
    try:
        for kind, items in (("replace", replaced), ("create", created)):
            for target, data in items:
                _step()
                temporary = write_temporary(target, data)
                prepared.append(Operation(kind, target, temporary, _digest(data)))
        operations = [op for op in prepared if op.kind == "replace"]
        operations += [Operation("rename", new, old) for old, new in workspace.renames.items()]
        operations += [op for op in prepared if op.kind == "create"]
        _step()
        _write_journal(journal, environment, operations)
    except OSError as exc:
        for operation in prepared:
            with contextlib.suppress(OSError):
                os.unlink(operation.source)
        raise TransactionError(
            f"cannot write {exc.filename or journal}: {exc.strerror or exc}; nothing was changed"
        ) from exc
    try:
        _roll_forward(journal, operations, replay=False)
    except OSError as exc:
        raise TransactionError(
            f"cannot write {exc.filename}: {exc.strerror or exc}; the change is recorded in "
            f"{journal} and the next `chainlint fix` finishes it"
        ) from exc
    fsync_folder(journal.parent)


def _roll_forward(journal: Path, operations: list[Operation], replay: bool) -> None:
    """Perform the journaled operations in order, then remove the journal: the same steps for
    a fix that just wrote it and for the next run finishing an interrupted one."""
    for operation in operations:
        _perform(operation, replay=replay)
    _step()
    os.unlink(journal)


# -- lock -------------------------------------------------------------------------------------


@contextlib.contextmanager
def environment_lock(environment: Environment, wait: float | None = None) -> Iterator[None]:
    """An exclusive `flock` on the environment's root folder, waited for up to `wait` seconds."""
    shown = _shown(environment.root)
    try:
        descriptor = os.open(environment.root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise TransactionError(f"cannot lock {shown}: {exc.strerror}") from exc
    try:
        deadline = time.monotonic() + (LOCK_WAIT if wait is None else wait)
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise FixLocked(f"another chainlint fix is running on {shown}") from None
                time.sleep(0.05)
            except OSError as exc:
                raise TransactionError(f"cannot lock {shown}: {exc.strerror}") from exc
        yield
    finally:
        os.close(descriptor)


# -- recovery ---------------------------------------------------------------------------------


def recover(environment: Environment) -> bool:
    """Under the lock: roll a leftover journal forward, then remove chainlint's temporary files.
    Returns whether there was a journal."""
    journal = journal_path(environment)
    found = os.path.lexists(journal)
    if found:
        operations = load_journal(journal, environment)
        try:
            _roll_forward(journal, operations, replay=True)
        except OSError as exc:
            raise TransactionError(
                f"cannot finish the interrupted chainlint fix recorded in {_shown(journal)}: "
                f"{exc.filename}: {exc.strerror or exc}"
            ) from exc
        fsync_folder(journal.parent)
    for folder in _folders_with_files(environment):
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                if _TEMPORARY.fullmatch(entry.name) and not entry.is_dir(follow_symlinks=False):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
    return found


def load_journal(path: Path, environment: Environment) -> list[Operation]:
    """The journal's operations, validated like the cache: a journal can arrive in a pull
    request, so every path must lie inside the environment's folders."""

    def invalid(why: str) -> TransactionError:
        return TransactionError(
            f"{_shown(path)} is not a valid chainlint fix journal ({why}); nothing was changed, "
            "remove it to continue"
        )

    try:
        status = os.lstat(path)
        if not stat.S_ISREG(status.st_mode):
            raise invalid("not a regular file")
        if status.st_size > _MAX_JOURNAL_BYTES:
            raise invalid("too large")
        with open(path, "rb") as handle:
            raw = handle.read(_MAX_JOURNAL_BYTES + 1)
    except OSError as exc:
        raise invalid(exc.strerror or str(exc)) from exc
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise invalid("not JSON") from exc
    if type(document) is not dict or document.get("chainlint_fix_journal") != JOURNAL_FORMAT:
        raise invalid("unknown format")
    where = document.get("environment")
    if type(where) is not str or os.path.realpath(where) != os.path.realpath(environment.root):
        raise invalid("written for another environment")
    rows = document.get("operations")
    if type(rows) is not list:
        raise invalid("no list of operations")
    folders = _environment_folders(environment)
    operations = []
    for row in rows:
        why = _invalid_row(row, folders)
        if why is not None:
            raise invalid(why)
        if row["op"] == "rename":
            operations.append(Operation("rename", Path(row["path"]), Path(row["from"])))
        else:
            operations.append(
                Operation(row["op"], Path(row["path"]), Path(row["temp"]), row["sha256"])
            )
    return operations


def _invalid_row(row: Any, folders: tuple[Path, ...]) -> str | None:
    if type(row) is not dict or row.get("op") not in ("replace", "rename", "create"):
        return "an unknown operation"
    keys = {"op", "from", "path"} if row["op"] == "rename" else {"op", "temp", "path", "sha256"}
    if set(row) != keys or not all(type(row[key]) is str for key in keys):
        return "an operation of an unexpected shape"
    paths = [row["path"], row["from"] if row["op"] == "rename" else row["temp"]]
    for value in paths:
        if "\0" in value or not os.path.isabs(value) or os.path.normpath(value) != value:
            return f"{value!r} is not a plain absolute path"
        if not inside_folders(Path(value).parent, folders):
            return f"{value} is outside the environment"
    target, source = (Path(p) for p in paths)
    if row["op"] == "rename":
        if not (target.name.endswith(".py") and source.name.endswith(".py")):
            return f"{source.name} -> {target.name} is not a migration rename"
        return None
    if not _SHA256.fullmatch(row["sha256"]):
        return "a malformed digest"
    if source.parent != target.parent or not (
        source.name.startswith(f".{target.name}.") and _TEMPORARY.fullmatch(source.name)
    ):
        return f"{source} is not a chainlint temporary file for {target.name}"
    if row["op"] == "create" and not target.name.endswith(".py"):
        return f"{target.name} is not a migration"
    return None


# -- operations -------------------------------------------------------------------------------


def _perform(operation: Operation, replay: bool) -> None:
    """Do the operation, or nothing if it was done already; refuse when the disk disagrees."""
    _step()
    source, path = operation.source, operation.path
    if operation.kind == "rename":
        if os.path.lexists(source):
            if os.path.lexists(path):
                raise _conflict(path, "exists already")
            os.rename(source, path)
        elif not os.path.lexists(path):
            raise _conflict(source, "is gone")
    elif os.path.lexists(source):
        if replay and _file_digest(source) != operation.sha256:
            raise _conflict(source, "does not hold what the journal recorded")
        if operation.kind == "create" and os.path.lexists(path):
            raise _conflict(path, "exists already")
        os.replace(source, path)
    # A temporary file that is gone was renamed into place: the operation is done.
    fsync_folder(path.parent)


def _conflict(path: Path, why: str) -> OSError:
    return OSError(0, why, str(path))


def _write_journal(journal: Path, environment: Environment, operations: list[Operation]) -> None:
    document = {
        "chainlint_fix_journal": JOURNAL_FORMAT,
        "environment": str(environment.root),
        "operations": [operation.to_json() for operation in operations],
    }
    write_atomic(journal, json.dumps(document, indent=1).encode("utf-8"))


# -- verification -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TreeState:
    """The environment's migration files as Alembic would list them, each with its size and
    mtime_ns: a file added, removed, renamed or rewritten changes it (other files, an editor's
    swap file say, do not)."""

    stamps: tuple[tuple[str, tuple[int, int] | None], ...]

    @classmethod
    def capture(cls, environment: Environment) -> TreeState:
        stamps: list[tuple[str, tuple[int, int] | None]] = []
        for path in alembic_files(environment.version_locations, environment.recursive):
            try:
                status = os.stat(path)
                stamps.append((str(path), (status.st_size, status.st_mtime_ns)))
            except OSError:
                stamps.append((str(path), None))
        return cls(tuple(stamps))

    def first_change(self, now: TreeState) -> str | None:
        before, after = dict(self.stamps), dict(now.stamps)
        for key in sorted(set(before) | set(after)):
            if key not in before or key not in after or before[key] != after[key]:
                return key
        return None


def _verify(workspace: Workspace, state: TreeState | None, renamed_from: dict[Path, Path]) -> None:
    """The disk still holds what the plan read; otherwise nothing is written."""

    def changed(path: Path | str) -> TransactionError:
        return TransactionError(
            f"{path} changed while chainlint fix was planning; nothing was written, "
            "run `chainlint fix` again"
        )

    if state is not None:
        moved = state.first_change(TreeState.capture(workspace.environment))
        if moved is not None:
            raise changed(moved)
    for path, original in workspace.originals.items():
        if original is None:
            if os.path.lexists(path):
                raise changed(path)
            continue
        source = renamed_from.get(path, path)
        try:
            current = real_target(source).read_bytes()
        except OSError as exc:
            raise changed(source) from exc
        if _digest(current) != _digest(original):
            raise changed(source)
    for new in workspace.renames.values():
        if os.path.lexists(new):
            raise changed(new)


# -- helpers ----------------------------------------------------------------------------------


def _environment_folders(environment: Environment) -> tuple[Path, ...]:
    return (environment.root, *environment.version_locations)


def _folders_with_files(environment: Environment) -> list[Path]:
    """The environment's folders (walked when its version locations are recursive) and the
    folders of its files (symlink targets inside the environment included)."""
    folders: dict[str, None] = {str(environment.root): None}
    for location in environment.version_locations:
        folders[str(location)] = None
        if environment.recursive:
            for folder, subfolders, _ in os.walk(location):
                subfolders[:] = [s for s in subfolders if s != "__pycache__"]
                folders[folder] = None
    inside = _environment_folders(environment)
    for path in environment.files:
        folders[str(path.parent)] = None
        target = real_target(path)
        if target != path and inside_folders(target, inside):
            folders[str(target.parent)] = None
    return [Path(folder) for folder in folders]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: Path) -> str:
    if not stat.S_ISREG(os.lstat(path).st_mode):
        return ""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _shown(path: Path) -> str:
    from chainlint.report import display_path

    return display_path(path, Path.cwd())


def _step(count: bool = True) -> None:
    global _step_count
    limit = os.environ.get(CRASH_VARIABLE)
    if limit is not None and limit.isdigit() and _step_count >= int(limit):
        _crash()
    if count:
        _step_count += 1


def _crash() -> None:
    os._exit(CRASH_EXIT)
