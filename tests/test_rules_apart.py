"""The schema rules apart (chainlint.lint.check_graph): on a large graph, the rules that replay
the schema run in a forked child while this process runs the others. The findings are the same,
in the same order, `# noqa` applied, whatever happens to the child."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chainlint import apart, lint
from chainlint.config import Settings
from chainlint.errors import InternalError
from chainlint.rules import ALL_RULES
from chainlint.rules.base import migration
from chainlint.rules.cl301_object_already_exists import ObjectAlreadyExists
from helpers import graph_of, write_tree

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the rules apart fork")

ALL = Settings(select=("ALL",))


@pytest.fixture
def versions(tmp_path: Path) -> Path:
    """Findings of CL301, CL302 and CL303 (one CL301 silenced by noqa) and of other rules."""
    create = 'op.create_table("users", sa.Column("id", sa.Integer))'
    return write_tree(
        tmp_path / "versions",
        {
            "a.py": migration("a", None, upgrade=create, downgrade='op.drop_table("user")'),
            "b.py": migration("b", "a", upgrade=create),
            "c.py": migration("c", "b", upgrade=f"{create}  # noqa: CL301"),
            "d.py": migration("d", "c", upgrade='op.drop_column("users", "nickname")'),
            "e.py": migration("e", "d_typo", revises_header="stale"),
            "f.py": migration("f", "a"),
        },
    )


@pytest.fixture
def apart_always(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lint, "RULES_APART_THRESHOLD", 1)
    monkeypatch.setenv("CHAINLINT_PROCESSES", "2")


def _in_one_process(versions: Path, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    with monkeypatch.context() as patch:
        patch.setenv("CHAINLINT_PROCESSES", "1")
        return lint.check_graph(graph_of(versions), ALL)


def _count_schema_rules_here(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The codes of the schema rules run in this process (a child counts in its own memory)."""
    ran: list[str] = []
    run_rule = lint._run_rule

    def counting(rule: Any, ctx: Any) -> Any:
        if rule.replays_schema and os.getpid() == parent:
            ran.append(rule.code)
        return run_rule(rule, ctx)

    parent = os.getpid()
    monkeypatch.setattr(lint, "_run_rule", counting)
    return ran


def test_the_schema_rules_are_those_that_read_the_history() -> None:
    assert sorted(rule.code for rule in ALL_RULES if rule.replays_schema) == [
        "CL301",
        "CL302",
        "CL303",
    ]


def test_findings_apart_equal_those_in_one_process(
    versions: Path, monkeypatch: pytest.MonkeyPatch, apart_always: None
) -> None:
    expected = _in_one_process(versions, monkeypatch)
    codes = {finding.code for finding in expected}
    assert {"CL301", "CL302", "CL303", "CL001", "CL101"} <= codes
    assert all(finding.path.name != "c.py" for finding in expected if finding.code == "CL301")
    ran_here = _count_schema_rules_here(monkeypatch)
    assert lint.check_graph(graph_of(versions), ALL) == expected
    assert ran_here == []  # the child ran them


@pytest.mark.parametrize("failure", ["child raises", "result unreadable", "wrong result"])
def test_a_failed_child_leaves_the_schema_rules_to_this_process(
    versions: Path, monkeypatch: pytest.MonkeyPatch, apart_always: None, failure: str
) -> None:
    expected = _in_one_process(versions, monkeypatch)
    if failure == "child raises":

        def broken(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("no")

        monkeypatch.setattr(apart.pickle, "dump", broken)
    elif failure == "result unreadable":
        monkeypatch.setattr(apart.pickle, "load", lambda handle: (_ for _ in ()).throw(EOFError()))
    else:
        monkeypatch.setattr(apart.pickle, "load", lambda handle: [[1, 2]])
    ran_here = _count_schema_rules_here(monkeypatch)
    assert lint.check_graph(graph_of(versions), ALL) == expected
    assert ran_here == ["CL301", "CL302", "CL303"]


def test_a_bug_in_a_schema_rule_is_still_named(
    versions: Path, monkeypatch: pytest.MonkeyPatch, apart_always: None
) -> None:
    def broken(self: Any, ctx: Any) -> Any:
        raise KeyError("oops")

    monkeypatch.setattr(ObjectAlreadyExists, "check", broken)
    with pytest.raises(InternalError, match=r"CL301 on .*KeyError"):
        lint.check_graph(graph_of(versions), ALL)


def test_this_process_failing_meanwhile_stops_the_child(
    versions: Path, monkeypatch: pytest.MonkeyPatch, apart_always: None
) -> None:
    started: list[apart.Child] = []
    start = apart.start

    def recorded(work: Any) -> Any:
        child = start(work)
        started.append(child)
        return child

    monkeypatch.setattr(apart, "start", recorded)
    run_rule = lint._run_rule

    def interrupted(rule: Any, ctx: Any) -> Any:
        if rule.code == "CL010" and os.getpid() == parent:
            raise KeyboardInterrupt
        return run_rule(rule, ctx)

    parent = os.getpid()
    monkeypatch.setattr(lint, "_run_rule", interrupted)
    with pytest.raises(KeyboardInterrupt):
        lint.check_graph(graph_of(versions), ALL)
    (child,) = started
    with pytest.raises(ChildProcessError):  # killed and reaped: no zombie left behind
        os.waitpid(child.pid, os.WNOHANG)


@pytest.mark.parametrize(("threshold", "processes"), [(7, "2"), (1, "1")])
def test_no_child_below_the_threshold_or_without_an_idle_core(
    versions: Path, monkeypatch: pytest.MonkeyPatch, threshold: int, processes: str
) -> None:
    monkeypatch.setattr(lint, "RULES_APART_THRESHOLD", threshold)  # the tree has 6 revisions
    monkeypatch.setenv("CHAINLINT_PROCESSES", processes)

    def no_fork(work: Any) -> None:
        raise AssertionError("forked")

    monkeypatch.setattr(apart, "start", no_fork)
    ran_here = _count_schema_rules_here(monkeypatch)
    lint.check_graph(graph_of(versions), ALL)
    assert ran_here == ["CL301", "CL302", "CL303"]


def test_a_child_output_is_read_once_done_and_the_child_reaped() -> None:
    child = apart.fork(lambda handle: handle.write(b"made"))
    assert child is not None
    output = child.finished()
    assert output is not None and output.read() == b"made"
    child.close()
    deadline = time.monotonic() + 30  # reaped as it exits (by close, or a later fork)
    while child.pid in apart._EXITING and time.monotonic() < deadline:
        time.sleep(0.01)
        apart._reap_exited()
    assert child.pid not in apart._EXITING
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)


def test_a_child_is_ready_once_done_or_gone() -> None:
    """`ready` never waits: false while the child works, true once it is done or has died."""
    read, write = os.pipe()
    try:
        waiting = apart.fork(lambda handle: os.read(read, 1))
        assert waiting is not None
        assert not waiting.ready()
        os.write(write, b"go")
        deadline = time.monotonic() + 30
        while not waiting.ready() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert waiting.ready() and waiting.finished() is not None
        waiting.close()
    finally:
        os.close(read)
        os.close(write)
    dying = apart.fork(lambda handle: os._exit(3))
    assert dying is not None
    deadline = time.monotonic() + 30
    while not dying.ready() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert dying.ready() and dying.finished() is None
    dying.close()


def test_a_child_that_dies_before_it_is_done_gives_nothing() -> None:
    child = apart.fork(lambda handle: os._exit(3))
    assert child is not None
    assert child.finished() is None
    child.close()
    with pytest.raises(ChildProcessError):  # reaped already
        os.waitpid(child.pid, os.WNOHANG)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="memfd and /proc are Linux's")
@pytest.mark.parametrize("memfd", [True, False])
def test_a_child_writes_to_a_memfd_or_else_a_temporary_file(
    memfd: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not memfd:
        monkeypatch.delattr(os, "memfd_create", raising=False)
    child = apart.start(lambda: {"made": [1, 2]})
    assert child is not None
    assert os.readlink(f"/proc/self/fd/{child.handle.fileno()}").startswith("/memfd:") is memfd
    assert apart.result(child) == {"made": [1, 2]}


def test_a_finding_made_apart_is_silenced_by_its_noqa(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, apart_always: None
) -> None:
    """A child's findings come back with paths of their own (equal, not the files' objects):
    `# noqa` still silences them."""
    create = 'op.create_table("users", sa.Column("id", sa.Integer))'
    versions = write_tree(
        tmp_path / "versions",
        {
            "a.py": migration("a", None, upgrade=create),
            "b.py": migration("b", "a", upgrade=f"{create}  # noqa: CL301"),
            "c.py": migration("c", "b", upgrade=create.replace("users", "items")),
            "d.py": migration("d", "c", upgrade=create.replace("users", "items")),
        },
    )
    ran_here = _count_schema_rules_here(monkeypatch)
    findings = lint.check_graph(graph_of(versions), ALL)
    assert ran_here == []  # the child ran them
    assert [(f.code, f.path.name) for f in findings if f.code == "CL301"] == [("CL301", "d.py")]
