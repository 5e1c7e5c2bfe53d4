"""Reporters: findings in, text out. They format; they never compute."""

from __future__ import annotations

import contextlib
import json as _json  # not `json`: the submodule report/json.py would replace the name
import os
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainlint.errors import UsageError

if TYPE_CHECKING:
    from chainlint.discover import Ignored


def ignored_lines(ignored: Sequence[Ignored], cwd: Path) -> str:
    """`--verbose`: one line per path that was not checked, with the reason (for stderr)."""
    lines = []
    for item in ignored:
        reason = item.describe(lambda path: display_path(path, cwd))
        lines.append(f"chainlint: ignored {display_path(item.path, cwd)}: {reason}")
    return "".join(f"{escape_text(line)}\n" for line in lines)


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


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_char(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def escape_text(text: str) -> str:
    """Text for a terminal or a log line: every character Python's repr would escape
    (newlines, escape sequences, bidi controls, lone surrogates) written as repr writes it,
    `\\n`, `\\x1b`, `\\u202e`, `\\ud800`, so one finding can never fake another line."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape_char(char) for char in text)


def without_surrogates(text: str) -> str:
    """A lone surrogate (an id written as '\\ud800', a file name that is not UTF-8) cannot be
    encoded as UTF-8: write it as the text `\\ud800`."""
    return _SURROGATE.sub(lambda match: _escape_char(match.group()), text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return without_surrogates(value)
    if isinstance(value, dict):
        return {_clean(key): _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    return value


def dump_json(document: Any, *, ensure_ascii: bool = False) -> str:
    """JSON that is always valid UTF-8 and safe to print: a lone surrogate, which no UTF-8
    document can hold, becomes the text `\\ud800`; every other character that is not
    printable (controls, bidi overrides) stays in the data but is written as a JSON escape."""
    text = _json.dumps(_clean(document), indent=2, ensure_ascii=ensure_ascii) + "\n"
    if ensure_ascii or text.replace("\n", "").isprintable():
        return text
    # Outside strings the document holds only printable characters and newlines.
    return "".join(
        char if char == "\n" or char.isprintable() else _json.dumps(char)[1:-1] for char in text
    )


@lru_cache(maxsize=16)
def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path


def write_report(path: Path, text: str) -> None:
    """`--output-file`: a temporary file in the same folder, fsync, then rename over `path`, so
    a reader (a SARIF upload step) never sees half a report."""
    import tempfile

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
