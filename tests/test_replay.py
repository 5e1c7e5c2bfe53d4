"""Replay of an identical earlier `check` (chainlint.replay): what is recorded and replayed, and
what never is; hostile or stale records are misses. The completeness of the recorded inputs is
in tests/test_replay_inputs.py, the differential property in tests/test_replay_property.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from chainlint import replay
from chainlint.cli import main as cli_main
from helpers import write_tree
from replay_helpers import Ran, command, reference

CHAIN = {
    "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n",
    "migrations/env.py": "",
    "migrations/versions/a1.py": 'revision = "a1"\ndown_revision = None\n',
    "migrations/versions/b1.py": 'revision = "b1"\ndown_revision = "a1"\n',
    "migrations/versions/c1.py": 'revision = "c1"\ndown_revision = "zz"\n',
}


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir()
    monkeypatch.setenv("CHAINLINT_CACHE_DIR", str(folder))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("CHAINLINT_NO_CACHE", raising=False)
    # A run right after the tree was written may be recorded (the racy window has its own test).
    monkeypatch.setenv("CHAINLINT_REPLAY_WINDOW_MS", "0")
    return folder


@pytest.fixture
def project(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = write_tree(tmp_path / "project", CHAIN)
    monkeypatch.chdir(root)
    return root


def records(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith("replay-"))


def recorded_once(args: list[str], folder: Path) -> Path:
    first = command(args)
    assert not first.replayed
    (record,) = records(folder)
    return record


def test_identical_run_is_replayed_byte_for_byte(project: Path, cache_dir: Path) -> None:
    first = command(["check"])
    assert not first.replayed and first.code == 1
    again = command(["check"])
    assert again.replayed
    assert again == Ran(first.code, first.stdout, first.stderr, True)
    fresh = reference(["check"])
    assert (again.code, again.stdout, again.stderr) == (fresh.code, fresh.stdout, fresh.stderr)
    assert b"CL001" in again.stdout


@pytest.mark.parametrize("output_format", ["text", "json", "sarif", "github", "gitlab"])
def test_every_format_replays_what_a_run_without_cache_prints(
    project: Path, cache_dir: Path, output_format: str
) -> None:
    args = ["check", "--format", output_format, "-v"]
    command(args)
    again = command(args)
    fresh = reference(args)
    assert again.replayed
    assert (again.code, again.stdout, again.stderr) == (fresh.code, fresh.stdout, fresh.stderr)


def test_stderr_and_exit_zero_are_replayed(project: Path, cache_dir: Path) -> None:
    # --verbose names a given file that is not a migration (on stderr).
    (project / "notes.txt").write_text("x")
    args = ["check", "--exit-zero", "-v", "notes.txt", "migrations/versions/a1.py"]
    command(args)
    again = command(args)
    assert again.replayed and again.code == 0
    assert b"ignored notes.txt" in again.stderr
    fresh = reference(args)
    assert (again.code, again.stdout, again.stderr) == (fresh.code, fresh.stdout, fresh.stderr)


@pytest.mark.parametrize(
    "change",
    [
        "edit-same-size",
        "touch",
        "add",
        "delete",
        "rename",
        "config",
        "env",
        "argv",
        "journal",
        "ini",
    ],
)
def test_a_change_of_any_input_or_key_is_a_miss(
    project: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    args = ["check"]
    command(args)
    assert command(args).replayed
    versions = project / "migrations" / "versions"
    if change == "edit-same-size":
        (versions / "c1.py").write_text('revision = "c1"\ndown_revision = "b1"\n')
    elif change == "touch":
        os.utime(versions / "b1.py", ns=(1, 1))
    elif change == "add":
        (versions / "d1.py").write_text('revision = "d1"\ndown_revision = "b1"\n')
    elif change == "delete":
        (versions / "c1.py").unlink()
    elif change == "rename":
        (versions / "c1.py").rename(versions / "c2.py")
    elif change == "config":
        (project / "pyproject.toml").write_text('[tool.chainlint]\nignore = ["CL001"]\n')
    elif change == "env":
        monkeypatch.setenv("CHAINLINT_SOMETHING", "1")
    elif change == "argv":
        args = ["check", "--quiet"]
    elif change == "journal":
        (project / "migrations" / ".chainlint-fix-journal.json").write_text("{}")
    elif change == "ini":
        (project / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    after = command(args)
    assert not after.replayed
    fresh = reference(args)
    assert (after.code, after.stdout, after.stderr) == (fresh.code, fresh.stdout, fresh.stderr)
    again = command(args)  # recorded anew
    assert again.replayed
    assert (again.code, again.stdout, again.stderr) == (fresh.code, fresh.stdout, fresh.stderr)


def _corrupt(record: Path, how: str) -> None:
    data = record.read_bytes()
    if how == "truncated":
        record.write_bytes(data[: len(data) - 9])
    elif how == "flipped-byte":
        index = data.index(b"\n") + 5
        record.write_bytes(data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :])
    elif how == "empty":
        record.write_bytes(b"")
    elif how == "garbage":
        record.write_bytes(b"\x00\xff" * 300)
    elif how == "other-version":
        record.write_bytes(data.replace(b'"chainlint":"', b'"chainlint":"9', 1))
    elif how == "other-schema":
        record.write_bytes(data.replace(b'"schema":1,', b'"schema":2,', 1))
    elif how == "cache-format":
        record.write_bytes(b'{"schema":5,"kind":"result"}\n{}')
    elif how == "other-kind":
        record.write_bytes(data.replace(b'"kind":"replay"', b'"kind":"result"', 1))


@pytest.mark.parametrize(
    "how",
    [
        "truncated",
        "flipped-byte",
        "empty",
        "garbage",
        "other-version",
        "other-schema",
        "cache-format",
        "other-kind",
    ],
)
def test_a_damaged_record_is_a_miss(project: Path, cache_dir: Path, how: str) -> None:
    record = recorded_once(["check"], cache_dir)
    _corrupt(record, how)
    after = command(["check"])
    assert not after.replayed
    fresh = reference(["check"])
    assert (after.code, after.stdout, after.stderr) == (fresh.code, fresh.stdout, fresh.stderr)


def test_a_record_of_another_command_under_this_name_is_a_miss(
    project: Path, cache_dir: Path
) -> None:
    """A record of another command (another key) under this command's name is a miss."""
    quiet = recorded_once(["check", "--quiet"], cache_dir)
    command(["check"])
    (plain,) = [r for r in records(cache_dir) if r != quiet]
    shutil.copyfile(quiet, plain)
    after = command(["check"])
    assert not after.replayed


def test_a_symlinked_record_or_cache_folder_is_never_read(
    project: Path, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = recorded_once(["check"], cache_dir)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(record, elsewhere)
    record.symlink_to(elsewhere)
    assert not command(["check"]).replayed
    # The cache folder itself a symlink to a folder holding a valid record.
    real = tmp_path / "real-cache"
    shutil.copytree(cache_dir, real, symlinks=False)
    link = tmp_path / "linked-cache"
    link.symlink_to(real)
    monkeypatch.setenv("CHAINLINT_CACHE_DIR", str(link))
    command(["check"])
    assert not command(["check"]).replayed


def test_a_copied_tree_and_record_never_replay(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A committed record arrives with a fresh checkout: same paths, same bytes, same mtimes,
    but new inodes and ctimes."""
    root = write_tree(tmp_path / "project", CHAIN)
    monkeypatch.chdir(tmp_path)
    args = ["check", str(root)]
    command(args)
    assert command(args).replayed
    saved_tree, saved_cache = tmp_path / "saved-tree", tmp_path / "saved-cache"
    shutil.copytree(root, saved_tree)
    shutil.copytree(cache_dir, saved_cache)
    shutil.rmtree(root)
    shutil.rmtree(cache_dir)
    shutil.copytree(saved_tree, root)  # copy2: mtimes kept
    shutil.copytree(saved_cache, cache_dir)
    assert not command(args).replayed


def test_a_run_whose_inputs_just_changed_is_not_recorded(
    project: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Racy stamps: a file changed within the window before the run could change again with
    the same stamp (the file-system clock is coarse), so the run is not recorded."""
    monkeypatch.delenv("CHAINLINT_REPLAY_WINDOW_MS")
    (project / "migrations" / "versions" / "b1.py").write_text(
        'revision = "b1"\ndown_revision = "a1"\n# now\n'
    )
    first = command(["check"])
    assert records(cache_dir) == []
    again = command(["check"])
    assert not again.replayed
    assert again.stdout == first.stdout
    # Once every input is older than the window, the run is recorded.
    monkeypatch.setenv("CHAINLINT_REPLAY_WINDOW_MS", "0")
    command(["check"])
    assert command(["check"]).replayed


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--no-cache"],
        ["check", "--base", "HEAD"],
        ["check", "-o", "report.txt"],
        ["check", "--output-file=report.txt"],
        ["check", "--color"],
        ["check", "--help"],
        ["fix", "--diff"],
        ["fix"],
        ["graph"],
        ["schema"],
        ["db"],
        ["rule", "CL001"],
        ["--version"],
        ["check", "-qv"],
        ["check", "--", "x"],
        ["check", "--unknown-option"],
    ],
)
def test_excluded_commands_and_options_are_never_replayed(args: list[str]) -> None:
    assert not replay.replayable_args(args)


@pytest.mark.parametrize(
    "args",
    [
        ["check"],
        [],
        ["."],
        ["check", "--format", "json", "-q", "--select", "CL0", "a.py"],
        ["check", "--format=sarif", "--exit-zero", "--no-color", "-v", "--config", "x.toml"],
    ],
)
def test_plain_check_commands_may_be_replayed(args: list[str]) -> None:
    assert replay.replayable_args(args)


@pytest.mark.parametrize(
    "args",
    [
        ["check", "-o", "report.txt"],
        ["check", "--color"],
        ["fix", "--diff"],
        ["check", "--no-cache"],
        ["graph"],
    ],
)
def test_excluded_runs_write_no_record(project: Path, cache_dir: Path, args: list[str]) -> None:
    """Both sides of the whitelist: even a run the fast path would look up is not recorded."""
    recorder = replay.Recorder(str(cache_dir), "replay-test", "0" * 64, 0, capture=True)
    replay._RECORDER = recorder
    saved = sys.stdout, sys.stderr
    try:
        with pytest.raises(SystemExit):
            cli_main(args)
    finally:
        sys.stdout, sys.stderr = saved
        replay._RECORDER = None
    assert records(cache_dir) == []


def test_cache_off_in_settings_or_environment_writes_no_record(
    project: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "pyproject.toml").write_text("[tool.chainlint]\ncache = false\n")
    command(["check"])
    assert not command(["check"]).replayed
    assert records(cache_dir) == []
    (project / "pyproject.toml").unlink()
    monkeypatch.setenv("CHAINLINT_NO_CACHE", "1")
    command(["check"])
    assert not command(["check"]).replayed
    assert records(cache_dir) == []


def test_a_failed_run_is_not_recorded(
    project: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chainlint import lint

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(lint, "check_graph", broken)
    failed = command(["check", "--select", "CL0"])
    assert failed.code == 2 and b"internal error" in failed.stderr
    assert records(cache_dir) == []
    # A usage error (exit 2) neither.
    assert command(["check", "--select", "NOPE"]).code == 2
    assert records(cache_dir) == []


def test_records_are_pruned_to_the_newest(project: Path, cache_dir: Path) -> None:
    for index in range(replay.KEEP + 3):
        command(["check", "--select", f"CL00{index % 10}", *(["-q"] * (index // 10))])
    assert len(records(cache_dir)) == replay.KEEP


def test_no_record_outside_the_cache_folder_the_run_used(
    project: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without $CHAINLINT_CACHE_DIR the record lives in ./.chainlint_cache only when that is
    the project's cache folder; run from elsewhere, nothing is written there."""
    monkeypatch.delenv("CHAINLINT_CACHE_DIR")
    command(["check"])
    # The first run created the folder: the project folder it listed changed meanwhile.
    assert records(project / ".chainlint_cache") == []
    command(["check"])
    assert records(project / ".chainlint_cache")
    assert command(["check"]).replayed
    other = project.parent / "elsewhere"
    (other / ".chainlint_cache").mkdir(parents=True)
    monkeypatch.chdir(other)
    command(["check", str(project)])
    assert records(other / ".chainlint_cache") == []


def test_own_inputs_cover_the_package_sources() -> None:
    inputs = replay._own_inputs()
    package = Path(replay.__file__).parent
    for source in package.rglob("*.py"):
        if "__pycache__" not in source.parts:
            assert str(source) in inputs
    assert str(package / "rules") in inputs


@pytest.fixture
def installed_command() -> Iterator[str]:
    found = shutil.which("chainlint", path=os.path.dirname(sys.executable))
    if found is None:
        pytest.skip("the chainlint command is not installed beside this Python")
    yield found


def test_the_command_replays_before_importing_the_cli(
    project: Path, cache_dir: Path, installed_command: str
) -> None:
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}

    def run() -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [installed_command, "check"], cwd=project, env=env, capture_output=True, check=False
        )

    def output(done: subprocess.CompletedProcess[bytes]) -> tuple[int, bytes, bytes]:
        lines = done.stderr.splitlines(keepends=True)
        kept = b"".join(line for line in lines if not line.startswith(b"import time:"))
        return done.returncode, done.stdout, kept

    first = run()
    assert b"chainlint.cli" in first.stderr
    again = run()
    assert b"chainlint.cli" not in again.stderr
    assert b"chainlint.replay" in again.stderr
    assert output(again) == output(first)
    assert first.returncode == 1 and b"CL001" in first.stdout


def test_a_miss_hands_its_stamps_to_the_full_run(
    project: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A touched file: the lookup stat-ed every migration; the full run does not again."""
    command(["check"])
    versions = project / "migrations" / "versions"
    os.utime(versions / "b1.py", ns=(7, 7))
    migrations = {str(path) for path in versions.glob("*.py")}
    counted: list[str] = []
    real_stat = os.stat

    def stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if str(path) in migrations:
            counted.append(str(path))
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", stat)
    after = command(["check"])
    assert not after.replayed
    assert sorted(counted) == sorted(migrations)
    fresh = reference(["check"])
    assert (after.code, after.stdout, after.stderr) == (fresh.code, fresh.stdout, fresh.stderr)
    # A file added too: the folder changed, so the lookup stops early; each is stat-ed once.
    (versions / "d1.py").write_text('revision = "d1"\ndown_revision = "c1"\n')
    command(["check"])
    counted.clear()
    os.utime(versions / "a1.py", ns=(8, 8))
    (versions / "e1.py").write_text('revision = "e1"\ndown_revision = "d1"\n')
    migrations.update(str(path) for path in versions.glob("*.py"))
    after = command(["check"])
    assert not after.replayed
    assert sorted(counted) == sorted(migrations)
    fresh = reference(["check"])
    assert (after.code, after.stdout, after.stderr) == (fresh.code, fresh.stdout, fresh.stderr)


def test_an_edited_chainlint_source_makes_cached_results_stale(
    project: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The result cache was keyed by the version string alone: a rule changed without a
    version bump kept printing the old findings. A changed stamp of any chainlint source file
    (here: a new ctime, the mtime kept so the bytecode stays valid) makes it a miss."""
    from chainlint import lint

    monkeypatch.setenv("CHAINLINT_CACHE_DIR", str(cache_dir / "no-replay"))
    args = ["check", "--quiet"]
    first = reference(args).stdout
    command(args)
    check_graph = lint.check_graph

    def changed_rule(*args: object, **kwargs: object) -> list[object]:
        found = check_graph(*args, **kwargs)  # type: ignore[arg-type]
        return [replace(finding, message="changed rule") for finding in found]

    monkeypatch.setattr(lint, "check_graph", changed_rule)
    monkeypatch.setattr(replay, "_RECORDER", None)
    source = Path(replay.__file__).parent / "rules" / "__init__.py"
    status = source.stat()
    os.utime(source, ns=(status.st_atime_ns, status.st_mtime_ns))
    monkeypatch.setattr(replay, "_PACKAGE_STAMP", None)
    after = command(args)
    assert not after.replayed
    assert b"changed rule" in after.stdout and after.stdout != first


def test_a_record_is_written_in_parts_that_make_one_compact_document() -> None:
    """The parts `encode_record` gives (written one after the other) are the header and the
    compact JSON document, with the document's CRC-32 in the header: what `decode_record`
    reads back, odd bytes and a path that is not UTF-8 included."""
    import json
    from zlib import crc32

    record = replay.Record(
        1, b"out\xff\n", b"", ["/a", "/b\udcff"], [1, 2, 3, 4] * 2, ["/x", "/y"], [5, 6, 7, 8] * 2
    )
    header, *parts = replay.encode_record("k", record)
    body = b"".join(parts)
    document = {
        "key": "k",
        "code": 1,
        "stdout": "out\xff\n",
        "stderr": "",
        "head": "/a\0/b\udcff",
        "head_stamps": record.head_stamps,
        "files": "/x\0/y",
        "file_stamps": record.file_stamps,
    }
    assert body == json.dumps(document, separators=(",", ":")).encode("ascii")
    assert header == replay._header(crc32(body))
    back = replay.decode_record(header + body, "k")
    assert back is not None
    assert (back.stdout, back.head, back.files) == (record.stdout, record.head, record.files)
