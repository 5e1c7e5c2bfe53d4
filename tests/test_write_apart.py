"""The cache writer apart (chainlint.lint._write_apart): a check that reads a large tree writes
the read cache and the files table in a forked child while this process builds the graph. What
it writes is byte for byte what this process would; a writer that fails costs the next check
its cache, never a finding."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest

from chainlint import apart, cache, idle, lint
from chainlint.config import Settings
from helpers import chain_with_defects

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the writer forks")


@pytest.fixture
def versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CHAINLINT_NO_CACHE", raising=False)
    return chain_with_defects(tmp_path / "versions", 12)


def _check(versions: Path, folder: Path, monkeypatch: pytest.MonkeyPatch, processes: str) -> Any:
    with monkeypatch.context() as patch:
        patch.setenv("CHAINLINT_CACHE_DIR", str(folder))
        patch.setenv("CHAINLINT_PROCESSES", processes)
        result = lint.lint_paths([versions], Settings(cache=True), reuse=True)
    return [(f.code, f.path.name, f.line, f.message) for f in result.findings]


def _written(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.json"))}


def _forks_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    forks: list[int] = []
    write_apart = lint._write_apart

    def counting(writing: Any) -> Any:
        writer = write_apart(writing)
        forks.append(0 if writer is None else 1)
        return writer

    monkeypatch.setattr(lint, "_write_apart", counting)
    return forks


def _check_with_the_writer_failing(
    versions: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """A check whose cache writer apart fails as it writes the read cache."""
    parent = os.getpid()
    save = cache.ReadCache.save

    def failing(self: Any, keep: set[str]) -> None:
        if os.getpid() != parent:
            raise RuntimeError("the disk is gone")
        save(self, keep)

    with monkeypatch.context() as patch:
        patch.setattr(cache.ReadCache, "save", failing)
        return _check(versions, folder, patch, "2")


def _rows_given(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each file recorded in the read cache came with its row made."""
    given: list[bool] = []
    put = cache.ReadCache.put

    def recording(self: Any, path: Path, key: Any, file: Any, row: Any = None) -> None:
        given.append(row is not None)
        put(self, path, key, file, row)

    monkeypatch.setattr(cache.ReadCache, "put", recording)
    return given


@pytest.mark.parametrize("bulk", [False, True])
def test_the_writer_writes_what_this_process_would(
    versions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bulk: bool
) -> None:
    """Byte for byte, whether the rows are made as the files' content key is taken (few files
    read) or only by the writer (a bulk read), here or apart."""
    here = _check(versions, tmp_path / "here", monkeypatch, "1")
    if bulk:
        monkeypatch.setattr(lint, "BULK_READ", 1)
        given = _rows_given(monkeypatch)
        assert _check(versions, tmp_path / "bulk here", monkeypatch, "1") == here
        assert given and not any(given)  # the read made no row
        assert _written(tmp_path / "bulk here") == _written(tmp_path / "here")
    monkeypatch.setattr(lint, "WRITE_APART_THRESHOLD", 1)
    forks = _forks_counted(monkeypatch)
    found = _check(versions, tmp_path / "apart", monkeypatch, "2")
    assert forks == [1]
    assert found == here
    written = _written(tmp_path / "apart")
    assert {name.split("-")[0] for name in written} == {"read", "files", "result"}
    assert written == _written(tmp_path / "here")
    # The next check with one file touched is answered from the files table it wrote.
    os.utime(versions / "r03.py")
    assert _check(versions, tmp_path / "apart", monkeypatch, "2") == here


def test_after_a_bulk_read_a_writer_that_fails_costs_only_the_cache(
    versions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer made the rows and the content key: failing, it leaves the findings saved
    under no content key, and the next check (one file touched) makes them again, the same,
    and writes every cache file; the one after it is answered from them."""
    here = _check(versions, tmp_path / "here", monkeypatch, "1")
    monkeypatch.setattr(lint, "WRITE_APART_THRESHOLD", 1)
    monkeypatch.setattr(lint, "BULK_READ", 1)
    assert _check_with_the_writer_failing(versions, tmp_path / "apart", monkeypatch) == here
    (result,) = (tmp_path / "apart").glob("result-*.json")
    assert json.loads(result.read_bytes().partition(b"\n")[2])["content"] is None
    checks = _graphs_built(monkeypatch)
    os.utime(versions / "r03.py")
    assert _check(versions, tmp_path / "apart", monkeypatch, "2") == here
    assert checks == [1]
    assert {name.split("-")[0] for name in _written(tmp_path / "apart")} == {
        "read",
        "files",
        "result",
    }
    os.utime(versions / "r04.py")  # now answered from the files table it wrote
    assert _check(versions, tmp_path / "apart", monkeypatch, "2") == here
    assert checks == [1]


def _graphs_built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    built: list[int] = []
    check_files = lint._check_files

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return check_files(*args, **kwargs)

    monkeypatch.setattr(lint, "_check_files", counting)
    return built


def test_no_writer_below_the_threshold(
    versions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forks = _forks_counted(monkeypatch)
    _check(versions, tmp_path / "cache", monkeypatch, "2")
    assert forks == []  # 13 files: written here, no fork asked for
    assert {name.split("-")[0] for name in _written(tmp_path / "cache")} == {
        "read",
        "files",
        "result",
    }


def test_a_writer_that_fails_costs_only_the_cache(
    versions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child fails writing: the findings are the same, and the read cache and files table
    are not there. The next check reads the files again; its findings match the result cache's
    content key, so it writes the files table (the read cache waits for a changed file)."""
    here = _check(versions, tmp_path / "here", monkeypatch, "1")
    monkeypatch.setattr(lint, "WRITE_APART_THRESHOLD", 1)
    assert _check_with_the_writer_failing(versions, tmp_path / "apart", monkeypatch) == here
    assert {name.split("-")[0] for name in _written(tmp_path / "apart")} == {"result"}
    monkeypatch.setattr(lint, "WRITE_APART_THRESHOLD", 10_000)
    os.utime(versions / "r03.py")  # the result's stat key no longer holds
    assert _check(versions, tmp_path / "apart", monkeypatch, "2") == here
    assert {name.split("-")[0] for name in _written(tmp_path / "apart")} == {"files", "result"}


def test_the_writers_time_counts_as_idle_for_the_next_decision(
    versions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lint, "WRITE_APART_THRESHOLD", 1)
    credited: list[float] = []
    monkeypatch.setattr(lint.METER, "credit", credited.append)
    _check(versions, tmp_path / "cache", monkeypatch, "2")
    assert len(credited) == 1 and 0 < credited[0] < 60


def test_credited_seconds_count_as_idle_once(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([(100.0, 50.0), (100.5, 50.0), (101.0, 50.0)])
    monkeypatch.setattr(idle, "idle_seconds", lambda: next(clock))
    meter = idle.IdleMeter()
    meter.mark()
    meter.credit(0.25)
    meter.credit(0.25)
    assert meter.cores() == pytest.approx(1.0)  # 0.5 s of a child's work in 0.5 s: one core
    assert meter.cores() == pytest.approx(0.0)  # the credit went with its window


def test_a_decision_just_after_a_mark_keeps_what_the_last_one_saw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Marked just after this process's own helpers are done, the next decision (the cache
    writer, at once) does not sleep for a window: the last reading holds. Without one it does."""
    clock = iter([(100.0, 50.0), (100.5, 50.25), (101.0, 50.25), (101.005, 50.25), (102.0, 51.25)])
    monkeypatch.setattr(idle, "idle_seconds", lambda: next(clock))

    def no_sleep(seconds: float) -> None:
        raise AssertionError("slept")

    monkeypatch.setattr(idle.time, "sleep", no_sleep)
    meter = idle.IdleMeter()
    meter.mark()
    assert meter.cores() == pytest.approx(0.5)
    meter.mark()  # after the helpers: 5 ms before the next decision
    assert meter.cores() == pytest.approx(0.5)
    assert meter.cores() == pytest.approx(1.0)  # the window from that mark, 1 s long
    fresh = idle.IdleMeter()
    fresh_clock = iter([(200.0, 10.0), (200.005, 10.0), (200.02, 10.01)])
    monkeypatch.setattr(idle, "idle_seconds", lambda: next(fresh_clock))
    slept: list[float] = []
    monkeypatch.setattr(idle.time, "sleep", slept.append)
    fresh.mark()
    assert fresh.cores() == pytest.approx(0.01 / 0.02)
    assert len(slept) == 1  # no earlier reading: a window of SHORTEST seconds is taken


def _order_recorded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What happens after the read, in order: the writer taken, the rules run (and where)."""
    order: list[str] = []
    finish, check, start = lint._finish_writer, lint.check_graph, apart.start

    def finishing(writer: Any) -> Any:
        order.append("writer")
        return finish(writer)

    def checking(*args: Any, **kwargs: Any) -> Any:
        order.append("rules")
        return check(*args, **kwargs)

    def starting(make: Any) -> Any:
        order.append("child")
        return start(make)

    monkeypatch.setattr(lint, "_finish_writer", finishing)
    monkeypatch.setattr(lint, "check_graph", checking)
    monkeypatch.setattr(apart, "start", starting)
    return order


def test_after_a_bulk_read_the_schema_rules_share_the_writers_core(
    versions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer makes every row: the rules do not wait for it, and the schema rules run in a
    child even with no other core idle (the writer's is shared), with the same findings."""
    here = _check(versions, tmp_path / "here", monkeypatch, "1")
    monkeypatch.setattr(lint, "WRITE_APART_THRESHOLD", 1)
    monkeypatch.setattr(lint, "BULK_READ", 1)
    monkeypatch.setattr(lint, "RULES_APART_THRESHOLD", 1)
    idle_cores = itertools.chain([2], itertools.repeat(1))  # for the writer, then none
    monkeypatch.setattr(lint, "_processes", lambda: next(idle_cores))
    monkeypatch.setattr(apart.Child, "ready", lambda self: False)
    order = _order_recorded(monkeypatch)
    assert _check(versions, tmp_path / "apart", monkeypatch, "2") == here
    assert order == ["child", "rules", "child", "writer"]


def test_after_few_files_read_the_writer_is_waited_for_before_the_rules(
    versions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer copies rows made already (done by the time the graph is, as a rule): taken
    first, its time counts as idle for the rules' decision, which finds no core shared."""
    here = _check(versions, tmp_path / "here", monkeypatch, "1")
    monkeypatch.setattr(lint, "WRITE_APART_THRESHOLD", 1)
    monkeypatch.setattr(lint, "RULES_APART_THRESHOLD", 1)
    idle_cores = itertools.chain([2], itertools.repeat(1))
    monkeypatch.setattr(lint, "_processes", lambda: next(idle_cores))
    order = _order_recorded(monkeypatch)
    assert _check(versions, tmp_path / "apart", monkeypatch, "2") == here
    assert order == ["child", "writer", "rules"]
