"""Every bundled fixture through the command line: exactly its expected findings; and, where
Alembic can load it, the same heads and bases as Alembic's own ScriptDirectory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chainlint.lint import lint_paths
from oracle_fixtures import alembic_heads_and_bases

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted(p.parent for p in (ROOT / "fixtures").glob("*/expected.json"))


def _expected(fixture: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((fixture / "expected.json").read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_fixture_gives_exactly_its_findings(fixture: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chainlint", "check", "--format", "json", "."],
        capture_output=True,
        text=True,
        cwd=fixture,
        env={
            **{k: v for k, v in os.environ.items() if k.startswith("CHAINLINT_")},
            "PYTHONPATH": str(ROOT),
            "PATH": "/usr/bin:/bin",
            "NO_COLOR": "1",
        },
    )
    assert done.returncode in (0, 1), done.stderr
    document = json.loads(done.stdout)
    got = sorted([f["code"], f["path"], f["line"]] for f in document["findings"])
    expected = _expected(fixture)
    assert got == sorted(expected["findings"]), done.stdout  # type: ignore[arg-type]
    has_error = any(f["severity"] == "error" for f in document["findings"])
    assert done.returncode == (1 if has_error else 0)
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "fixture",
    [f for f in FIXTURES if _expected(f).get("alembic") == "ok"],
    ids=lambda p: p.name,
)
def test_heads_and_bases_agree_with_alembic(fixture: Path) -> None:
    result = lint_paths([fixture])
    assert result.environments
    for env in result.environments:
        heads, bases, revisions = alembic_heads_and_bases(env.environment, sys_path=fixture)
        assert set(env.graph.heads) == heads
        assert set(env.graph.bases) == bases
        assert set(env.graph.revisions) == revisions


def test_every_fixture_has_a_readme_and_expectations() -> None:
    folders = [p for p in (ROOT / "fixtures").iterdir() if p.is_dir()]
    assert folders
    for folder in folders:
        assert (folder / "README.md").is_file(), folder
        assert (folder / "expected.json").is_file(), folder
