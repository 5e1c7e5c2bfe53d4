"""Fuzz: hostile migration trees through every command and format.

For every generated tree: no internal error and no traceback; output that a strict UTF-8
stream accepts, with no raw control character a finding could use to fake another; valid JSON
where JSON is promised; the same findings cold and warm; `fix --diff` writes nothing; `fix`
then `fix` again changes nothing; and no command hangs (a watchdog, not a timer: a hang is a
failure however fast the machine). `--hypothesis-profile=thorough` runs thousands of trees.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainlint.cli import main
from fuzz_strategies import hostile_tree

# A few hundred trees per CI run (each goes through a dozen commands); thousands with
# `--hypothesis-profile=thorough`.
EXAMPLES = 150 if settings.default.max_examples <= 300 else settings.default.max_examples
# A command on a tree of a few small files takes milliseconds; this only catches hangs.
WATCHDOG_SECONDS = 60
# C0 controls (and DEL, and C1) other than newline and tab must never reach the terminal raw.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# Trees live in memory when the machine has a tmpfs: each example writes, renames, fsyncs and
# deletes a folder of files, and on a disk those metadata operations (waiting for the journal)
# were a third of an example's time. The code run is the same (fsync included); the write path
# on a real disk is covered by tests/test_fix.py.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def scratch() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(dir=SCRATCH, prefix="chainlint-fuzz-")


class Hang(Exception):
    pass


@contextlib.contextmanager
def watchdog(seconds: int) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise Hang(f"a command ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """chainlint in-process, with stdout/stderr as strict UTF-8 streams like a real pipe."""
    out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_bytes, encoding="utf-8", errors="strict", newline="")
    err = io.TextIOWrapper(err_bytes, encoding="utf-8", errors="strict", newline="")
    old_cwd = os.getcwd()
    os.chdir(cwd)
    code: int | str | None = 0
    try:
        with (
            watchdog(WATCHDOG_SECONDS),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                main(args)
            except SystemExit as exited:
                code = exited.code
        out.flush()
        err.flush()
    finally:
        os.chdir(old_cwd)
    return (
        code if isinstance(code, int) else 2,
        out_bytes.getvalue().decode("utf-8"),
        err_bytes.getvalue().decode("utf-8"),
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".chainlint_cache" not in path.parts
    }


def write(root: Path, files: dict[str, bytes]) -> Path:
    versions = root / "versions"
    for name, data in files.items():
        path = versions / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return versions


def assert_clean(code: int, out: str, err: str, what: str) -> None:
    assert "internal error" not in err and "Traceback" not in err, f"{what}: {err}"
    assert code in (0, 1), f"{what} exited {code}: {err}"
    assert not RAW_CONTROL.search(out), f"{what}: raw control character in {out!r}"


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("CHAINLINT_NO_CACHE", raising=False)


@settings(max_examples=EXAMPLES)
@given(files=hostile_tree())
def test_hostile_trees_through_check_and_every_format(files: dict[str, bytes]) -> None:
    with scratch() as tmp:
        root = Path(tmp)
        write(root, files)
        cache = root / "cache"
        os.environ["CHAINLINT_CACHE_DIR"] = str(cache)
        try:
            cold = run(["check", "--format", "json", "versions"], root)
            assert_clean(*cold, "check --format json (cold)")
            document = json.loads(cold[1])
            warm = run(["check", "--format", "json", "versions"], root)
            assert warm == cold, "warm run differs from the cold one"
            uncached = run(["check", "--no-cache", "--format", "json", "versions"], root)
            assert uncached == cold, "--no-cache differs from the cached run"

            code, out, err = run(["check", "versions"], root)
            assert_clean(code, out, err, "check (text)")
            assert code == cold[0]
            finding_lines = [line for line in out.splitlines() if line.startswith("versions/")]
            assert len(finding_lines) == len(document["findings"]), out

            for output_format in ("sarif", "gitlab"):
                code, out, err = run(["check", "--format", output_format, "versions"], root)
                assert_clean(code, out, err, f"check --format {output_format}")
                json.loads(out)
            code, out, err = run(["check", "--format", "github", "versions"], root)
            assert_clean(code, out, err, "check --format github")
            assert len(out.splitlines()) == len(document["findings"])

            for graph_format in ("tree", "mermaid", "dot", "json"):
                code, out, err = run(["graph", "--format", graph_format, "versions"], root)
                assert_clean(code, out, err, f"graph --format {graph_format}")
                if graph_format == "json":
                    json.loads(out)
        finally:
            del os.environ["CHAINLINT_CACHE_DIR"]


@settings(max_examples=EXAMPLES)
@given(files=hostile_tree(), scope=st.sampled_from([[], ["--extend-fix", "CL0,CL1"]]))
def test_hostile_trees_fix_writes_nothing_on_diff_and_converges(
    files: dict[str, bytes], scope: list[str]
) -> None:
    with scratch() as tmp:
        root = Path(tmp)
        versions = write(root, files)
        os.environ["CHAINLINT_CACHE_DIR"] = str(root / "cache")
        try:
            before = snapshot(versions)
            code, out, err = run(["fix", "--diff", *scope, "versions"], root)
            assert "internal error" not in err and "Traceback" not in err, err
            assert code in (0, 1), err
            assert snapshot(versions) == before, "fix --diff wrote a file"
            would_change = code == 1

            code, out, err = run(["fix", *scope, "versions"], root)
            assert "internal error" not in err and "Traceback" not in err, err
            assert code in (0, 1), err
            assert not RAW_CONTROL.search(out), out
            after_first = snapshot(versions)
            assert (after_first != before) == would_change, "fix and fix --diff disagree"

            code, out, err = run(["fix", *scope, "versions"], root)
            assert "internal error" not in err and "Traceback" not in err, err
            assert snapshot(versions) == after_first, "a second fix changed the tree"
            code, out, err = run(["fix", "--diff", *scope, "versions"], root)
            assert code == 0 and out == "", f"fix --diff still finds work: {out}"

            code, out, err = run(["check", "versions"], root)
            assert_clean(code, out, err, "check after fix")
        finally:
            del os.environ["CHAINLINT_CACHE_DIR"]


def test_watchdog_catches_a_hang() -> None:
    """The watchdog itself must be able to fail a test (a hang is not silently a pass)."""
    with pytest.raises(Hang), watchdog(1):
        signal.pause() if hasattr(signal, "pause") else sys.stdin.read()
