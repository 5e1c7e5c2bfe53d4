"""Atomic writes: a temporary file in the same folder, fsync, then rename over the original.

An interrupted fix leaves every file either entirely old or entirely new, never truncated.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def is_read_only(path: Path) -> bool:
    """Whether the file's owner may not write it (root ignores modes; chainlint does not)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return True
    return not mode & stat.S_IWUSR or not os.access(path.parent, os.W_OK)


def write_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace (or create) `path` with `data` in one rename, keeping the file's permissions."""
    if mode is None:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = 0o644
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".chainlint-tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_folder(path.parent)


def rename_atomic(source: Path, target: Path) -> None:
    """Rename without ever replacing an existing file."""
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    os.rename(source, target)
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
