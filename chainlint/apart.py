"""Work done by a forked copy of this process while this one goes on with other work: the
rules that replay the schema (chainlint.lint.check_graph) on a large graph.

The child is this process's own fork and writes its result, pickled, to an unnamed temporary
file only the two of them hold: nothing from disk or from the repository is ever unpickled.
Whatever goes wrong in the child (an exception, a kill, a result that cannot be read) gives
None, and the caller does the work itself, so a bug is still reported by the code that has it.
fork() without exec is safe only where no system library runs threads behind our back: the
callers ask chainlint.lint's gate (Linux, a core idle now) first.
"""

from __future__ import annotations

import os
import pickle
import signal
import tempfile
from collections.abc import Callable
from typing import IO, Generic, TypeVar

T = TypeVar("T")


class Apart(Generic[T]):
    """A forked child computing one result."""

    def __init__(self, pid: int, handle: IO[bytes]) -> None:
        self._pid = pid
        self._handle = handle

    @property
    def pid(self) -> int:
        return self._pid

    def result(self) -> T | None:
        """The child's result once it has exited, or None when it failed."""
        try:
            _, status = os.waitpid(self._pid, 0)
            if status != 0:
                return None
            self._handle.seek(0)
            result: T = pickle.load(self._handle)
            return result
        except Exception:  # an unreadable result: the caller does the work
            return None
        finally:
            self._handle.close()

    def abandon(self) -> None:
        """Stop the child (this process failed meanwhile) and reap it."""
        try:
            os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
        except OSError:
            pass
        self._handle.close()


def start(work: Callable[[], T]) -> Apart[T] | None:
    """Fork a child that runs `work` and writes its result; None when it cannot be started."""
    try:
        handle = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Apart
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        handle.close()
        return None
    if pid == 0:  # the child: work, write, exit without running any parent cleanup
        code = 1
        try:
            pickle.dump(work(), handle, protocol=pickle.HIGHEST_PROTOCOL)
            handle.flush()
            code = 0
        finally:
            os._exit(code)
    return Apart(pid, handle)
