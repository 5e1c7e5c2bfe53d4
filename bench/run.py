"""Benchmark: chainlint against `alembic heads` on synthetic trees, side by side, in one run.

    python bench/run.py [--sizes 1000,10000] [--repeat 5] [--keep]

For each size it writes an Alembic environment in the default `script.py.mako` style (typed
assignments, docstring headers, a few `op.*` calls per file, merges and a labelled branch),
then times, alternating, `--repeat` times each, and reports medians:

- chainlint check with --no-cache; cold (no cache yet: it is written); warm (cache present, tree
  unchanged); one file touched;
- `alembic heads`, without .pyc files (a fresh CI checkout) and with them;
- the floor: a Python process that reads every file's bytes;
- `chainlint --version`.

Every command runs as a fresh process from this virtual environment's `bin/`, the way a user or
pre-commit runs it. Peak memory is each child's maximum resident set size.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent
CHAINLINT = str(BIN / "chainlint")
ALEMBIC = str(BIN / "alembic")

TEMPLATE = '''"""{message}

Revision ID: {rev}
Revises: {revises}
Create Date: 2024-01-01 00:00:{second:02d}.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = {rev!r}
down_revision: Union[str, Sequence[str], None] = {down!r}
branch_labels: Union[str, Sequence[str], None] = {labels!r}
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "table_{n}",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_table_{n}_name", "table_{n}", ["name"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_table_{n}_name", table_name="table_{n}")
    op.drop_table("table_{n}")
'''


def build_tree(root: Path, size: int) -> Path:
    """A valid history: a main line with a fork and merge every 50 revisions, and a labelled
    second branch (5% of the revisions) from its own base. One head per branch."""
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/migrations\npath_separator = os\n"
    )
    (root / "migrations" / "env.py").write_text("raise SystemExit('not needed for heads')\n")
    labelled = max(size // 20, 2)
    main_count = size - labelled

    def write(n: int, rev: str, down: str | tuple[str, ...] | None, labels: object = None) -> None:
        revises = ", ".join(down) if isinstance(down, tuple) else (down or "")
        source = TEMPLATE.format(
            message=f"change {n}",
            rev=rev,
            revises=revises,
            down=down,
            labels=labels,
            n=n,
            second=n % 60,
        )
        (versions / f"{rev}_change_{n}.py").write_text(source)

    def rid(n: int) -> str:
        return hashlib.sha1(f"main-{n}".encode()).hexdigest()[:12]

    head: str | None = None
    n = 0
    while n < main_count:
        if n % 50 == 25 and n + 3 <= main_count and head is not None:
            left, right, merge = rid(n), rid(n + 1), rid(n + 2)
            write(n, left, head)
            write(n + 1, right, head)
            write(n + 2, merge, (left, right))
            head = merge
            n += 3
            continue
        write(n, rid(n), head)
        head = rid(n)
        n += 1
    branch_head: str | None = None
    for k in range(labelled):
        rev = hashlib.sha1(f"branch-{k}".encode()).hexdigest()[:12]
        write(main_count + k, rev, branch_head, ("reports",) if branch_head is None else None)
        branch_head = rev
    return root


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall time and the child's peak RSS in MB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode()[-500:]}")
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: measured with /usr/bin/time
    # when present, which reports this child alone.
    del before
    return elapsed, after // 1024


def peak_memory(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> int | None:
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if timer is None:
        return None
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(
            [timer, "-f", "%M", "-o", out.name, *command],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        text = out.read().strip().splitlines()
    return int(text[-1]) // 1024 if text and text[-1].isdigit() else None


def bench_size(size: int, repeat: int, workdir: Path) -> list[tuple[str, float, int | None]]:
    root = build_tree(workdir / f"tree-{size}", size)
    versions = root / "migrations" / "versions"
    files = sorted(versions.glob("*.py"))
    cache_dir = workdir / f"cache-{size}"
    base_env = {**os.environ, "NO_COLOR": "1", "CHAINLINT_CACHE_DIR": str(cache_dir)}
    no_pyc = {**base_env, "PYTHONDONTWRITEBYTECODE": "1"}
    # Some machines set PYTHONDONTWRITEBYTECODE globally: the .pyc case must unset it.
    with_pyc = {k: v for k, v in base_env.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def drop_pyc() -> None:
        shutil.rmtree(versions / "__pycache__", ignore_errors=True)

    def cold() -> None:
        shutil.rmtree(cache_dir, ignore_errors=True)

    def touch() -> None:
        os.utime(files[len(files) // 2])

    floor = [
        sys.executable,
        "-c",
        (
            "import pathlib,sys\n"
            "n=sum(len(p.read_bytes()) for p in pathlib.Path(sys.argv[1]).glob('*.py'))"
        ),
        str(versions),
    ]
    check = [CHAINLINT, "check", str(root)]
    cases: list[tuple[str, list[str], dict[str, str], Callable[[], None]]] = [
        ("chainlint check --no-cache", [*check, "--no-cache"], base_env, lambda: None),
        ("chainlint check (cold)", check, base_env, cold),
        ("chainlint check (warm)", check, base_env, lambda: None),
        ("chainlint check (1 file touched)", check, base_env, touch),
        ("alembic heads (no .pyc)", [ALEMBIC, "heads"], no_pyc, drop_pyc),
        ("alembic heads (.pyc present)", [ALEMBIC, "heads"], with_pyc, lambda: None),
        ("floor: read every file", floor, base_env, lambda: None),
        ("chainlint --version", [CHAINLINT, "--version"], base_env, lambda: None),
    ]
    # Prime: the warm case needs a cache, the .pyc case needs bytecode.
    run(check, root, base_env)
    run([ALEMBIC, "heads"], root, with_pyc)
    times: dict[str, list[float]] = {name: [] for name, *_ in cases}
    for _ in range(repeat):
        for name, command, env, prepare in cases:
            prepare()
            elapsed, _ = run(command, root, env)
            times[name].append(elapsed)
            if name == "alembic heads (no .pyc)":
                run([ALEMBIC, "heads"], root, with_pyc)  # bytecode back for the next case
    results = []
    for name, command, env, prepare in cases:
        prepare()
        results.append((name, statistics.median(times[name]), peak_memory(command, root, env)))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description="chainlint vs alembic heads")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the generated trees")
    args = parser.parse_args()
    if not Path(CHAINLINT).exists() or not Path(ALEMBIC).exists():
        raise SystemExit("run from a virtual environment with chainlint[test] installed")
    workdir = Path(tempfile.mkdtemp(prefix="chainlint-bench-"))
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            results = bench_size(size, args.repeat, workdir)
            reference = dict((name, t) for name, t, _ in results)
            heads = reference["alembic heads (no .pyc)"]
            floor = reference["floor: read every file"]
            print(f"\n{size} revisions, median of {args.repeat} runs")
            columns = ("median", "vs alembic heads", "vs floor", "peak MB")
            widths = (9, 17, 9, 8)
            cells = "".join(f" {c:>{w}}" for c, w in zip(columns, widths, strict=True))
            print(f"{'command':<34}{cells}")
            for name, seconds, memory in results:
                ratio = heads / seconds
                print(
                    f"{name:<34} {seconds:>8.3f}s {ratio:>16.1f}x {seconds / floor:>8.1f}x "
                    f"{memory if memory is not None else '?':>8}"
                )
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"\ntrees kept in {workdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
