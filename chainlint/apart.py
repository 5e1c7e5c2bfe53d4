"""Work done by a forked copy of this process while this one goes on: the read helpers
(chainlint.lint.read_files, chainlint.bothends) and the schema rules on a large graph
(chainlint.lint.check_graph).

The child is this process's own fork and writes what it made to an unnamed file (a memfd) only
the two of them hold: nothing from disk or from the repository is ever unpickled. Whatever goes
wrong in the child (an exception, a kill, a result that cannot be read) gives None, and the
caller does the work itself, so a bug is still reported by the code that has it. fork()
without exec is safe only where no system library runs threads behind our back: the callers
ask chainlint.lint's gate (Linux, a core idle now) first.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Callable
from typing import IO, Any


class Child:
    """A forked child writing to `handle`; it writes a byte to the `done` pipe once all it
    wrote is flushed, so its output is read without waiting for its exit (tearing down a
    large copy of this process takes a while)."""

    def __init__(self, pid: int, handle: IO[bytes], done: int) -> None:
        self.pid = pid
        self.handle = handle
        self._done: int | None = done
        # Reaped, or handed to _EXITING: its pid may then be another process's, never killed.
        self._reaped = False

    def finished(self) -> IO[bytes] | None:
        """The child's output, rewound, once it has written all of it; None when it failed.
        The caller closes the child after reading it."""
        try:
            if self._read_done() != b"d":  # it died before it was done
                self._reap()
                return None
            self.handle.seek(0)
            return self.handle
        except OSError:
            return None

    def ready(self) -> bool:
        """Whether the child is done (or gone): `finished` would not wait."""
        if self._done is None:
            return True
        import select

        return bool(select.select([self._done], [], [], 0)[0])

    def close(self) -> None:
        """Close the output; the child is reaped now if it has exited, else by a later fork."""
        self._close_done()
        self.handle.close()
        if not self._reaped:
            _EXITING.append(self.pid)
            self._reaped = True
            _reap_exited()

    def abandon(self) -> None:
        """Stop the child (this process failed meanwhile) and reap it."""
        if not self._reaped:
            import signal

            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
            self._reap()
        self.close()

    def _read_done(self) -> bytes:
        assert self._done is not None
        try:
            return os.read(self._done, 1)
        finally:
            self._close_done()

    def _close_done(self) -> None:
        if self._done is not None:
            os.close(self._done)
            self._done = None

    def _reap(self) -> None:
        with contextlib.suppress(OSError):
            os.waitpid(self.pid, 0)
        self._reaped = True


# Children done with their work and closed, perhaps still exiting: reaped without waiting.
_EXITING: list[int] = []


def _reap_exited() -> None:
    for pid in list(_EXITING):
        try:
            exited, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            exited = pid
        if exited:
            _EXITING.remove(pid)


def fork(work: Callable[[IO[bytes]], object]) -> Child | None:
    """Fork a child that runs `work` on the temporary file; None when it cannot be started.
    What `work` returns stays alive until the child exits: freeing what it made (thousands of
    records, a pickler's memo) would cost the child ~80 ms at 10k, for nothing."""
    _reap_exited()
    handle = unnamed_file()
    if handle is None:
        return None
    try:
        done, done_here = os.pipe()
    except OSError:
        handle.close()
        return None
    try:
        pid = os.fork()
    except OSError:
        for end in (done, done_here):
            os.close(end)
        handle.close()
        return None
    if pid == 0:  # the child: work, write, exit without running any parent cleanup
        code = 1
        try:
            os.close(done)
            kept = work(handle)  # noqa: F841 - referenced until the exit, see above
            handle.flush()
            os.write(done_here, b"d")
            code = 0
        finally:
            os._exit(code)
    os.close(done_here)
    return Child(pid, handle, done)


def unnamed_file() -> IO[bytes] | None:
    """A read-write file with no name, closed by Child.close: a memfd where Linux has one (no
    `tempfile` import, ~4 ms, before every fork of a run), else a temporary file."""
    try:
        return open(os.memfd_create("chainlint", os.MFD_CLOEXEC), "w+b")
    except (AttributeError, OSError):
        pass
    import tempfile

    try:
        return tempfile.TemporaryFile()
    except OSError:
        return None


def start(make: Callable[[], Any]) -> Child | None:
    """Fork a child that pickles what `make` returns (see `result`)."""

    def make_and_write(handle: IO[bytes]) -> object:
        made = make()
        pickle.dump(made, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return made

    return fork(make_and_write)


def result(child: Child) -> Any:
    """What the child of `start` made, or None when it failed; closes the child."""
    try:
        output = child.finished()
        return pickle.load(output) if output is not None else None
    except Exception:  # an unreadable result: the caller does the work
        return None
    finally:
        child.close()
