"""The `chainlint` command's entry point. Two answers come before click is imported (a
pre-commit hook or CI step should not pay for the whole CLI): `--version`, and the replay of a
`check` identical to an earlier one whose inputs are all as they were (chainlint.replay)."""

from __future__ import annotations

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

    cli_main(argv)
