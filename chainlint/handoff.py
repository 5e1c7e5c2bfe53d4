"""What a forked helper hands back to the parent (chainlint.lint.read_files, and the
two-ended split of chainlint.bothends for reads and cache decodes): its files, pickled.

The helper is this process's own fork, writing to an unnamed temporary file only the two of
them hold: nothing from disk or from the repository is ever unpickled (the cache stays plain
JSON). Records travel as their constructor's arguments, so unpickling one is a call of its
`__init__` (about 5x cheaper than decoding its cache row, and the parent's time is what the
split saves); the share's paths travel as their index, so the parent's own Path objects come
back. Imported only when work is split (pickle costs a warm run nothing).
"""

from __future__ import annotations

import copyreg
import dataclasses
import io
import operator
import os
import pickle
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chainlint.errors import InternalError
from chainlint.read import RevisionFile

Read = list[Any]


# Chunks sent between two resets of the memo (see Sender).
RESET_EVERY = 32
# Written before a reset: the receiver resets its memo at the same point.
_RESET = "reset"
# Each pickle goes to the file as a frame: its length, then its bytes. The receiver can then
# tell a whole pickle from one still being written, and take chunks while the helper works.
_LENGTH = struct.Struct("<Q")


class Sender:
    """Writes a helper's files to `handle` a chunk at a time, each a run of consecutive files
    of the share, the first chunk ending the share and each next one just before the last (a
    helper reading from the end), then an end mark; each is flushed as a frame (see _LENGTH).
    One pickler writes them, its memo reset every RESET_EVERY chunks: a string or path shared
    by files travels once within those, and the receiver's memo, which keeps alive every object
    it made (the constructor arguments of every record among them: ~9 MB for half of 10k
    files), is let go as often."""

    def __init__(self, handle: Any, share: list[Path]) -> None:
        self._handle = handle
        self._pickle = io.BytesIO()
        self._pickler = _HelperPickler(self._pickle, share)
        self._chunks = 0

    def chunk(self, first: int, read: Read) -> None:
        """The files of share[first : first + len(read)]."""
        if self._chunks == RESET_EVERY:
            # The mark first, then the reset: both memos are empty from the same point on.
            self._dump(_RESET)
            self._pickler.clear_memo()
            self._chunks = 0
        self._dump((first, read))
        self._chunks += 1

    def end(self) -> None:
        self._dump(None)

    def _dump(self, value: object) -> None:
        self._pickler.dump(value)
        frame = self._pickle.getvalue()
        self._pickle.seek(0)
        self._pickle.truncate()
        self._handle.write(_LENGTH.pack(len(frame)))
        self._handle.write(frame)
        self._handle.flush()


def send(handle: Any, share: list[Path], read: Read) -> None:
    """Write a helper's files for the whole share (with their cache row texts, or None)."""
    sender = Sender(handle, share)
    sender.chunk(0, read)
    sender.end()


class Receiver:
    """Takes what a Sender writes for this share, frame by frame, from the file both
    processes hold: while the helper still writes (`take_sent`, which never waits) and once it
    is done (`finish`). The file is read at explicit offsets (os.pread): the file position is
    the helper's, shared since the fork."""

    def __init__(self, handle: Any, share: list[Path], valid: Callable[[Any], bool]) -> None:
        self._descriptor = handle.fileno()
        self._share = share
        self._valid = valid
        self._offset = 0
        self._frame = io.BytesIO()
        self._unpickler = _HelperUnpickler(self._frame, share)
        self._chunks: list[Read] = []
        self._begins = len(share)
        self._ended = False
        self._failed = False

    def take_sent(self) -> int:
        """Take every whole frame written so far; how many of the share's files are taken.
        Anything wrong fails the whole share."""
        self._take_whole_frames()
        return len(self._share) - self._begins

    def finish(self) -> tuple[int, list[Any]] | None:
        """Once the helper is done: the index of the first file it sent and the results from
        there to the share's end, in order; None for anything else (a result `valid` refuses
        among it, a frame missing or cut short)."""
        self._take_whole_frames()
        if self._failed or not self._ended or self._begins < 0:
            return None
        results = [item for read in reversed(self._chunks) for item in read]
        return (self._begins, results) if all(map(self._valid, results)) else None

    def _take_whole_frames(self) -> None:
        try:
            while not (self._ended or self._failed) and self._take_frame():
                pass
        except Exception:  # whatever went wrong, the share is done again by the parent
            self._failed = True

    def _take_frame(self) -> bool:
        """Take the next frame if it is whole in the file; whether it was."""
        head = os.pread(self._descriptor, _LENGTH.size, self._offset)
        if len(head) < _LENGTH.size:
            return False
        (length,) = _LENGTH.unpack(head)
        frame = os.pread(self._descriptor, length, self._offset + _LENGTH.size)
        if len(frame) < length:
            return False
        self._offset += _LENGTH.size + length
        self._frame.seek(0)
        self._frame.truncate()
        self._frame.write(frame)
        self._frame.seek(0)
        chunk = self._unpickler.load()
        if self._frame.tell() != length:
            raise ValueError("a frame holds more than one pickle")
        if chunk is None:
            self._ended = True
        elif chunk == _RESET:  # a new unpickler: its memo starts empty, as the sender's
            self._unpickler = _HelperUnpickler(self._frame, self._share)
        else:
            if type(chunk) is not tuple or len(chunk) != 2:
                raise ValueError("not a chunk")
            first, read = chunk
            if type(first) is not int or type(read) is not list:
                raise ValueError("not a chunk")
            if first + len(read) != self._begins:
                raise ValueError("not the chunk before the last")
            self._chunks.append(read)
            self._begins = first
        return True


def receive(
    handle: Any, share: list[Path], valid: Callable[[Any], bool]
) -> tuple[int, list[Any]] | None:
    """What a Sender wrote for this share, the helper being done (see Receiver.finish)."""
    return Receiver(handle, share, valid).finish()


def is_read_row(item: Any) -> bool:
    """A file read and its cache row's text or None: what chainlint.lint's reads make."""
    return (
        type(item) is tuple
        and len(item) == 2
        and type(item[0]) is RevisionFile
        and (item[1] is None or type(item[1]) is str)
    )


def _share_path(index: int) -> Path:
    """Stands for the share's path at `index` in a helper's pickle (_HelperUnpickler)."""
    raise InternalError("a helper's path is resolved only by the unpickler of its share")


class _HelperPickler(pickle.Pickler):
    def __init__(self, handle: Any, share: list[Path]) -> None:
        super().__init__(handle, protocol=pickle.HIGHEST_PROTOCOL)
        indices = {id(path): index for index, path in enumerate(share)}
        # Asked (in C) for what is not a plain str, int, tuple, list, ...: a reducer by type,
        # made at its first object (a reducer_override would be one more Python call each).
        self.dispatch_table = _Reducers(indices)


class _Reducers(dict[type, Callable[[Any], Any]]):
    """The pickler's reducer for each type met: a record travels as its constructor's
    arguments, one of the share's paths as its index, anything else as pickle would have it."""

    def __init__(self, indices: dict[int, int]) -> None:
        super().__init__()
        self._indices = indices

    def __missing__(self, kind: type) -> Callable[[Any], Any]:
        fields = _constructor_fields(kind)
        if fields is not None:
            reducer = _record_reducer(kind, fields)
        elif issubclass(kind, Path):
            reducer = self._path
        else:
            reducer = copyreg.dispatch_table.get(kind, _default_reduce)
        self[kind] = reducer
        return reducer

    def _path(self, path: Path) -> Any:
        index = self._indices.get(id(path))
        return (_share_path, (index,)) if index is not None else path.__reduce__()


def _record_reducer(
    kind: type, fields: Callable[[Any], tuple[Any, ...]]
) -> Callable[[Any], tuple[Any, ...]]:
    return lambda obj: (kind, fields(obj))


def _default_reduce(obj: Any) -> Any:
    return obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)


class _HelperUnpickler(pickle.Unpickler):
    def __init__(self, handle: Any, share: list[Path]) -> None:
        super().__init__(handle)
        self._share = share

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == _share_path.__name__:
            return self._share.__getitem__
        return super().find_class(module, name)


_FIELDS: dict[type, Callable[[Any], tuple[Any, ...]] | None] = {}


def _constructor_fields(cls: type) -> Callable[[Any], tuple[Any, ...]] | None:
    """For a dataclass whose __init__ takes every field positionally: a function giving an
    instance's fields, in order, as a tuple; None for any other class."""
    if cls not in _FIELDS:
        fields = dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ()
        usable = (
            bool(fields)
            and not hasattr(cls, "__post_init__")
            and all(field.init and not field.kw_only for field in fields)
        )
        getter = operator.attrgetter(*(field.name for field in fields)) if usable else None
        _FIELDS[cls] = (lambda obj: (getter(obj),)) if getter and len(fields) == 1 else getter
    return _FIELDS[cls]
