"""The `chainlint` command's entry point: `--version` answers before click is imported (a
pre-commit hook or CI step asking for the version should not pay for the whole CLI)."""

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
    from chainlint.cli import main as cli_main

    cli_main(argv)
