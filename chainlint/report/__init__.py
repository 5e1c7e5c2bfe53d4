"""Reporters: findings in, text out. They format; they never compute."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path


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
