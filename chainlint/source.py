"""Python source bytes -> text, decoded as the interpreter would (BOM, PEP 263 cookie)."""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
import tokenize
from pathlib import Path

# PEP 263, as the tokenizer reads it from the first two lines.
_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_BLANK = re.compile(rb"^[ \t\f]*(?:[#\r\n]|$)")


def decode_source(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was decoded with; raises SyntaxError, LookupError or
    UnicodeDecodeError for what the interpreter would refuse."""
    # Most files: no BOM and no "coding" in the two lines a cookie may occupy, so the encoding
    # is UTF-8 (what tokenize.detect_encoding returns then); anything else takes its path.
    if not data.startswith(codecs.BOM_UTF8):
        first = data.find(b"\n")
        second = data.find(b"\n", first + 1) if first >= 0 else -1
        head = data if second < 0 else data[:second]
        if b"coding" not in head:
            try:
                return data.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                pass  # the slow path raises what the interpreter would say
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding), encoding


def lenient_encoding(data: bytes) -> str:
    """The encoding a file declares (BOM or cookie), without checking any byte: for text the
    interpreter accepted although `tokenize` would not (a non-UTF-8 byte in a comment)."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for index, line in enumerate(data.split(b"\n", 2)[:2]):
        match = _COOKIE.match(line)
        if match:
            name = match.group(1).decode("ascii")
            try:
                return codecs.lookup(name).name
            except LookupError:
                return "utf-8"
        if index == 0 and not _BLANK.match(line):
            break
    return "utf-8"


class NotReadable(Exception):
    """A path that is not a regular file, or a file above the size limit."""


def read_regular_file(path: Path, max_size: int) -> bytes:
    """The bytes of a regular file of at most `max_size` bytes; raises NotReadable or OSError."""
    # O_NONBLOCK: opening a FIFO with no writer must not wait for one.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    descriptor = os.open(path, flags)
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise NotReadable(f"not a regular file ({_file_kind(status.st_mode)})")
        if status.st_size > max_size:
            raise NotReadable(too_large(status.st_size, max_size))
        # One read of the size fstat gave and a byte more, to see that it did not grow: a
        # regular file's read comes short only at its end. (Asking for the most any read may
        # give instead made a 1 MB buffer per file: 10k files, ~0.4 s.)
        first = os.read(descriptor, status.st_size + 1)
        if len(first) == status.st_size:
            return first
        chunks = [first]
        remaining = max_size + 1 - len(first)
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(descriptor)
    data = b"".join(chunks)
    if len(data) > max_size:  # it grew after fstat
        raise NotReadable(too_large(len(data), max_size))
    return data


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


def too_large(size: int, max_size: int) -> str:
    return f"too large ({size:,} bytes; max-file-size is {max_size:,})"
