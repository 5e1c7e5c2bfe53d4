"""action.yml, the composite GitHub Action: its inputs, the options it passes (which must be real
`chainlint check` options), and its run step executed by bash as a runner would."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chainlint.cli import CHECK_FORMATS
from chainlint.rules.base import migration
from helpers import write_tree

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
CHAINLINT = Path(sys.executable).with_name("chainlint")


def action() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    return document


def run_scripts() -> list[str]:
    return [step["run"] for step in action()["runs"]["steps"] if "run" in step]


def check_help_options() -> set[str]:
    done = subprocess.run(
        [str(CHAINLINT), "check", "--help"], capture_output=True, text=True, check=True
    )
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", done.stdout))


def test_action_is_composite_with_the_documented_inputs() -> None:
    document = action()
    assert document["runs"]["using"] == "composite"
    inputs = document["inputs"]
    assert {"paths", "base", "format", "args", "version"} <= set(inputs)
    assert inputs["format"]["default"] == "github" and "github" in CHECK_FORMATS
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{\{\s*inputs\.([a-z-]+)\s*\}\}", text))
    assert used == set(inputs), "every input is used, and only declared inputs are"
    steps = document["runs"]["steps"]
    assert any(str(step.get("uses", "")).startswith("actions/setup-python@") for step in steps)
    assert any(
        'pip install --disable-pip-version-check --quiet "${{ github.action_path }}"' in s
        for s in run_scripts()
    )
    # Inputs reach the scripts through the environment, never pasted into the shell text.
    assert not any("${{ inputs." in script for script in run_scripts())


def test_action_passes_only_real_check_options() -> None:
    known = check_help_options()
    assert {"--format", "--base", "--output-file", "--exit-zero"} <= known
    passed: set[str] = set()
    for script in run_scripts():
        passed |= set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", script))
    pip_options = {"--disable-pip-version-check", "--quiet"}
    assert passed - pip_options, passed
    assert passed - pip_options <= known, passed - pip_options - known


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_action_run_step_checks_the_given_paths(tmp_path: Path) -> None:
    (script,) = [s for s in run_scripts() if "chainlint check" in s]
    write_tree(
        tmp_path / "api" / "versions",
        {"a.py": migration("a", None), "b.py": migration("b", "a_typo")},
    )
    env = {
        **os.environ,
        "PATH": f"{CHAINLINT.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "CHAINLINT_PATHS": "api/versions",
        "CHAINLINT_BASE": "",
        "CHAINLINT_FORMAT": "github",
        "CHAINLINT_OUTPUT_FILE": "",
        "CHAINLINT_ARGS": "",
    }

    def run(**overrides: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=tmp_path,
            env={**env, **overrides},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    done = run()
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("::error file=api/versions/b.py,line=13,")
    done = run(
        CHAINLINT_ARGS="--exit-zero --select CL0",
        CHAINLINT_OUTPUT_FILE="out/r.sarif",
        CHAINLINT_FORMAT="sarif",
    )
    assert done.returncode == 0 and done.stdout == "", done.stderr
    assert '"ruleId": "CL001"' in (tmp_path / "out" / "r.sarif").read_text()
    # A glob in the paths is a path, not expanded by the shell.
    done = run(CHAINLINT_PATHS="api/*")
    assert done.returncode == 2 and "api/*" in done.stderr
