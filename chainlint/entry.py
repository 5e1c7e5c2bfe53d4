"""The `chainlint` command's entry point. Two answers come before click is imported (a
pre-commit hook or CI step should not pay for the whole CLI): `--version`, and the replay of a
`check` identical to an earlier one whose inputs are all as they were (chainlint.replay)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        from chainlint import __version__

        # Exactly what click's version option prints.
        sys.stdout.write(f"chainlint, version {__version__}\n")
        sys.exit(0)
    from chainlint.idle import METER

    METER.mark()  # what is idle from here to a large read decides whether it is split
    if argv is None:  # the command itself, not a caller in this process
        from chainlint import replay

        replay.start(args)
    from chainlint.cli import main as cli_main

    if argv is not None:  # a caller in Python: its interpreter goes on
        cli_main(argv)
        return
    global _EXITING_NOW
    _EXITING_NOW = True
    try:
        cli_main(argv)
        code: object = 0
    except SystemExit as stop:
        code = stop.code
    exit_now(code)


# What the command made, kept from being freed as the stack unwinds to exit_now (which frees
# nothing): a 10k-revision check's files and graph cost ~60 ms to free one object at a time.
_KEPT: list[object] = []
_EXITING_NOW = False


def keep_until_exit(value: object) -> None:
    """Keep `value` alive until the process ends, when it will end without teardown (the
    command itself, not a caller in Python, whose interpreter goes on)."""
    if _EXITING_NOW:
        _KEPT.append(value)


def exit_now(code: object) -> None:
    """End the command as `sys.exit(code)` would, without the interpreter's teardown: freeing a
    large check's objects one at a time (10k revisions: ~60 ms) changes nothing at exit. What
    the teardown does that matters here, flushing the output, is done first (as mypy does)."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        sys.stderr.write(f"{code}\n")
        status = 1
    if sys.gettrace() is not None or sys.getprofile() is not None:
        # A profiler or coverage tool writes its data as the interpreter ends: let it.
        sys.exit(status)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            # Its reader has gone (or it was closed): as Python's own exit would, fail quietly.
            status = status or 1
    os._exit(status)
