"""Differential: after any sequence of changes to a project (migrations edited, touched, added,
deleted, renamed; configuration added, changed, removed; environment and arguments changed),
the replayed run prints, byte for byte, what a run without the cache prints, and exits alike."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from helpers import write_tree
from replay_helpers import command, reference

NAMES = ["a.py", "b.py", "c.py", "d.py"]
IDS = ["a", "b", "c", "d", "zz"]
# The racy window for these runs, and how long each change is left to age before the run.
WINDOW_MS = 20
SETTLE = 0.03

CONFIGS = [
    None,
    '[tool.chainlint]\nignore = ["CL001"]\n',
    '[tool.chainlint]\nselect = ["CL0", "CL1"]\n',
    "[tool.chainlint]\nmax-revision-length = 1\n",
    '[tool.chainlint]\nextend-select = ["CL103"]\n',
]
FORMATS = ["text", "json", "sarif", "github", "gitlab"]

migration_name = st.sampled_from(NAMES)
revision_id = st.sampled_from(IDS)
change = st.one_of(
    st.tuples(st.just("edit"), migration_name, revision_id),
    st.tuples(st.just("touch"), migration_name),
    st.tuples(st.just("add"), migration_name, revision_id, revision_id),
    st.tuples(st.just("delete"), migration_name),
    st.tuples(st.just("rename"), migration_name, migration_name),
    st.tuples(st.just("config"), st.sampled_from(range(len(CONFIGS)))),
    st.tuples(st.just("env"), st.sampled_from(["", "1", "2"])),
    st.tuples(
        st.just("args"),
        st.sampled_from(FORMATS),
        st.booleans(),
        st.booleans(),
        st.sampled_from([[], ["migrations/versions/a.py"], ["migrations/versions/b.py", "x.txt"]]),
    ),
)


def _migration(revision: str, down: str | None) -> str:
    parent = "None" if down is None else f'"{down}"'
    # A distinct Create Date per id: CL010 orders heads by it, else by the files' mtimes, and
    # the result cache reuses findings across a touch (a leftover outside the replay).
    day = sum(map(ord, revision)) % 28 + 1
    header = f"Revision ID: {revision}\nRevises: {down}\nCreate Date: 2020-01-{day:02} {revision}"
    return f'"""{header}\n"""\nrevision = "{revision}"\ndown_revision = {parent}\n'


@contextlib.contextmanager
def _project() -> Iterator[Path]:
    saved_cwd, saved_env = os.getcwd(), dict(os.environ)
    folder = Path(tempfile.mkdtemp(prefix="chainlint-replay-"))
    try:
        root = write_tree(
            folder / "project",
            {
                "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n",
                "migrations/env.py": "",
                "migrations/versions/a.py": _migration("a", None),
                "migrations/versions/b.py": _migration("b", "a"),
                "migrations/versions/c.py": _migration("c", "b"),
                "x.txt": "",
            },
        )
        (folder / "cache").mkdir()
        os.environ.update(
            {
                "CHAINLINT_CACHE_DIR": str(folder / "cache"),
                "CHAINLINT_REPLAY_WINDOW_MS": str(WINDOW_MS),
                "NO_COLOR": "1",
            }
        )
        os.environ.pop("CHAINLINT_NO_CACHE", None)
        os.chdir(root)
        yield root
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        shutil.rmtree(folder, ignore_errors=True)


def _apply(root: Path, step: tuple[Any, ...], args: list[str]) -> list[str]:
    versions = root / "migrations" / "versions"
    kind = step[0]
    if kind == "edit" and (versions / step[1]).exists():
        path = versions / step[1]
        text = path.read_text()
        head, _, _ = text.partition("down_revision = ")
        # Often the same size: one-letter ids replace one-letter ids.
        path.write_text(f'{head}down_revision = "{step[2]}"\n')
    elif kind == "touch" and (versions / step[1]).exists():
        os.utime(versions / step[1])
    elif kind == "add":
        (versions / step[1]).write_text(_migration(step[2] + "x", step[3]))
    elif kind == "delete":
        (versions / step[1]).unlink(missing_ok=True)
    elif kind == "rename" and (versions / step[1]).exists():
        (versions / step[1]).rename(versions / step[2])
    elif kind == "config":
        config = CONFIGS[step[1]]
        if config is None:
            (root / "pyproject.toml").unlink(missing_ok=True)
        else:
            (root / "pyproject.toml").write_text(config)
    elif kind == "env":
        os.environ["CHAINLINT_TEST_VARIABLE"] = step[1]
    elif kind == "args":
        _, output_format, quiet, verbose, paths = step
        return [
            "check",
            "--format",
            output_format,
            *(["-q"] if quiet else []),
            *(["-v"] if verbose else []),
            *paths,
        ]
    return args


@given(steps=st.lists(change, min_size=1, max_size=4))
def test_replay_equals_a_run_without_cache(steps: list[tuple[Any, ...]]) -> None:
    with _project() as root:
        args = ["check"]
        command(args)
        for step in steps:
            args = _apply(root, step, args)
            time.sleep(SETTLE)
            first = command(args)
            again = command(args)
            fresh = reference(args)
            expected = (fresh.code, fresh.stdout, fresh.stderr)
            assert (first.code, first.stdout, first.stderr) == expected, step
            assert (again.code, again.stdout, again.stderr) == expected, step
            # Not vacuous: with nothing changed since, the second run of a check that ran to
            # the end is always a replay (a usage error, exit 2, is never recorded).
            assert again.replayed == (fresh.code in (0, 1)), step
