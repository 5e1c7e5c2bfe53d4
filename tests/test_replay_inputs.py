"""The replay record is complete: every path a `check` run opens, lists or stats (seen through
audit hooks and a wrapped os.stat / os.lstat) is one of the inputs it records, or lies in a
recorded folder (but a symlink: its target can change while the folder does not), or is a
folder on the way to a recorded path or the real path of one (resolving it)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chainlint import replay
from chainlint.cli import main as cli_main
from helpers import write_tree

_TOUCHED: list[str] | None = None
_CACHE_NAMES = (".", "read-", "result-", "files-", "replay-")


def _note(path: Any) -> None:
    if _TOUCHED is None or isinstance(path, int):
        return
    try:
        text = os.fsdecode(path)
    except TypeError:
        return
    if not os.path.isabs(text) and os.sep not in text and text.startswith(_CACHE_NAMES):
        return  # a cache file, opened relative to the cache folder's descriptor
    _TOUCHED.append(os.path.normpath(os.path.abspath(text)))


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _TOUCHED is not None and event in ("open", "os.listdir", "os.scandir") and args:
        _note(args[0])


sys.addaudithook(_audit)


@pytest.fixture
def touched(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    global _TOUCHED
    real_stat, real_lstat = os.stat, os.lstat

    def wrap(real: Callable[..., os.stat_result]) -> Callable[..., os.stat_result]:
        def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
            if kwargs.get("dir_fd") is None:
                _note(path)
            return real(path, *args, **kwargs)

        return stat

    monkeypatch.setattr(os, "stat", wrap(real_stat))
    monkeypatch.setattr(os, "lstat", wrap(real_lstat))
    found: list[str] = []
    _TOUCHED = found
    try:
        yield found
    finally:
        _TOUCHED = None


MIGRATION = 'revision = "{rev}"\ndown_revision = {down}\n'


def _chain(folder: str, count: int = 3, prefix: str = "r") -> dict[str, str]:
    files = {}
    for index in range(count):
        down = f'"{prefix}{index - 1}"' if index else "None"
        files[f"{folder}/{prefix}{index}.py"] = MIGRATION.format(rev=f"{prefix}{index}", down=down)
    return files


def tree_ini(root: Path) -> list[str]:
    write_tree(
        root,
        {
            "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n",
            "migrations/env.py": "",
            "migrations/script.py.mako": "${message}\n",
            **_chain("migrations/versions"),
        },
    )
    return ["check"]


def tree_pyproject(root: Path) -> list[str]:
    write_tree(
        root,
        {
            "pyproject.toml": (
                '[tool.chainlint]\nselect = ["CL0", "CL1"]\n\n'
                '[tool.alembic]\nscript_location = "db"\n'
                'version_locations = ["%(here)s/db/one", "%(here)s/db/two"]\n'
            ),
            "db/env.py": "",
            **_chain("db/one", 2, "a"),
            **_chain("db/two", 2, "b"),
        },
    )
    return ["check", "--format", "json"]


def tree_monorepo(root: Path) -> list[str]:
    for service in ("billing", "users"):
        write_tree(
            root / service,
            {
                "alembic.ini": "[alembic]\nscript_location = alembic\n",
                "alembic/env.py": "",
                **_chain("alembic/versions", 2, service[0]),
            },
        )
    return ["check", "-v"]


def tree_constants(root: Path) -> list[str]:
    write_tree(
        root,
        {
            "alembic.ini": (
                "[alembic]\nscript_location = %(here)s/app/migrations\n"
                "recursive_version_locations = true\n"
            ),
            "app/__init__.py": "",
            "app/branches/__init__.py": "",
            "app/branches/cli.py": 'EXPAND = "expand"\nfrom app.other import CONTRACT\n',
            "app/other.py": 'CONTRACT = "contract"\n',
            "app/migrations/env.py": "",
            "app/migrations/versions/base.py": 'revision = "base"\ndown_revision = None\n',
            "app/migrations/versions/expand/e1.py": (
                "from app.branches import cli\n"
                'revision = "e1"\ndown_revision = "base"\nbranch_labels = (cli.EXPAND,)\n'
            ),
            "app/migrations/versions/contract/deep/c1.py": (
                "from app.branches import cli\n"
                'revision = "c1"\ndown_revision = "base"\nbranch_labels = (cli.CONTRACT,)\n'
            ),
        },
    )
    return ["check", "--format", "sarif"]


def tree_symlinks(root: Path) -> list[str]:
    write_tree(
        root,
        {
            "alembic.ini": "[alembic]\nscript_location = migrations\n",
            "migrations/env.py": "",
            **_chain("migrations/versions", 2),
            "elsewhere/r2.py": 'revision = "r2"\ndown_revision = "r1"\n',
            "elsewhere/sub/r3.py": 'revision = "r3"\ndown_revision = "r2"\n',
        },
    )
    versions = root / "migrations" / "versions"
    (versions / "r2.py").symlink_to(root / "elsewhere" / "r2.py")
    (versions / "gone.py").symlink_to(root / "nowhere.py")
    (versions / "sub").symlink_to(root / "elsewhere" / "sub", target_is_directory=True)
    (root / "linked").symlink_to(root / "migrations", target_is_directory=True)
    return ["check", "--format", "github"]


def tree_symlinks_ini(root: Path) -> list[str]:
    tree_symlinks(root)
    return ["check", "alembic.ini"]  # no search of the project: the versions folder alone


def tree_journal(root: Path) -> list[str]:
    tree_ini(root)
    (root / "migrations" / ".chainlint-fix-journal.json").write_text("{}")
    return ["check", "--format", "gitlab"]


def tree_loose_files(root: Path) -> list[str]:
    tree_ini(root)
    (root / "manage.py").write_text("")
    return ["check", "-v", "migrations/versions/r1.py", "manage.py", "migrations/env.py"]


def tree_config_file(root: Path) -> list[str]:
    tree_ini(root)
    (root / "chainlint.toml").write_text('ignore = ["CL0"]\n')
    return ["check", "--config", "chainlint.toml", "-q"]


def tree_flask(root: Path) -> list[str]:
    write_tree(
        root,
        {
            "migrations/alembic.ini": "[alembic]\n",
            "migrations/env.py": "",
            **_chain("migrations/versions", 2),
        },
    )
    return ["check"]


def tree_resource(root: Path) -> list[str]:
    write_tree(
        root,
        {
            "src/pkg/alembic.ini": "[alembic]\nscript_location = pkg:migrations\n",
            "src/pkg/migrations/env.py": "",
            **_chain("src/pkg/migrations/versions", 2),
        },
    )
    return ["check", "src/pkg/alembic.ini"]


def tree_bare(root: Path) -> list[str]:
    write_tree(root, {"setup.cfg": "", **_chain("versions", 3), "versions/notes.txt": ""})
    return ["check", "versions"]


TREES = [
    tree_ini,
    tree_pyproject,
    tree_monorepo,
    tree_constants,
    tree_symlinks,
    tree_symlinks_ini,
    tree_journal,
    tree_loose_files,
    tree_config_file,
    tree_flask,
    tree_resource,
    tree_bare,
]


def _ignored(path: str, cache: Path) -> bool:
    package = os.path.dirname(os.path.dirname(os.path.abspath(replay.__file__)))
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, package, str(cache), "/dev", "/proc"}
    prefixes |= {os.path.dirname(os.__file__)}
    return any(path == p or path.startswith(p.rstrip(os.sep) + os.sep) for p in prefixes)


def _uncovered(touched: list[str], recorded: set[str], cache: Path) -> list[str]:
    # A symlink's stamp is its target's: resolving it touches the target's path.
    recorded = recorded | {os.path.realpath(path) for path in recorded}
    ancestors = set()
    for path in recorded:
        parent = os.path.dirname(path)
        while parent not in ancestors and parent != os.path.dirname(parent):
            ancestors.add(parent)
            parent = os.path.dirname(parent)
    ancestors.add(os.sep)
    return sorted(
        {
            path
            for path in touched
            if not _ignored(path, cache)
            and path not in recorded
            # A symlink's target may change while its folder does not.
            and (os.path.dirname(path) not in recorded or os.path.islink(path))
            and path not in ancestors
        }
    )


def _recorded_run(args: list[str], cache: Path) -> tuple[int, set[str]]:
    recorder = replay.Recorder(str(cache), "replay-test", "0" * 64, 0, capture=False)
    replay._RECORDER = recorder
    try:
        with pytest.raises(SystemExit) as exited:
            cli_main(args)
    finally:
        replay._RECORDER = None
    assert isinstance(exited.value.code, int)
    return exited.value.code, set(recorder.head) | set(recorder.files)


@pytest.mark.parametrize("make", TREES, ids=lambda make: make.__name__)
def test_every_path_a_check_touches_is_recorded(
    make: Callable[[Path], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    touched: list[str],
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("CHAINLINT_CACHE_DIR", str(cache))
    monkeypatch.setenv("CHAINLINT_PROCESSES", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("CHAINLINT_NO_CACHE", raising=False)
    root = tmp_path / "project"
    root.mkdir()
    args = make(root)
    monkeypatch.chdir(root)
    migrations = sorted(p for p in root.rglob("*.py") if p.is_file() and "env" not in p.name)

    def check(stage: str) -> None:
        touched.clear()
        code, recorded = _recorded_run(args, cache)
        assert code in (0, 1), capsys.readouterr()
        assert touched, "the hooks saw nothing: the test would prove nothing"
        seen = list(touched)
        touched.clear()
        assert _uncovered(seen, recorded, cache) == [], stage

    check("cold: the cache is written")
    check("warm: the result cache answers")
    os.utime(migrations[0], ns=(5, 5))
    check("one file touched")
    migrations[-1].write_text(migrations[-1].read_text() + "# edited\n")
    check("one file edited")
    capsys.readouterr()
