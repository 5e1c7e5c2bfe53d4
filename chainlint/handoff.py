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

import dataclasses
import operator
import pickle
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


class Sender:
    """Writes a helper's files to `handle` a chunk at a time, each a run of consecutive files
    of the share, the first chunk ending the share and each next one just before the last (a
    helper reading from the end), then an end mark. One pickler writes them, its memo reset
    every RESET_EVERY chunks: a string or path shared by files travels once within those, and
    the receiver's memo, which keeps alive every object it made (the constructor arguments of
    every record among them: ~9 MB for half of 10k files), is let go as often."""

    def __init__(self, handle: Any, share: list[Path]) -> None:
        self._pickler = _HelperPickler(handle, share)
        self._chunks = 0

    def chunk(self, first: int, read: Read) -> None:
        """The files of share[first : first + len(read)]."""
        if self._chunks == RESET_EVERY:
            # The mark first, then the reset: both memos are empty from the same point on.
            self._pickler.dump(_RESET)
            self._pickler.clear_memo()
            self._chunks = 0
        self._pickler.dump((first, read))
        self._chunks += 1

    def end(self) -> None:
        self._pickler.dump(None)


def send(handle: Any, share: list[Path], read: Read) -> None:
    """Write a helper's files for the whole share (with their cache row texts, or None)."""
    sender = Sender(handle, share)
    sender.chunk(0, read)
    sender.end()


def receive(
    handle: Any, share: list[Path], valid: Callable[[Any], bool]
) -> tuple[int, list[Any]] | None:
    """What a Sender wrote for this share: the index of the first file it holds and the results
    from there to the share's end, in order; None for anything else (a result `valid` refuses
    among it)."""
    chunks = []
    begins = len(share)
    try:
        unpickler = _HelperUnpickler(handle, share)
        while (chunk := unpickler.load()) is not None:
            if chunk == _RESET:  # a new unpickler: its memo starts empty, as the sender's
                unpickler = _HelperUnpickler(handle, share)
                continue
            if type(chunk) is not tuple or len(chunk) != 2:
                return None
            first, read = chunk
            if type(first) is not int or type(read) is not list or first + len(read) != begins:
                return None
            chunks.append(read)
            begins = first
    except Exception:  # whatever went wrong, the share is done again by the parent
        return None
    if begins < 0:
        return None
    results = [item for read in reversed(chunks) for item in read]
    return (begins, results) if all(map(valid, results)) else None


def is_read_row(item: Any) -> bool:
    """A file read and its cache row's text (or None): what chainlint.lint's reads make."""
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
        self._indices = {id(path): index for index, path in enumerate(share)}

    def reducer_override(self, obj: Any) -> Any:
        # Called for what is not a plain str, int, list, ... (those are written in C).
        index = self._indices.get(id(obj))
        if index is not None:
            return _share_path, (index,)
        fields = _constructor_fields(type(obj))
        return (type(obj), fields(obj)) if fields is not None else NotImplemented


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
