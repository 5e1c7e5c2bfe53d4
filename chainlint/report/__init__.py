"""Reporters: findings in, text out. They format; they never compute."""

from __future__ import annotations

from pathlib import Path


def display_path(path: Path, cwd: Path) -> str:
    """A path relative to the working directory when it is below it, POSIX-style."""
    try:
        return path.resolve().relative_to(cwd.resolve()).as_posix()
    except ValueError:
        try:
            return path.relative_to(cwd).as_posix()
        except ValueError:
            return path.as_posix()
