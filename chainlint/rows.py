"""Where a check's fresh cache rows wait until the read cache is written.

A cold check of 10k revisions makes ~8 MB of row texts (compact JSON, chainlint.cache) that
only the cache writer needs, after the graph is built. Held as strings they are the largest
thing the check keeps besides the files themselves (and a forked helper would pickle its half
to this process). While `storing()` is on, each process that reads appends its rows to a row
store of its own, an unnamed file (a memfd on Linux) made by this process before any helper is
forked, and keeps a `RowRef` (where the row is, and its digest) instead of the text. The
writer reads each row back when it writes the document, and checks it against its digest.

Without an unnamed file, rows stay strings, as they are outside `storing()`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from typing import IO

from chainlint.records import record


@record
class RowRef:
    """A row appended to row store `store`: `length` bytes at `offset`, and its digest."""

    store: int
    offset: int
    length: int
    digest: str


# A row as a read hands it on: its text, or where a row store keeps it.
Row = str | RowRef


def text_digest(text: str) -> str:
    """What names a file's row: a digest of its compact JSON text (see chainlint.cache)."""
    return data_digest(text.encode("ascii"))


def data_digest(data: bytes) -> str:
    """`text_digest` of the row whose text is these (ASCII) bytes."""
    return hashlib.sha256(data).hexdigest()[:32]


def row_digest(row: Row) -> str:
    return row.digest if type(row) is RowRef else text_digest(row)  # type: ignore[arg-type]


class RowStore:
    """One process's rows, appended to an unnamed file. Each store is appended to by one
    process only (its own offset, never the shared file position), and flushed before that
    process hands on any RowRef into it."""

    def __init__(self, index: int, handle: IO[bytes]) -> None:
        self.index = index
        self._handle = handle
        self._descriptor = handle.fileno()
        self._end = 0  # where the pending bytes go
        self._pending = bytearray()

    def add(self, text: str) -> RowRef:
        data = text.encode("ascii")
        ref = RowRef(self.index, self._end + len(self._pending), len(data), text_digest(text))
        self._pending += data
        return ref

    def flush(self) -> None:
        while self._pending:
            written = os.pwrite(self._descriptor, self._pending, self._end)
            self._end += written
            del self._pending[:written]

    def read(self, ref: RowRef) -> str | None:
        """The row's text, or None when the store does not hold it as it was made."""
        try:
            data = os.pread(self._descriptor, ref.length, ref.offset)
            text = data.decode("ascii")
        except (OSError, UnicodeDecodeError):
            return None
        return text if len(data) == ref.length and text_digest(text) == ref.digest else None

    def close(self) -> None:
        self._handle.close()


_STORES: list[RowStore] = []


class _Writing:
    """Whether this process stores its rows now, and the store it appends to (made at its
    first row: a check answered from the result cache makes none)."""

    requested = False
    store: RowStore | None = None


@contextlib.contextmanager
def storing() -> Iterator[None]:
    """Rows made by this process meanwhile go to a store of its own (see `keep`); the stores
    made meanwhile are closed after (a forked cache writer holds its own copies)."""
    _Writing.requested, _Writing.store = True, None
    try:
        yield
    finally:
        _Writing.requested, _Writing.store = False, None
        close_stores()


def is_storing() -> bool:
    return _Writing.requested


def new_store() -> RowStore | None:
    """A store for this process or, made before the fork, for a helper; None without an
    unnamed file."""
    from chainlint.apart import unnamed_file

    handle = unnamed_file()
    if handle is None:
        return None
    store = RowStore(len(_STORES), handle)
    _STORES.append(store)
    return store


def write_to(store: RowStore | None) -> None:
    """In a forked helper: its rows go to `store` (made for it before the fork), else stay
    strings (never to this process's store: two processes would append at one offset)."""
    _Writing.requested, _Writing.store = store is not None, store


def keep(text: str) -> Row:
    """The row as this process hands it on: a RowRef while storing, else the text."""
    if not _Writing.requested:
        return text
    if _Writing.store is None:
        _Writing.store = new_store()
        if _Writing.store is None:
            _Writing.requested = False
            return text
    return _Writing.store.add(text)


def flush() -> None:
    """Before RowRefs made here are handed on (a helper's frame, the end of a read)."""
    if _Writing.store is not None:
        _Writing.store.flush()


def text_of(row: object) -> str | None:
    """A row's text: itself, or read back from its store (None when that fails)."""
    if type(row) is str:
        return row
    if type(row) is not RowRef:
        return None
    return _STORES[row.store].read(row) if 0 <= row.store < len(_STORES) else None


def close_stores() -> None:
    for store in _STORES:
        store.close()
    _STORES.clear()
