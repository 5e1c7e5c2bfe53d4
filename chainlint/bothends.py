"""Work on a list of files split between this process and one forked helper, from both ends:
this process from the front, the helper from the back, until they meet. Reading files
(chainlint.lint.read_files) and decoding their cache entries (chainlint.cache.cached_files)
go this way, so this process may first do other work (the check's imports) while the helper
works on, and the split needs no estimate of what each file costs.

Each side tells the other through a pipe how far it has claimed files (this process the count
from the front, the helper the index it has claimed down to), `CLAIM` files at a time. Each
stops where it sees the other's claim; this process does every file it claims, the helper
those of its claim this process has not claimed since. A claim not seen yet (the two made at
once) only makes both do the same few files. The helper sends each claim's results as it has
them (chainlint.handoff), and this process takes what has come between its own claims;
whatever goes wrong with the helper, this process does the rest itself, so a bug is still
reported naming its file.

fork() without exec is safe only where no system library runs threads behind our back: the
callers ask chainlint.lint's gate (Linux, a core idle now) first.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from chainlint.apart import Child, fork

if TYPE_CHECKING:
    from chainlint.handoff import Receiver

# Files claimed at a time by each end: the most done twice.
CLAIM = 8

# The results for files[low:high], in order (run in both processes).
Work = Callable[[int, int], list[Any]]
# Whether a result the helper sent is one `work` makes.
Validity = Callable[[Any], bool]
# Gives that check; called once the helper works, so what it imports is imported meanwhile.
ValidityCheck = Callable[[], Validity]


def both_ends(
    files: list[Path],
    work: Work,
    validity: ValidityCheck,
    meanwhile: Callable[[], None] | None = None,
) -> list[Any]:
    """`work` over every file, in order: split with a forked helper (`validity()` says whether
    a result it sends back is one `work` makes), after `meanwhile` here."""
    helper = _start(files, work, validity)
    try:
        if meanwhile is not None:
            meanwhile()
        return _from_front(helper, files, work)
    except BaseException:
        if helper is not None:
            helper.abandon()
        raise


class _BackHelper:
    """The forked helper, this process's ends of the two pipes, and what it has sent."""

    def __init__(
        self, child: Child, claims: int, progress: int, files: list[Path], validity: ValidityCheck
    ) -> None:
        self.child = child
        self.claims = claims  # read end: the helper's claims
        self.progress = progress  # write end: this process's
        self._files = files
        self._validity = validity

    @functools.cached_property
    def receiver(self) -> Receiver:
        """Made at the first frame taken, not before the fork: its import (the reader's
        records) is then done while the helper works."""
        from chainlint.handoff import Receiver

        return Receiver(self.child.handle, self._files, self._validity())

    def close(self) -> None:
        self.child.close()
        _close(self.claims, self.progress)

    def abandon(self) -> None:
        """Stop the helper (this process failed meanwhile) and reap it."""
        self.child.abandon()
        _close(self.claims, self.progress)


def _start(files: list[Path], work: Work, validity: ValidityCheck) -> _BackHelper | None:
    try:
        claims = pipe()
    except OSError:
        return None
    try:
        progress = pipe()
    except OSError:
        _close(*claims)
        return None

    def from_back(handle: IO[bytes]) -> object:
        _close(claims[0], progress[1])
        return _from_back(files, work, handle, progress[0], claims[1])

    child = fork(from_back)
    _close(claims[1], progress[0])
    if child is None:
        _close(claims[0], progress[1])
        return None
    return _BackHelper(child, claims[0], progress[1], files, validity)


def _close(*ends: int) -> None:
    for end in ends:
        os.close(end)


def pipe() -> tuple[int, int]:
    """A pipe neither end of which blocks: a full pipe drops a claim (it is only late)."""
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    return read, write


def _from_back(
    files: list[Path], work: Work, handle: IO[bytes], progress: int, claims: int
) -> object:
    """The helper's part: claim and do files from the end down to where this process's claims
    from the front are, each claim's results sent as they are made (this process takes them
    between its own claims, not all once they meet). Returns the sender, which holds every
    result."""
    from chainlint.handoff import Sender

    sender = Sender(handle, files)
    start, front = len(files), 0
    while True:
        front = latest_claim(progress, front)
        if start <= front:
            break
        publish_claim(claims, max(start - CLAIM, front))
        # Files this process claimed meanwhile are its to do (it does every file it claims):
        # only this side yields, so files are done twice only when both claims cross in flight.
        front = latest_claim(progress, front)
        low = max(start - CLAIM, front)
        if low < start:
            sender.chunk(low, work(low, start))
        start = low
    sender.end()
    return sender


def _from_front(helper: _BackHelper | None, files: list[Path], work: Work) -> list[Any]:
    """This process's part: claim and do files from the front up to the helper's claims, then
    take the rest from the helper (or do it here, the helper having failed)."""
    found: list[Any] = []
    front, start = 0, len(files)
    while True:
        if helper is not None:
            start = latest_claim(helper.claims, start)
        if front >= start:
            break
        high = min(front + CLAIM, start)
        if helper is not None:
            publish_claim(helper.progress, high)
        found.extend(work(front, high))
        front = high
        if helper is not None:
            # What the helper has sent so far is taken now, between claims, not all at the
            # end: the two then meet later, with this process's share of the work smaller.
            helper.receiver.take_sent()
    back = _finish(helper)
    if back is not None and back[0] <= front:
        began, done = back
        found.extend(done[front - began :])
    else:
        found.extend(work(front, len(files)))
    return found


def latest_claim(end: int, current: int) -> int:
    """The last claim written to the pipe's read end `end` (each write is 4 bytes, written
    whole: a pipe's writes up to PIPE_BUF are atomic), else `current`."""
    data = b""
    while True:
        try:
            chunk = os.read(end, 4096)
        except BlockingIOError:
            break
        if not chunk:  # the other end is closed: all it wrote has been read
            break
        data += chunk
    whole = len(data) - len(data) % 4
    return int.from_bytes(data[whole - 4 : whole], "little") if whole else current


def publish_claim(end: int, claim: int) -> None:
    # A full pipe, or the other side gone: it does a few files twice, or none.
    with contextlib.suppress(OSError):
        os.write(end, claim.to_bytes(4, "little"))


def _finish(helper: _BackHelper | None) -> tuple[int, list[Any]] | None:
    """Where the helper began and its results from there to the end, or None."""
    if helper is None:
        return None
    try:
        return helper.receiver.finish() if helper.child.finished() is not None else None
    finally:
        helper.close()
