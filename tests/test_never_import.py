"""SPEC section 6: no migration is imported, executed or compiled — proven with a tripwire."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chainlint.lint import lint_paths
from helpers import write_tree

ROOT = Path(__file__).resolve().parent.parent

TRIPWIRE = '''"""tripwire

Revision ID: b
Revises: a
"""
import pathlib
pathlib.Path({marker!r}).write_text("imported")
raise SystemExit("this migration was executed")

revision = "b"
down_revision = "a"
'''


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "IMPORTED"
    versions = write_tree(
        tmp_path / "proj" / "versions",
        {
            "a.py": 'revision = "a"\ndown_revision = None\n',
            "b.py": TRIPWIRE.format(marker=str(marker)),
        },
    )
    return versions, marker


def test_check_never_imports_a_migration(tmp_path: Path) -> None:
    versions, marker = _tree(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run(
        [sys.executable, "-m", "chainlint", "check", "--format", "json", str(versions)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert '"revisions": 2' in done.stdout
    assert not marker.exists()
    # Nothing was compiled to bytecode either.
    assert not list(versions.rglob("__pycache__"))


def test_in_process_check_never_imports_a_migration(tmp_path: Path) -> None:
    versions, marker = _tree(tmp_path)
    before = set(sys.modules)
    result = lint_paths([versions])
    assert {e.graph.heads for e in result.environments} == {("b",)}
    assert not marker.exists()
    loaded = {
        name
        for name in set(sys.modules) - before
        if str(versions) in str(getattr(sys.modules[name], "__file__", "") or "")
    }
    assert loaded == set()
