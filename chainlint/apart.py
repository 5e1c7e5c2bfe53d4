"""Work done by a forked copy of this process while this one goes on: the read helpers
(chainlint.lint.read_files, chainlint.bothends) and the schema rules on a large graph
(chainlint.lint.check_graph).

The child is this process's own fork and writes what it made to an unnamed temporary file only
the two of them hold: nothing from disk or from the repository is ever unpickled. Whatever goes
wrong in the child (an exception, a kill, a result that cannot be read) gives None, and the
caller does the work itself, so a bug is still reported by the code that has it. fork()
without exec is safe only where no system library runs threads behind our back: the callers
ask chainlint.lint's gate (Linux, a core idle now) first.
"""

from __future__ import annotations

import os
import pickle
import signal
import tempfile
from collections.abc import Callable
from typing import IO, Any


class Child:
    """A forked child writing to `handle`."""

    def __init__(self, pid: int, handle: IO[bytes]) -> None:
        self.pid = pid
        self.handle = handle
        self._reaped = False  # its pid may then belong to another process: never kill it

    def finished(self) -> IO[bytes] | None:
        """The child's output, rewound, once it has exited; None when it failed. The caller
        closes the child after reading it."""
        try:
            _, status = os.waitpid(self.pid, 0)
            self._reaped = True
            if status != 0:
                return None
            self.handle.seek(0)
            return self.handle
        except OSError:
            return None

    def close(self) -> None:
        self.handle.close()

    def abandon(self) -> None:
        """Stop the child (this process failed meanwhile) and reap it."""
        if not self._reaped:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self._reaped = True
        self.close()


def fork(work: Callable[[IO[bytes]], None]) -> Child | None:
    """Fork a child that runs `work` on the temporary file; None when it cannot be started."""
    try:
        handle = tempfile.TemporaryFile()  # noqa: SIM115 - closed by Child.close
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
            work(handle)
            handle.flush()
            code = 0
        finally:
            os._exit(code)
    return Child(pid, handle)


def start(make: Callable[[], Any]) -> Child | None:
    """Fork a child that pickles what `make` returns (see `result`)."""
    return fork(lambda handle: pickle.dump(make(), handle, protocol=pickle.HIGHEST_PROTOCOL))


def result(child: Child) -> Any:
    """What the child of `start` made, or None when it failed; closes the child."""
    try:
        output = child.finished()
        return pickle.load(output) if output is not None else None
    except Exception:  # an unreadable result: the caller does the work
        return None
    finally:
        child.close()
