"""The command's exit (chainlint.entry): without the interpreter's teardown, yet as `sys.exit`
would end it: every byte of output written, the same exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chainlint import entry


def _broken_tree(root: Path, count: int) -> Path:
    """`count` revisions, each with an unknown down_revision: two findings per file."""
    versions = root / "versions"
    versions.mkdir(parents=True)
    for n in range(count):
        (versions / f"m{n}.py").write_text(
            f'"""m{n}\n\nRevision ID: r{n}\nRevises: x\n"""\n'
            f'revision = "r{n}"\ndown_revision = "missing{n}"\n'
        )
    (root / "alembic.ini").write_text("[alembic]\nscript_location = .\n")
    return root


# Buffered output, as by default (some machines set PYTHONUNBUFFERED): what the exit must flush.
_BUFFERED = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def _command(*args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    env = {**_BUFFERED, "NO_COLOR": "1", "CHAINLINT_NO_CACHE": "1"}
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "chainlint", *args], env=env, check=False, **kwargs
    )


@pytest.mark.parametrize("count", [3, 400])
def test_all_output_is_written_before_the_exit(tmp_path: Path, count: int) -> None:
    """A short report, still in the output buffer when the command ends (os._exit alone would
    drop it), and one far longer than a pipe holds."""
    tree = _broken_tree(tmp_path / "tree", count)
    done = _command("check", str(tree), capture_output=True)
    assert done.returncode == 1
    lines = done.stdout.decode().splitlines()
    assert sum(" CL001 " in line for line in lines) == count
    assert lines[-2].startswith(f"Found {count} errors and {count} warnings")
    assert done.stderr == b""


def test_output_written_to_a_file_is_whole(tmp_path: Path) -> None:
    tree = _broken_tree(tmp_path / "tree", 50)
    out = tmp_path / "out.json"
    with out.open("wb") as handle:
        done = _command("check", "--format", "json", str(tree), stdout=handle)
    assert done.returncode == 1
    assert out.read_text().rstrip().endswith("}")


def test_a_reader_gone_ends_quietly_with_status_one(tmp_path: Path) -> None:
    """As before the exit skipped the teardown: `chainlint rule CL001 | true` exits 1 and
    prints no traceback."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = _command("rule", "CL001", stdout=write, stderr=subprocess.PIPE)
    finally:
        os.close(write)
    assert done.returncode == 1
    assert done.stderr == b""


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [("None", 0, b""), ("0", 0, b""), ("3", 3, b""), ("'a message'", 1, b"a message\n")],
)
def test_exit_now_ends_as_sys_exit_would(code: str, status: int, stderr: bytes) -> None:
    program = (
        "import sys\nsys.stdout.write('kept')\n"
        f"from chainlint.entry import exit_now\nexit_now({code})\n"
    )
    command = [sys.executable, "-c", program]
    done = subprocess.run(command, env=_BUFFERED, capture_output=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (status, b"kept", stderr)


def test_a_caller_in_python_keeps_its_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """main(argv) from Python raises SystemExit as click would, and keeps nothing alive for an
    exit that is not coming."""
    monkeypatch.setattr(entry, "_KEPT", [])
    monkeypatch.setenv("CHAINLINT_NO_CACHE", "1")
    tree = _broken_tree(tmp_path / "tree", 3)
    with pytest.raises(SystemExit) as stop:
        entry.main(["check", "--quiet", str(tree)])
    assert stop.value.code == 1
    assert entry._KEPT == []


def test_what_the_command_made_is_kept_only_when_exiting_now(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(entry, "_KEPT", [])
    value = object()
    entry.keep_until_exit(value)
    assert entry._KEPT == []
    monkeypatch.setattr(entry, "_EXITING_NOW", True)
    entry.keep_until_exit(value)
    kept = entry._KEPT
    assert kept == [value]


def test_a_profiler_still_gets_its_data(tmp_path: Path) -> None:
    """Under cProfile (or a coverage tool), the exit lets the interpreter end as usual: the
    profile is written."""
    tree = _broken_tree(tmp_path / "tree", 3)
    profile = tmp_path / "check.prof"
    env = {**_BUFFERED, "NO_COLOR": "1", "CHAINLINT_NO_CACHE": "1"}
    command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "chainlint"]
    done = subprocess.run([*command, "check", str(tree)], env=env, capture_output=True)
    assert b" CL001 " in done.stdout  # (cProfile itself exits 0 whatever the status)
    assert profile.stat().st_size > 0
