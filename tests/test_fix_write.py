"""How a fix reaches the disk: the lock, the journal and its recovery (every interruption point
replayed, real SIGKILLs), and files as the user has them (owner, group, mode, symlinks, hard
links, CR-only bytes). The concurrency test is in test_fix_concurrency.py."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chainlint.cli import main
from chainlint.discover import discover_environments
from chainlint.fix import transaction
from chainlint.journal import JOURNAL_NAME
from chainlint.rules.base import migration
from helpers import run_cli as run
from helpers import write_tree

LONG = "x" * 20  # with a 20-character prefix, every id below is longer than 32 characters


def long_id(name: str) -> str:
    return f"{name}_{LONG}_{name}_{LONG}"[:40]


class SimulatedCrash(BaseException):
    """Stands for a kill: nothing catches it, no cleanup runs."""


@pytest.fixture
def workdir(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """conftest's workdir, with no crash point inherited from the environment."""
    monkeypatch.delenv(transaction.CRASH_VARIABLE, raising=False)
    return workdir


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below `folder`, with the merge revision's creation time blanked out."""
    return {
        p.relative_to(folder).as_posix(): re.sub(rb"Create Date: [^\r\n]*", b"", p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def leftovers(folder: Path) -> list[str]:
    return sorted(
        p.name
        for p in folder.rglob("*")
        if p.name.endswith(".chainlint-tmp") or p.name == JOURNAL_NAME
    )


# -- scenarios ------------------------------------------------------------------------------------


def rename_tree(root: Path, count: int = 2, length: int = 6) -> Path:
    """A linear chain of `length` revisions whose first `count` non-base ids are overlong (CL006):
    each rename edits the parent (id, header, file name) and its child (down_revision, header)."""
    ids = ["base"] + [long_id(f"r{i}") if i <= count else f"rev{i}" for i in range(1, length)]
    files = {}
    for index, rev in enumerate(ids):
        parent = ids[index - 1] if index else None
        files[f"{rev}_step.py"] = migration(rev, parent, message=f"step {index}")
    return write_tree(root / "versions", files)


def merge_tree(root: Path) -> Path:
    """Two heads on the same branch (CL010): the fix writes a merge revision."""
    return write_tree(
        root / "versions",
        {
            "a.py": migration("a", None),
            "b.py": migration("b", "a"),
            "c.py": migration("c", "a"),
        },
    )


def both_tree(root: Path) -> Path:
    """Both in one run: two CL006 renames and then a CL010 merge of the renamed heads."""
    first, second = long_id("p"), long_id("q")
    return write_tree(
        root / "versions",
        {
            "a_base.py": migration("a", None),
            f"{first}_p.py": migration(first, "a"),
            "b_child.py": migration("b", first),
            f"{second}_q.py": migration(second, "a"),
        },
    )


SCENARIOS = {"rename": rename_tree, "merge": merge_tree, "both": both_tree}


def expected_tree(scenario: str, root: Path, capsys: pytest.CaptureFixture[str]) -> tuple:
    """The tree after an uninterrupted fix, and how many steps that fix took."""
    versions = SCENARIOS[scenario](root)
    before = transaction._step_count
    code, out, _ = run(["fix", str(versions)], capsys)
    assert code == 0, out
    return snapshot(versions), transaction._step_count - before


def crash_at(monkeypatch: pytest.MonkeyPatch, k: int | None) -> None:
    def crash() -> None:
        raise SimulatedCrash

    monkeypatch.setattr(transaction, "_crash", crash)
    monkeypatch.setattr(transaction, "_step_count", 0)
    if k is None:
        monkeypatch.delenv(transaction.CRASH_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(transaction.CRASH_VARIABLE, str(k))


def assert_recovered(versions: Path, expected: dict[str, bytes], capsys) -> None:  # type: ignore[no-untyped-def]
    assert snapshot(versions) == expected
    assert leftovers(versions) == []
    code, out, err = run(["check", str(versions)], capsys)
    assert (code, err) == (0, ""), out


# -- every interruption point --------------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_interruption_point_is_recovered_by_the_next_fix(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    scenario: str,
) -> None:
    expected, steps = expected_tree(scenario, workdir / "expected", capsys)
    assert steps >= 4  # temporary files, journal, operations, journal removed
    for k in range(steps + 1):
        versions = SCENARIOS[scenario](workdir / f"k{k}")
        crash_at(monkeypatch, k)
        with pytest.raises(SimulatedCrash):
            main(["fix", str(versions)])
        crash_at(monkeypatch, None)
        code, out, err = run(["fix", str(versions)], capsys)
        assert (code, err) == (0, ""), f"interrupted after step {k}: {out}"
        assert_recovered(versions, expected, capsys)


def test_an_interrupted_recovery_is_finished_by_the_run_after(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    expected, steps = expected_tree("both", workdir / "expected", capsys)
    replayed = 0
    for k in range(steps + 1):
        for j in range(steps):
            versions = both_tree(workdir / f"k{k}-j{j}")
            crash_at(monkeypatch, k)
            with pytest.raises(SimulatedCrash):
                main(["fix", str(versions)])
            if JOURNAL_NAME not in leftovers(versions):
                break  # nothing to recover: the plain rerun is covered above
            crash_at(monkeypatch, j)
            with contextlib.suppress(SimulatedCrash, SystemExit):
                main(["fix", str(versions)])
            crash_at(monkeypatch, None)
            code, out, err = run(["fix", str(versions)], capsys)
            assert (code, err) == (0, ""), f"crashed after {k}, then after {j}: {out}"
            assert_recovered(versions, expected, capsys)
            replayed += 1
    assert replayed > 10


def test_crash_hook_kills_a_real_process_and_the_next_run_recovers(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The hook as a user-level process sees it: CHAINLINT_TEST_CRASH_AFTER=k exits at once.
    expected, steps = expected_tree("rename", workdir / "expected", capsys)
    for k in (1, steps // 2, steps - 1):
        versions = rename_tree(workdir / f"k{k}")
        done = subprocess.run(
            [sys.executable, "-m", "chainlint", "fix", str(versions)],
            env={**os.environ, transaction.CRASH_VARIABLE: str(k)},
            capture_output=True,
            check=False,
        )
        assert done.returncode == transaction.CRASH_EXIT, done.stderr
        assert leftovers(versions)  # it really stopped half-way
        code, out, _ = run(["fix", str(versions)], capsys)
        assert code == 0, out
        assert_recovered(versions, expected, capsys)


def test_journal_left_behind_is_finished_and_said_so(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    expected, steps = expected_tree("rename", workdir / "expected", capsys)
    versions = rename_tree(workdir / "tree")
    crash_at(monkeypatch, steps - 2)  # journal written, some operations done
    with pytest.raises(SimulatedCrash):
        main(["fix", str(versions)])
    crash_at(monkeypatch, None)
    code, out, _ = run(["fix", str(versions)], capsys)
    assert code == 0
    assert "Finished an interrupted chainlint fix in" in out
    assert_recovered(versions, expected, capsys)


# -- real SIGKILLs -----------------------------------------------------------------------------


def test_sigkill_at_random_moments_never_leaves_a_tree_the_next_fix_cannot_finish(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected, _ = expected_tree("both", workdir / "expected", capsys)
    command = [sys.executable, "-m", "chainlint", "fix"]
    started = time.monotonic()
    subprocess.run([*command, str(both_tree(workdir / "timing"))], capture_output=True, check=True)
    duration = time.monotonic() - started
    seed = random.randrange(1 << 30)
    rounds = random.Random(seed)
    for attempt in range(6):
        versions = both_tree(workdir / f"kill{attempt}")
        process = subprocess.Popen([*command, str(versions)], stdout=subprocess.DEVNULL)
        if attempt % 2:
            # Anywhere in the run: start-up, planning, writing or after.
            time.sleep(rounds.uniform(0.3, 1.0) * duration)
        else:
            # Inside the write: as soon as the first temporary file shows, plus up to 20 ms.
            deadline = time.monotonic() + 3 * duration
            while not leftovers(versions) and time.monotonic() < deadline:
                time.sleep(0.0005)
            time.sleep(rounds.uniform(0, 0.02))
        process.send_signal(signal.SIGKILL)
        process.wait()
        code, out, err = run(["fix", str(versions)], capsys)
        assert (code, err) == (0, ""), f"seed {seed}, round {attempt}: {out}"
        assert_recovered(versions, expected, capsys)


# -- the lock ----------------------------------------------------------------------------------


def test_second_fix_waits_then_exits_2_with_one_line_and_check_is_not_blocked(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = rename_tree(workdir)
    before = snapshot(versions)
    (environment,) = discover_environments([versions])
    monkeypatch.setattr(transaction, "LOCK_WAIT", 0.3)
    with transaction.environment_lock(environment):
        started = time.monotonic()
        code, out, err = run(["fix", str(versions)], capsys)
        assert time.monotonic() - started >= 0.3
        assert (code, out) == (2, "")
        assert err == "chainlint: another chainlint fix is running on versions\n"
        assert snapshot(versions) == before
        code, out, _ = run(["check", str(versions)], capsys)
        assert code == 1 and "CL006" in out
    code, out, _ = run(["fix", str(versions)], capsys)
    assert code == 0 and "Fixed 2 findings" in out


def test_lock_of_a_killed_fix_is_released(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = rename_tree(workdir)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from chainlint.discover import discover_environments\n"
            "from chainlint.fix.transaction import environment_lock\n"
            f"with environment_lock(discover_environments([{str(versions)!r}])[0]):\n"
            "    print('locked', flush=True); time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    code, out, _ = run(["fix", str(versions)], capsys)
    assert code == 0 and "Fixed 2 findings" in out


# -- verification before writing -------------------------------------------------------------------


def test_a_file_edited_while_the_fix_plans_stops_the_write(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chainlint.fix import command

    versions = rename_tree(workdir)
    child = versions / "rev3_step.py"
    planned = command.fix_environment

    def plan_while_an_editor_saves(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = planned(*args, **kwargs)
        child.write_text(child.read_text() + "# saved by an editor\n")
        return result

    monkeypatch.setattr(command, "fix_environment", plan_while_an_editor_saves)
    before = snapshot(versions)
    code, out, err = run(["fix", str(versions)], capsys)
    assert code == 2 and out == ""
    assert err.startswith("chainlint: ") and "changed while chainlint fix was planning" in err
    assert len(err.splitlines()) == 1
    before["rev3_step.py"] += b"# saved by an editor\n"
    assert snapshot(versions) == before
    assert leftovers(versions) == []


@pytest.mark.parametrize(("name", "stops"), [("0009_new.py", True), (".0002_b.py.swp", False)])
def test_a_migration_added_while_the_fix_plans_stops_the_write_other_files_do_not(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    stops: bool,
) -> None:
    from chainlint.fix import command

    versions = merge_tree(workdir)
    planned = command.fix_environment

    def plan_while_a_file_appears(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = planned(*args, **kwargs)
        (versions / name).write_text(migration("z", "b"))
        return result

    monkeypatch.setattr(command, "fix_environment", plan_while_a_file_appears)
    code, _, err = run(["fix", str(versions)], capsys)
    if stops:
        assert code == 2 and f"{versions / name} changed while chainlint fix was planning" in err
        assert sorted(p.name for p in versions.iterdir()) == ["0009_new.py", "a.py", "b.py", "c.py"]
    else:
        assert (code, err) == (0, "")
        assert any(p.name.endswith("_merge_heads.py") for p in versions.iterdir())


# -- the journal: check, --diff, validation ---------------------------------------------------


def interrupted(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    versions = rename_tree(workdir)
    crash_at(monkeypatch, 5)  # after the journal: some renames done, some not
    with pytest.raises(SimulatedCrash):
        main(["fix", str(versions)])
    crash_at(monkeypatch, None)
    assert JOURNAL_NAME in leftovers(versions)
    return versions


def test_check_and_diff_report_a_journal_and_change_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = interrupted(workdir, monkeypatch)
    before = snapshot(versions)
    notice = (
        "an interrupted chainlint fix left a journal (versions/.chainlint-fix-journal.json); "
        "run `chainlint fix` to finish it"
    )
    _, _, err = run(["check", str(versions)], capsys)
    assert err == f"chainlint: warning: {notice}\n"
    _, _, err = run(["check", "--format", "json", str(versions)], capsys)
    assert notice in err
    _, _, err = run(["fix", "--diff", str(versions)], capsys)
    assert err.splitlines()[0] == f"chainlint: {notice}"
    assert snapshot(versions) == before


def test_leftover_temporary_files_are_removed_by_the_next_fix(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = merge_tree(workdir)
    stray = [
        versions / ".b.py.ab12cd_9.chainlint-tmp",
        workdir / "..chainlint-fix-journal.json.zz99zz99.chainlint-tmp",
    ]
    for path in stray:
        path.write_text("half written")
    kept = [versions / ".b.py.not-ours.chainlint-tmp", versions / "notes.chainlint-tmp"]
    for path in kept:
        path.write_text("the user's")
    code, _, _ = run(["fix", str(versions)], capsys)
    assert code == 0
    assert not stray[0].exists()
    assert stray[1].exists()  # outside the environment: not chainlint's to remove
    assert all(path.read_text() == "the user's" for path in kept)


def write_journal(versions: Path, document: object) -> Path:
    path = versions / JOURNAL_NAME
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


@pytest.mark.parametrize(
    ("name", "rows", "why"),
    [
        (
            "outside",
            [{"op": "rename", "from": "{v}/base_step.py", "path": "{t}/stolen.py"}],
            "outside",
        ),
        ("dotdot", [{"op": "rename", "from": "{v}/base_step.py", "path": "{v}/../x.py"}], "plain"),
        ("relative", [{"op": "rename", "from": "base_step.py", "path": "{v}/x.py"}], "plain"),
        (
            "temp-elsewhere",
            [{"op": "replace", "temp": "{t}/evil", "path": "{v}/base_step.py", "sha256": "0" * 64}],
            "outside",
        ),
        (
            "not-a-temp",
            [
                {
                    "op": "replace",
                    "temp": "{v}/rev5_step.py",
                    "path": "{v}/base_step.py",
                    "sha256": "0" * 64,
                }
            ],
            "not a chainlint temporary file",
        ),
        ("shape", [{"op": "rename", "from": "{v}/base_step.py"}], "unexpected shape"),
        ("kind", [{"op": "unlink", "path": "{v}/base_step.py"}], "unknown operation"),
        ("not-py", [{"op": "rename", "from": "{v}/base_step.py", "path": "{v}/x.sh"}], "migration"),
    ],
)
def test_a_journal_pointing_anywhere_else_is_rejected_with_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str], name: str, rows: list, why: str
) -> None:
    versions = rename_tree(workdir / "tree")
    filled = [
        {key: value.format(v=versions, t=workdir) for key, value in row.items()} for row in rows
    ]
    write_journal(
        versions,
        {"chainlint_fix_journal": 1, "environment": str(versions), "operations": filled},
    )
    before = snapshot(workdir)
    code, out, err = run(["fix", str(versions)], capsys)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and "is not a valid chainlint fix journal" in err
    assert why in err
    assert snapshot(workdir) == before


@pytest.mark.parametrize(
    "document",
    [
        "{not json",
        "[]",
        {"chainlint_fix_journal": 2, "environment": "{v}", "operations": []},
        {"chainlint_fix_journal": 1, "environment": "/elsewhere", "operations": []},
        {"chainlint_fix_journal": 1, "environment": "{v}", "operations": {}},
        "[" * 100000 + "]" * 100000,
    ],
)
def test_a_malformed_journal_is_rejected_with_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str], document: object
) -> None:
    versions = rename_tree(workdir / "tree")
    if isinstance(document, dict):
        document = {
            k: v.replace("{v}", str(versions)) if isinstance(v, str) else v
            for k, v in document.items()
        }
    write_journal(versions, document)
    before = snapshot(workdir)
    code, _, err = run(["fix", str(versions)], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert "is not a valid chainlint fix journal" in err
    assert snapshot(workdir) == before


def test_a_symlinked_journal_is_rejected(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    versions = rename_tree(workdir / "tree")
    (workdir / "elsewhere.json").write_text("{}")
    (versions / JOURNAL_NAME).symlink_to(workdir / "elsewhere.json")
    code, _, err = run(["fix", str(versions)], capsys)
    assert code == 2 and "not a regular file" in err


def test_a_temporary_file_that_does_not_match_its_journal_is_not_installed(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = rename_tree(workdir)
    crash_at(monkeypatch, 4)  # three temporary files and the journal written, nothing performed
    with pytest.raises(SimulatedCrash):
        main(["fix", str(versions)])
    crash_at(monkeypatch, None)
    journal = json.loads((versions / JOURNAL_NAME).read_text())
    first = journal["operations"][0]
    assert first["op"] == "replace"
    Path(first["temp"]).write_text("revision = 'planted'\n")
    before = snapshot(versions)
    code, _, err = run(["fix", str(versions)], capsys)
    assert code == 2 and "does not hold what the journal recorded" in err
    assert snapshot(versions) == before


# -- files as the user has them ------------------------------------------------------------------


def chain_tree(versions: Path, newline: str = "\n") -> Path:
    """001 <- 002 <- 003 <- 004, each child naming its parent by file stem (three CL001 fixes)."""
    files = {
        "001_initial.py": migration("001", None),
        "0002_b.py": migration("002", "001_initial"),
        "0003_c.py": migration("003", "0002_b"),
        "0004_d.py": migration("004", "0003_c"),
    }
    return write_tree(versions, {k: v.replace("\n", newline).encode() for k, v in files.items()})


def fixed(source: bytes, old: str, new: str) -> bytes:
    return source.replace(f"'{old}'".encode(), f"'{new}'".encode()).replace(
        f"Revises: {old}".encode(), f"Revises: {new}".encode()
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")
def test_root_keeps_owner_group_and_mode_of_every_file_it_rewrites(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = rename_tree(workdir, count=1)
    chain_tree(workdir / "chain")
    targets = [versions / f"{long_id('r1')}_step.py", versions / "rev2_step.py"]
    edited = workdir / "chain" / "0002_b.py"
    for index, path in enumerate([*targets, edited]):
        os.chown(path, 65534, 65534 - index)
        path.chmod(0o604 + index * 0o20)
    code, out, _ = run(["fix", str(versions), str(workdir / "chain")], capsys)
    assert code == 0, out
    (parent,) = (p for p in versions.iterdir() if not p.name.startswith(("base", "rev")))
    assert len(parent.name) < 32 + len("_step.py")  # renamed to a fresh short id
    for index, path in enumerate([parent, versions / "rev2_step.py", edited]):
        status = path.stat()
        assert (status.st_uid, status.st_gid) == (65534, 65534 - index), path.name
        assert stat.S_IMODE(status.st_mode) == 0o604 + index * 0o20, path.name
    assert b"'001'" in edited.read_bytes()


@pytest.mark.skipif(os.geteuid() != 0, reason="switches the effective user with seteuid")
def test_an_effective_user_edits_only_files_it_may_write_and_keep_as_they_are(
    tmp_path: Path,
) -> None:
    import tempfile

    # Below /tmp, not pytest's private folder, so that `nobody` can reach it.
    project = Path(tempfile.mkdtemp(prefix="chainlint-user-"))
    try:
        project.chmod(0o755)
        versions = chain_tree(project / "versions")
        versions.chmod(0o777)
        warm = chain_tree(tmp_path / "warm")
        (versions / "0002_b.py").chmod(0o644)  # root's, not writable by nobody
        (versions / "0003_c.py").chmod(0o666)  # writable, but a rewrite would make it nobody's
        os.chown(versions / "0004_d.py", 65534, 65534)
        before = {p.name: p.read_bytes() for p in versions.iterdir()}
        script = (
            "import os, sys\n"
            "from chainlint.cli import main\n"
            "def call(args):\n"
            "    try:\n"
            "        main(args)\n"
            "    except SystemExit as exc:\n"
            "        return exc.code\n"
            f"call(['fix', {str(warm)!r}])  # loads every lazy module while still root\n"
            "os.setgroups([65534]); os.setegid(65534); os.seteuid(65534)\n"
            f"sys.exit(call(['fix', {str(versions)!r}]))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "NO_COLOR": "1", "CHAINLINT_NO_CACHE": "1"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 1, done.stdout + done.stderr
        assert "not fixed: 0002_b.py is read-only" in done.stdout
        assert "not fixed: 0003_c.py belongs to uid 0; rewriting it would make it yours" in (
            done.stdout
        )
        assert "Fixed " in done.stdout and "0004_d.py:" in done.stdout
        after = {p.name: p.read_bytes() for p in versions.iterdir()}
        assert after["0002_b.py"] == before["0002_b.py"]
        assert after["0003_c.py"] == before["0003_c.py"]
        assert after["0004_d.py"] == fixed(before["0004_d.py"], "0003_c", "003")
        assert (versions / "0002_b.py").stat().st_uid == 0
        assert (versions / "0004_d.py").stat().st_uid == 65534
    finally:
        shutil.rmtree(project)


def alembic_project(root: Path) -> Path:
    (root / "alembic.ini").parent.mkdir(parents=True, exist_ok=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    chain_tree(root / "migrations" / "versions")
    return root


def test_a_symlink_to_a_file_inside_the_project_is_written_through(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = alembic_project(workdir / "project")
    versions = project / "migrations" / "versions"
    shared = project / "migrations" / "shared"
    shared.mkdir()
    (versions / "0002_b.py").rename(shared / "0002_b.py")
    (versions / "0002_b.py").symlink_to("../shared/0002_b.py")
    before = (shared / "0002_b.py").read_bytes()
    code, out, _ = run(["fix", str(project)], capsys)
    assert code == 0, out
    assert (versions / "0002_b.py").is_symlink()
    assert os.readlink(versions / "0002_b.py") == "../shared/0002_b.py"
    assert (shared / "0002_b.py").read_bytes() == fixed(before, "001_initial", "001")
    assert leftovers(project) == []


def test_a_symlink_leaving_the_project_is_refused_and_the_rest_is_fixed(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = alembic_project(workdir / "project")
    versions = project / "migrations" / "versions"
    outside = workdir / "outside"
    outside.mkdir()
    (versions / "0002_b.py").rename(outside / "0002_b.py")
    (versions / "0002_b.py").symlink_to(outside / "0002_b.py")
    before = (outside / "0002_b.py").read_bytes()
    code, out, _ = run(["fix", str(project)], capsys)
    assert code == 1
    assert (
        f"not fixed: 0002_b.py is a symlink to {outside / '0002_b.py'}, outside the project; "
        "it is not followed" in out
    )
    assert (versions / "0002_b.py").is_symlink()
    assert (outside / "0002_b.py").read_bytes() == before
    assert b"down_revision = '003'" in (versions / "0004_d.py").read_bytes()


def test_a_hard_linked_file_is_refused_and_the_rest_is_fixed(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = chain_tree(workdir / "versions")
    os.link(versions / "0003_c.py", workdir / "backup.py")
    before = (versions / "0003_c.py").read_bytes()
    code, out, _ = run(["fix", str(versions)], capsys)
    assert code == 1
    assert "not fixed: 0003_c.py has 2 hard links; rewriting it would split them" in out
    assert (versions / "0003_c.py").read_bytes() == before
    assert (versions / "0003_c.py").stat().st_ino == (workdir / "backup.py").stat().st_ino
    assert b"down_revision = '001'" in (versions / "0002_b.py").read_bytes()


@pytest.mark.parametrize("newline", ["\r", "\r\n", "\n"])
def test_every_byte_outside_the_edit_survives_whatever_the_line_endings(
    workdir: Path, capsys: pytest.CaptureFixture[str], newline: str
) -> None:
    versions = chain_tree(workdir / "versions", newline)
    before = {p.name: p.read_bytes() for p in versions.iterdir()}
    assert all(data.endswith(newline.encode()) for data in before.values())
    code, out, _ = run(["fix", str(versions)], capsys)
    assert code == 0, out
    assert (versions / "0002_b.py").read_bytes() == fixed(before["0002_b.py"], "001_initial", "001")
    assert (versions / "0004_d.py").read_bytes() == fixed(before["0004_d.py"], "0003_c", "003")
    code, out, _ = run(["fix", str(versions)], capsys)
    assert "Fixed 0 findings" in out
