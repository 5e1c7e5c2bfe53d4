"""What to change, not how: `chainlint.fix` applies edits with libcst. Positions are 1-based."""

from __future__ import annotations

from pathlib import Path

from chainlint.records import record


@record
class ReplaceString:
    """Replace the string literal at (line, column) whose value is `old` with `new`, same quotes."""

    path: Path
    line: int
    column: int
    old: str
    new: str


@record
class SetAssignment:
    """Give a module-level assignment (`down_revision`, `branch_labels`, ...) a new value."""

    path: Path
    name: str
    value: str | tuple[str, ...] | None


@record
class ReplaceHeaderLine:
    """Rewrite the value of a docstring header line (`Revision ID:` or `Revises:`)."""

    path: Path
    line: int
    label: str
    old: str
    new: str


@record
class RenameFile:
    path: Path
    new_path: Path


@record
class CreateFile:
    path: Path
    content: str


Edit = ReplaceString | SetAssignment | ReplaceHeaderLine | RenameFile | CreateFile
