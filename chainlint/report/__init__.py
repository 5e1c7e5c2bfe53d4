"""Reporters: findings in, text out. They format; they never compute."""

from __future__ import annotations

import contextlib
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from chainlint.errors import UsageError


def display_path(path: Path, cwd: Path) -> str:
    """A path relative to the working directory when it is below it, POSIX-style. Symlinks are
    not resolved: a file may be a symlink loop."""
    absolute = Path(os.path.abspath(path))
    for base in (Path(os.path.abspath(cwd)), _real(cwd)):
        try:
            return absolute.relative_to(base).as_posix()
        except ValueError:
            continue
    return absolute.as_posix()


@lru_cache(maxsize=16)
def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path


def write_report(path: Path, text: str) -> None:
    """`--output-file`: a temporary file in the same folder, fsync, then rename over `path`, so
    a reader (a SARIF upload step) never sees half a report."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)  # as ruff does
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".chainlint-tmp", dir=folder
        )
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:  # keep the mode of the report it replaces, else what `> file` would give
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
        with contextlib.suppress(OSError):
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
