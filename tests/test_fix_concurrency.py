"""Four `chainlint fix .` at once on one tree: one of them fixes it, the others wait for the
lock and find nothing left to fix (or give up with the lock line); the tree is never corrupted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chainlint.lint import lint_paths
from chainlint.rules.base import migration
from helpers import write_tree

FILES = 110
OVERLONG = 30
PROCESSES = 4
ROUNDS = int(os.environ.get("CHAINLINT_CONCURRENCY_ROUNDS", "3"))


def synthetic_tree(root: Path) -> Path:
    """A linear chain of FILES revisions; every FILES // OVERLONG-th id is 40 characters long
    (CL006) and named in its file name, its header and its child."""
    step = FILES // OVERLONG
    ids = [
        f"{i:04d}_{'overlong' * 5}"[:40] if i % step == 1 and i // step < OVERLONG else f"r{i:04d}"
        for i in range(FILES)
    ]
    assert sum(len(rev) > 32 for rev in ids) == OVERLONG
    return write_tree(
        root / "versions",
        {
            f"{rev}_step.py": migration(rev, ids[i - 1] if i else None, message=f"step {i}")
            for i, rev in enumerate(ids)
        },
    )


def test_four_concurrent_fixes_leave_one_correct_tree(tmp_path: Path) -> None:
    environment = {**os.environ, "NO_COLOR": "1"}
    for round_number in range(ROUNDS):
        folder = tmp_path / f"round{round_number}"
        versions = synthetic_tree(folder)
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "chainlint", "fix", "."],
                cwd=versions,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(PROCESSES)
        ]
        outputs = [p.communicate() for p in processes]
        outcomes = [
            (p.returncode, out, err) for p, (out, err) in zip(processes, outputs, strict=True)
        ]
        for _, out, err in outcomes:
            assert "Traceback" not in out + err and "internal error" not in out + err
        winners = [out for code, out, _ in outcomes if code == 0 and "Fixed 30 findings" in out]
        assert len(winners) == 1, outcomes
        for code, out, err in outcomes:
            if out in winners:
                continue
            if code == 2:
                assert (out, err) == ("", "chainlint: another chainlint fix is running on .\n")
            else:
                assert (code, err) == (0, "") and out == "Fixed 0 findings; 0 remaining.\n"
        names = sorted(p.name for p in versions.iterdir())
        assert len(names) == FILES, names
        assert all(name.endswith("_step.py") for name in names)  # no temporary file, no journal
        result = lint_paths([versions])
        assert result.findings == []
        (graph,) = (env.graph for env in result.environments)
        assert graph is not None and len(graph.heads) == 1 and len(graph.revisions) == FILES
