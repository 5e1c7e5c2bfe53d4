"""Files as the user has them: which files a fix may edit, and how one file's new bytes are put
next to it (a temporary file in the same folder, fsynced, with the original's owner, group and
mode) so that one rename makes them visible.

`chainlint.fix.transaction` turns these into one transaction per environment.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

TEMP_SUFFIX = ".chainlint-tmp"


def write_refusal(path: Path, folders: Iterable[Path]) -> str | None:
    """Why the fix must not edit `path` (one line, naming the file), or None.

    - a symlink is written through to its target only when the target lies inside `folders`
      (the environment's folders), and the link itself is never replaced;
    - a hard-linked file is refused: replacing it would split the link;
    - only files the effective user may write (`os.access`); root, whom modes do not stop, still
      treats a file without any write bit as read-only;
    - a file whose owner or group the rewrite could not keep is refused (a non-root user cannot
      give a new file another user's uid, or a group they are not in).
    """
    name = path.name
    try:
        target = real_target(path)
        if target != path and not inside_folders(target, folders):
            return f"{name} is a symlink to {target}, outside the project; it is not followed"
        status = os.stat(target)
    except (OSError, RuntimeError) as exc:
        return f"{name} cannot be examined: {getattr(exc, 'strerror', None) or exc}"
    if not stat.S_ISREG(status.st_mode):
        return f"{name} is not a regular file"
    if status.st_nlink > 1:
        return f"{name} has {status.st_nlink} hard links; rewriting it would split them"
    folder = target.parent
    if not _may(target, os.W_OK) or not status.st_mode & 0o222:
        return f"{name} is read-only"
    if not _may(folder, os.W_OK | os.X_OK):
        return f"{name} is read-only (its folder {folder.name} is not writable)"
    if os.geteuid() != 0:
        if status.st_uid != os.geteuid():
            return f"{name} belongs to uid {status.st_uid}; rewriting it would make it yours"
        if status.st_gid != os.getegid() and status.st_gid not in os.getgroups():
            return f"{name} has group {status.st_gid}, not one of yours; rewriting would change it"
    return None


def _may(path: Path, mode: int) -> bool:
    # The effective user's rights (a set-uid or seteuid process), where the platform can say.
    if os.access in os.supports_effective_ids:
        return os.access(path, mode, effective_ids=True)
    return os.access(path, mode)


def real_target(path: Path) -> Path:
    """The file a write to `path` lands on: the symlink's target (fully resolved), or `path`."""
    if os.path.islink(path):
        return Path(os.path.realpath(path))
    return path


def inside_folders(path: Path, folders: Iterable[Path]) -> bool:
    """Whether `path`, resolved (symlinks and `..` included), lies inside one of `folders`."""
    real = os.path.realpath(path)
    for folder in folders:
        base = os.path.realpath(folder)
        if real == base or real.startswith(base.rstrip(os.sep) + os.sep):
            return True
    return False


def write_temporary(target: Path, data: bytes) -> Path:
    """`data` in a fsynced temporary file next to `target`, with the owner, group and mode of
    `target` when it exists (new files get the umask's mode). The caller renames it."""
    try:
        original: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        original = None
    descriptor, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX
    )
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            if original is not None:
                ours = os.fstat(handle.fileno())
                if (ours.st_uid, ours.st_gid) != (original.st_uid, original.st_gid):
                    os.fchown(handle.fileno(), original.st_uid, original.st_gid)
                # After chown, which clears set-id bits.
                os.fchmod(handle.fileno(), stat.S_IMODE(original.st_mode))
            else:
                os.fchmod(handle.fileno(), 0o666 & ~_umask())
            os.fsync(handle.fileno())
    except Exception:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return temporary


def write_atomic(path: Path, data: bytes) -> None:
    """Replace (or create) `path` with `data` in one rename, keeping owner, group and mode."""
    temporary = write_temporary(path, data)
    try:
        os.replace(temporary, path)
    except Exception:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
