"""The pre-commit hook, end to end: `pre-commit try-repo` against a temporary repository holding
the seed scenario fails with the CL001 message, then passes after `chainlint fix`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_pre_commit_hook_fails_then_passes_after_fix(tmp_path: Path) -> None:
    pytest.importorskip("pre_commit")
    project = tmp_path / "project"
    shutil.copytree(ROOT / "fixtures" / "seed-broken-chain", project)
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "NO_COLOR": "1",
    }
    for args in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "seed"]):
        _run(args, project, env).check_returncode()
    hook = [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "chainlint", "--all-files"]
    failed = _run(hook, project, env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert (
        "CL001 down_revision '001_add_workflow_run_fields' is not a known revision" in failed.stdout
    )
    assert "did you mean '001'" in failed.stdout

    fixed = _run(
        [sys.executable, "-m", "chainlint", "fix", "."], project, {**env, "PYTHONPATH": str(ROOT)}
    )
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    passed = _run(hook, project, env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
