"""Run `chainlint` as the command does (replay first, then the CLI) in this process."""

from __future__ import annotations

import io
import sys
import tempfile
from dataclasses import dataclass
from typing import BinaryIO

from chainlint import replay
from chainlint.cli import main as cli_main


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: bytes
    stderr: bytes
    # Answered by replay.start, before the pipeline ran.
    replayed: bool


def command(args: list[str]) -> Ran:
    """`chainlint ARGS` as the command runs it (replay first, then the CLI), in this process,
    with standard output and error going to files."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        return _command(args, out, err)


def _command(args: list[str], out: BinaryIO, err: BinaryIO) -> Ran:
    saved = sys.stdout, sys.stderr
    streams = (
        io.TextIOWrapper(out, encoding="utf-8", newline="\n", write_through=True),
        io.TextIOWrapper(err, encoding="utf-8", newline="\n", line_buffering=True),
    )
    sys.stdout, sys.stderr = streams
    replayed = False
    code: object = 0
    try:
        try:
            replay.start(args)
        except SystemExit as exc:
            replayed, code = True, exc.code
        else:
            try:
                cli_main(args)
            except SystemExit as exc:
                code = exc.code
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        sys.stdout, sys.stderr = saved
        for stream in streams:
            stream.detach()
        replay._RECORDER = None
    out.seek(0)
    err.seek(0)
    assert isinstance(code, int)
    return Ran(code, out.read(), err.read(), replayed)


def reference(args: list[str]) -> Ran:
    """The same command with the cache off: what every replay must equal."""
    return command([*args, "--no-cache"])
