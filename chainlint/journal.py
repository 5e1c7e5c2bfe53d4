"""Where an interrupted `chainlint fix` leaves its journal, and what `check` says about one.

Kept apart from `chainlint.fix` (which loads libcst and the graph) so that `check` stays light;
`chainlint.fix.transaction` writes, validates and replays the journal.
"""

from __future__ import annotations

import os
from pathlib import Path

from chainlint import replay
from chainlint.discover import Environment

JOURNAL_NAME = ".chainlint-fix-journal.json"


def journal_path(environment: Environment) -> Path:
    """The journal lives in the environment's root folder, beside the lock (that folder)."""
    return environment.root / JOURNAL_NAME


def pending_journal(environment: Environment) -> Path | None:
    """The journal of an interrupted fix, if one is there."""
    path = journal_path(environment)
    replay.seen(path)
    return path if os.path.lexists(path) else None


def journal_notice(environment: Environment) -> str | None:
    """What `check` and `fix --diff` say about an interrupted fix: they never write, so they
    never finish it (a journal may also have arrived in a pull request)."""
    path = pending_journal(environment)
    if path is None:
        return None
    from chainlint.report import display_path

    return (
        f"an interrupted chainlint fix left a journal ({display_path(path, Path.cwd())}); "
        "run `chainlint fix` to finish it"
    )
