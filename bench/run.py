"""Benchmark: chainlint against `alembic heads` and against floors, side by side, in one run.

    python bench/run.py [--sizes 1000,10000] [--repeat 5] [--keep] [--quick]

For each size it writes an Alembic environment in the default `script.py.mako` style (typed
assignments, docstring headers, a few `op.*` calls per file, merges and a labelled branch),
then times, alternating, `--repeat` times each, and reports medians:

- chainlint check with --no-cache (also with the read in one process, `CHAINLINT_PROCESSES=1`);
  cold (no cache yet: it is written); warm (cache present, tree unchanged); one file touched
  (new mtime, same bytes: findings reused after reading that file again); one file edited (a
  line inserted, so its row changes: the graph and every rule run again);
- `alembic heads`, without .pyc files (a fresh CI checkout) and with them;
- three floors: one Python process that reads and `ast.parse`s every file and keeps nothing,
  one that starts and stats every file, and one that only starts (`-c pass`: what any command
  of this interpreter pays, an editable install's import hook included);
- `chainlint --version`, against the last floor.

Then the same for a real tree, Superset's migrations, from the wheel cache that
`scripts/realworld.py` fills (skipped, with a message, when it is absent), against Alembic's
own ScriptDirectory with the application's imports stubbed, and one more row for reference: a
process that starts and imports networkx, which a run pays only when a rule walks the revision
DAG (an orphan base, a broken reference, a cycle); a clean tree's check does not.

When the operation rules exist (chainlint/rules/cl30*), chainlint runs with all of CL301-CL305
selected, and the main rows are repeated with `--ignore CL3`.

Every command runs as a fresh process from this virtual environment's `bin/`, the way a user or
pre-commit runs it, with chainlint's bytecode compiled first (as pip does when it installs the
wheel; a machine with PYTHONDONTWRITEBYTECODE set would otherwise compile every module on every
run). Peak memory is each child's maximum resident set size. Read the ratios: the
absolute times move with the machine's load, the ratios much less. `--quick` (1,000 revisions,
3 runs) is for development.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
CHAINLINT = str(BIN / "chainlint")
ALEMBIC = str(BIN / "alembic")
REPOSITORY = Path(__file__).resolve().parent.parent
OPERATION_RULES = sorted((REPOSITORY / "chainlint" / "rules").glob("cl30*.py"))

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


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Wall time of one fresh process."""
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def peak_memory(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> int | None:
    """The process's maximum resident set size in MB, measured by /usr/bin/time when present."""
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


@dataclass
class Case:
    name: str
    command: list[str]
    env: dict[str, str]
    prepare: Callable[[], None] = lambda: None
    # The floor row this one is compared with, and the target for that ratio.
    floor: str | None = None
    target: str = ""
    after: Callable[[], None] = lambda: None


@dataclass
class Row:
    case: Case
    seconds: float
    memory: int | None


PARSE_FLOOR = "floor: read + ast.parse every file"
STAT_FLOOR = "floor: start Python + stat every file"
START_FLOOR = "floor: start Python"
NETWORKX_IMPORT = "start Python + import networkx"
HEADS = "alembic heads (no .pyc)"


def floors(folder: Path, env: dict[str, str]) -> list[Case]:
    parse = (
        "import ast, os, sys\n"
        "for entry in os.scandir(sys.argv[1]):\n"
        "    if entry.name.endswith('.py'):\n"
        "        with open(entry.path, 'rb') as f:\n"
        "            ast.parse(f.read())\n"
    )
    stat = (
        "import os, sys\n"
        "for entry in os.scandir(sys.argv[1]):\n"
        "    if entry.name.endswith('.py'):\n"
        "        os.stat(entry.path)\n"
    )
    return [
        Case(PARSE_FLOOR, [sys.executable, "-c", parse, str(folder)], env),
        Case(STAT_FLOOR, [sys.executable, "-c", stat, str(folder)], env),
        Case(START_FLOOR, [sys.executable, "-c", "pass"], env),
    ]


def measure(cases: list[Case], cwd: Path, repeat: int) -> list[Row]:
    """Alternating: every case once per round, `repeat` rounds; medians."""
    times: dict[str, list[float]] = {case.name: [] for case in cases}
    for _ in range(repeat):
        for case in cases:
            case.prepare()
            times[case.name].append(run(case.command, cwd, case.env))
            case.after()
    rows = []
    for case in cases:
        case.prepare()
        rows.append(
            Row(case, statistics.median(times[case.name]), peak_memory(case.command, cwd, case.env))
        )
        case.after()
    return rows


def rule_variants(check: list[str], env: dict[str, str]) -> tuple[list[str], list[str] | None]:
    """The check command with every operation rule on, and without them (None before they
    exist)."""
    if not OPERATION_RULES:
        return check, None
    return [*check, "--extend-select", "CL3"], [*check, "--ignore", "CL3"]


def bench_size(size: int, repeat: int, workdir: Path) -> list[Row]:
    root = build_tree(workdir / f"tree-{size}", size)
    versions = root / "migrations" / "versions"
    files = sorted(versions.glob("*.py"))
    cache_dir = workdir / f"cache-{size}"
    base_env = {**os.environ, "NO_COLOR": "1", "CHAINLINT_CACHE_DIR": str(cache_dir)}
    serial_env = {**base_env, "CHAINLINT_PROCESSES": "1"}
    no_pyc = {**base_env, "PYTHONDONTWRITEBYTECODE": "1"}
    # Some machines set PYTHONDONTWRITEBYTECODE globally: the .pyc case must unset it.
    with_pyc = {k: v for k, v in base_env.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def drop_pyc() -> None:
        shutil.rmtree(versions / "__pycache__", ignore_errors=True)

    def bytecode_back() -> None:
        run([ALEMBIC, "heads"], root, with_pyc)

    def cold() -> None:
        shutil.rmtree(cache_dir, ignore_errors=True)

    def touch() -> None:
        os.utime(files[len(files) // 2])

    edited = files[len(files) // 3]
    original = edited.read_text()

    def edit() -> None:
        """Insert a comment line below the docstring, or take it out again: every line below
        moves, so the file's row (operations, positions) is new each time."""
        text = edited.read_text()
        marker = '"""\n# edited\n'
        changed = text.replace(marker, '"""\n', 1) if marker in text else None
        if changed is None:
            head, _, rest = original.rpartition('\n"""\n')
            changed = f'{head}\n"""\n# edited\n{rest}'
        edited.write_text(changed)

    check, without_ops = rule_variants([CHAINLINT, "check", str(root)], base_env)
    # Its own cache: the result cache keeps one selection per environment.
    other_env = {**base_env, "CHAINLINT_CACHE_DIR": str(workdir / f"cache-{size}-no-cl3")}
    cases = [
        Case(
            "chainlint check --no-cache",
            [*check, "--no-cache"],
            base_env,
            floor=PARSE_FLOOR,
            target="<= 1.2x",
        ),
        Case("  same, read in one process", [*check, "--no-cache"], serial_env, floor=PARSE_FLOOR),
        Case("chainlint check (cold)", check, base_env, cold, floor=PARSE_FLOOR, target="<= 1.4x"),
        Case("chainlint check (warm)", check, base_env, floor=STAT_FLOOR, target="<= 1.5x"),
    ]
    touched = [
        Case("chainlint check (1 file touched)", check, base_env, touch, target="<= 0.45 s"),
        Case("chainlint check (1 file edited)", check, base_env, edit, target="<= 0.45 s"),
    ]
    if without_ops is not None:
        cases += [
            Case(
                "  --no-cache, --ignore CL3",
                [*without_ops, "--no-cache"],
                other_env,
                floor=PARSE_FLOOR,
            ),
            Case(
                "  warm, --ignore CL3",
                without_ops,
                other_env,
                # Untimed: the previous round's touch invalidated this cache too.
                lambda: run(without_ops, root, other_env),
                floor=STAT_FLOOR,
            ),
        ]
    # After the warm rows: a touched file invalidates every cache of the tree.
    cases += [
        *touched,
        Case(HEADS, [ALEMBIC, "heads"], no_pyc, drop_pyc, after=bytecode_back),
        Case("alembic heads (.pyc present)", [ALEMBIC, "heads"], with_pyc),
        *floors(versions, base_env),
        Case(
            "chainlint --version",
            [CHAINLINT, "--version"],
            base_env,
            floor=START_FLOOR,
            target="<= 0.04 s",
        ),
    ]
    # Prime: the warm case needs a cache, the .pyc case needs bytecode.
    run(check, root, base_env)
    if without_ops is not None:
        run(without_ops, root, other_env)
    bytecode_back()
    return measure(cases, root, repeat)


SUPERSET = "apache-superset-6.1.0"


def bench_superset(repeat: int, workdir: Path) -> list[Row] | str:
    """Superset's migrations from the real-world wheel cache, or why they are skipped."""
    sys.path.insert(0, str(REPOSITORY / "tests"))
    try:
        from realworld_trees import CATALOGUE, cache_root
    finally:
        sys.path.pop(0)
    (tree,) = [t for t in CATALOGUE if t.name == SUPERSET]
    root = cache_root() / "trees" / tree.name
    if not (root / ".complete").exists():
        return (
            f"skipped: {root} is absent (run `python scripts/realworld.py --only apache-superset` "
            "once, with network access, to fill the wheel cache)"
        )
    versions = root / tree.versions
    cache_dir = workdir / "cache-superset"
    env = {**os.environ, "NO_COLOR": "1", "CHAINLINT_CACHE_DIR": str(cache_dir)}
    heads = (
        "import sys\n"
        f"sys.path.insert(0, {str(REPOSITORY / 'tests')!r})\n"
        "from pathlib import Path\n"
        "from realworld_trees import CATALOGUE, alembic_facts\n"
        f"(tree,) = [t for t in CATALOGUE if t.name == {SUPERSET!r}]\n"
        f"alembic_facts(Path({str(root)!r}), tree)\n"
    )
    check, without_ops = rule_variants([CHAINLINT, "check", str(versions)], env)
    other_env = {**env, "CHAINLINT_CACHE_DIR": str(workdir / "cache-superset-no-cl3")}
    cases = [
        Case(
            "chainlint check --no-cache",
            [*check, "--no-cache"],
            env,
            floor=PARSE_FLOOR,
            target="<= 0.22 s",
        ),
        Case("chainlint check (warm)", check, env, target="<= 0.08 s"),
    ]
    if without_ops is not None:
        cases += [
            Case("  --no-cache, --ignore CL3", [*without_ops, "--no-cache"], other_env),
            Case("  warm, --ignore CL3", without_ops, other_env),
        ]
    no_pyc = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    cases += [
        Case(HEADS + ", app imports stubbed", [sys.executable, "-c", heads], no_pyc),
        *floors(versions, env),
        # For reference, not a floor: what a run pays when a rule walks the DAG (networkx
        # stays the graph library; on a tree this small its import would be most of a run).
        Case(NETWORKX_IMPORT, [sys.executable, "-c", "import networkx"], env),
    ]
    run(check, versions, env)
    if without_ops is not None:
        run(without_ops, versions, other_env)
    return measure(cases, versions, repeat)


def print_table(title: str, rows: list[Row]) -> None:
    seconds = {row.case.name: row.seconds for row in rows}
    heads = next(s for name, s in seconds.items() if name.startswith(HEADS))
    print(f"\n{title}")
    columns = ("median", "alembic heads /", "vs floor", "target", "peak MB")
    widths = (9, 16, 9, 9, 8)
    cells = "".join(f" {c:>{w}}" for c, w in zip(columns, widths, strict=True))
    print(f"{'command':<40}{cells}")
    for row in rows:
        floor = seconds.get(row.case.floor) if row.case.floor else None
        ratio = f"{row.seconds / floor:.2f}x" if floor else ""
        memory = row.memory if row.memory is not None else "?"
        print(
            f"{row.case.name:<40} {row.seconds:>8.3f}s {heads / row.seconds:>15.1f}x "
            f"{ratio:>9} {row.case.target:>9} {memory:>8}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description="chainlint vs alembic heads and the floors")
    parser.add_argument("--sizes", default=None, help="revisions per tree (default 1000,10000)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per row (default 5)")
    parser.add_argument("--quick", action="store_true", help="1000 revisions, 3 runs")
    parser.add_argument("--no-superset", action="store_true", help="skip the real tree")
    parser.add_argument("--keep", action="store_true", help="keep the generated trees")
    args = parser.parse_args()
    sizes = args.sizes or ("1000" if args.quick else "1000,10000")
    repeat = args.repeat or (3 if args.quick else 5)
    if not Path(CHAINLINT).exists() or not Path(ALEMBIC).exists():
        raise SystemExit("run from a virtual environment with chainlint[test] installed")
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPOSITORY / "chainlint")], check=True
    )
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the start")
    if OPERATION_RULES:
        print("operation rules present: chainlint rows run with --extend-select CL3")
    workdir = Path(tempfile.mkdtemp(prefix="chainlint-bench-"))
    try:
        for size in (int(s) for s in sizes.split(",")):
            rows = bench_size(size, repeat, workdir)
            print_table(f"{size} revisions, median of {repeat} runs", rows)
        if not args.no_superset:
            superset = bench_superset(repeat, workdir)
            if isinstance(superset, str):
                print(f"\nsuperset (344 revisions): {superset}")
            else:
                print_table(f"superset (344 revisions), median of {repeat} runs", superset)
        print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"\ntrees kept in {workdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
