"""The read split of chainlint.lint.read_files: the parent reads a stretch of files from the
front while a forked helper reads it from the back, until they meet; the parent may first do
the check's imports (`meanwhile`). Whatever the timing, every file comes back once, in order,
the same as read in one process."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chainlint import bothends, handoff, lint
from chainlint.constants import ModuleConstants
from chainlint.read import read_revision_file
from chainlint.rules.base import migration
from helpers import read_cache_file, write_tree

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the split read forks")


@pytest.fixture
def paths(tmp_path: Path) -> list[Path]:
    """41 files: five claims of 8 and one of 1 from either end; one file cannot be parsed."""
    files = {f"r{i:02}.py": migration(f"r{i:02}", f"r{i - 1:02}" if i else None) for i in range(40)}
    files["zz_bad.py"] = "def (:\n"
    return sorted(write_tree(tmp_path / "versions", files).glob("*.py"))


@pytest.fixture
def reads_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """Each process that reads a file logs its pid and the file (appends of one short line are
    atomic); returns a function giving the log's lines."""
    log = tmp_path / "reads.log"
    log.touch()
    read_one = lint._read_one

    def logged(path: Path, *args: Any) -> Any:
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()} {path.name}\n")
        return read_one(path, *args)

    monkeypatch.setattr(lint, "_read_one", logged)
    monkeypatch.setattr(lint, "SPLIT_THRESHOLD", 1)
    monkeypatch.setattr(lint, "SPLIT_THRESHOLD_WITH_IMPORTS", 1)
    monkeypatch.setenv("CHAINLINT_PROCESSES", "2")
    return lambda: log.read_text().splitlines()


def _serial(paths: list[Path]) -> list[Any]:
    """The files with their rows, read here without the log (reads_logged patches _read_one)."""
    from chainlint.cache import row_text
    from chainlint.read import read_revision_file

    files = [read_revision_file(path, ModuleConstants()) for path in paths]
    return [(file, None if file.unscanned else row_text(file)) for file in files]


@pytest.mark.parametrize("reset_every", [handoff.RESET_EVERY, 1])
def test_the_helper_reads_everything_while_the_parent_is_busy(
    paths: list[Path],
    reads_logged: Callable[[], list[str]],
    monkeypatch: pytest.MonkeyPatch,
    reset_every: int,
) -> None:
    """The parent's other work lasts until the helper has read every file: the parent then
    reads none, and still has them all, in order, the Paths its own (also when the helper
    resets its pickler's memo after every chunk)."""
    monkeypatch.setattr(handoff, "RESET_EVERY", reset_every)
    calls = []

    def meanwhile() -> None:
        calls.append(os.getpid())
        deadline = time.monotonic() + 30
        while len(reads_logged()) < len(paths) and time.monotonic() < deadline:
            time.sleep(0.01)

    read = lint.read_files(paths, ModuleConstants(), 1 << 20, True, meanwhile)
    assert read == _serial(paths)
    assert all(file.path is path for (file, _), path in zip(read, paths, strict=True))
    assert calls == [os.getpid()]  # once, in this process
    # The helper's reads, all taken: this process read none of the files (nor again).
    readers = {line.split()[0] for line in reads_logged()}
    assert len(readers) == 1 and str(os.getpid()) not in readers


@pytest.mark.parametrize("count", [2, 7, 8, 9, 16, 17, 41])
def test_parent_and_helper_meet_with_every_file_read_at_most_twice(
    paths: list[Path], reads_logged: Callable[[], list[str]], count: int
) -> None:
    chosen = paths[:count]
    assert lint.read_files(chosen, ModuleConstants(), 1 << 20, True) == _serial(chosen)
    names = [line.split()[1] for line in reads_logged()]
    assert set(names) == {path.name for path in chosen}
    # Where they meet, two claims made at once: at most one claim's files read by both.
    assert len(names) <= count + bothends.CLAIM


def test_no_work_meanwhile_without_a_split(
    paths: list[Path], reads_logged: Callable[[], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINLINT_PROCESSES", "1")
    calls: list[int] = []
    read = lint.read_files(paths, ModuleConstants(), 1 << 20, True, lambda: calls.append(1))
    assert read == _serial(paths)
    assert calls == []  # the imports come later, as they would anyway


def test_a_helper_failing_midway_leaves_its_files_to_the_parent(
    paths: list[Path], reads_logged: Callable[[], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The helper sends two chunks, then fails: the parent reads every file the helper did not
    send back (from where it stopped to the end), once."""
    chunk = handoff.Sender.chunk
    sent = []

    def failing(self: Any, first: int, read: Any) -> None:
        sent.append(first)
        if len(sent) > 2:
            raise RuntimeError("no")
        chunk(self, first, read)

    monkeypatch.setattr(handoff.Sender, "chunk", failing)

    def meanwhile() -> None:  # until the helper has read three claims and failed
        deadline = time.monotonic() + 30
        while len(reads_logged()) < 3 * bothends.CLAIM and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)

    assert lint.read_files(paths, ModuleConstants(), 1 << 20, True, meanwhile) == _serial(paths)
    here = [line.split()[1] for line in reads_logged() if line.split()[0] == str(os.getpid())]
    assert sorted(here) == [path.name for path in paths]  # the helper sent nothing usable


def test_work_meanwhile_failing_stops_the_helper(
    paths: list[Path], reads_logged: Callable[[], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped = []
    abandon = bothends._BackHelper.abandon

    def recorded(helper: Any) -> None:
        stopped.append(helper.child.pid)
        abandon(helper)

    monkeypatch.setattr(bothends._BackHelper, "abandon", recorded)

    def meanwhile() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lint.read_files(paths, ModuleConstants(), 1 << 20, True, meanwhile)
    (pid,) = stopped
    with pytest.raises(ChildProcessError):  # killed and reaped: no zombie left behind
        os.waitpid(pid, os.WNOHANG)


def test_the_latest_claim_is_the_last_written() -> None:
    read, write = bothends.pipe()
    try:
        assert bothends.latest_claim(read, 41) == 41  # nothing written yet
        for claim in (33, 25, 17):
            bothends.publish_claim(write, claim)
        assert bothends.latest_claim(read, 41) == 17
        assert bothends.latest_claim(read, 17) == 17
        # A full pipe drops claims instead of blocking the writer.
        for claim in range(100_000):
            bothends.publish_claim(write, claim)
        assert 0 < bothends.latest_claim(read, -1) < 100_000
    finally:
        os.close(read)
        os.close(write)


def test_pending_check_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check's imports are offered as work while a helper reads only while one is still
    to do; doing it imports them."""
    monkeypatch.setattr(lint, "_CHECK_MODULES", ("chainlint.graph", "colorsys"))
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    work = lint.pending_check_imports()
    assert work is not None
    work()
    assert "colorsys" in sys.modules
    assert lint.pending_check_imports() is None


def test_the_command_marks_what_is_idle_as_it_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The window that decides a split is the whole run up to the read (no short sample then)."""
    from chainlint import idle
    from chainlint.entry import main

    monkeypatch.setattr(idle.METER, "_mark", None)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert idle.METER.marked() == (idle.idle_seconds() is not None)
    capsys.readouterr()


def test_cache_entries_decoded_from_both_ends(
    paths: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One file edited: the others' entries are decoded by this process and a helper; an entry
    the helper cannot decode is read again here and written back. Findings as without cache."""
    from chainlint import cache
    from chainlint.config import Settings
    from chainlint.lint import lint_paths

    monkeypatch.setenv("CHAINLINT_CACHE_DIR", str(tmp_path / "cache"))
    versions = paths[0].parent

    def summary(use_cache: bool) -> list[tuple[str, str, int, str]]:
        result = lint_paths([versions], Settings(cache=use_cache), reuse=use_cache)
        return [(f.code, f.path.name, f.line, f.message) for f in result.findings]

    summary(True)  # the cache, written in one process
    edited = paths[20]
    edited.write_text(edited.read_text().replace('"""\n', '"""\n# edited\n', 1))
    expected = summary(False)
    log = tmp_path / "decoded.log"
    log.touch()
    decode_file = cache.decode_file
    parent = os.getpid()

    def logged(path: Path, row: Any) -> Any:
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()} {path.name}\n")
        if os.getpid() != parent and path.name == "r30.py":
            raise ValueError("not in the helper")
        deadline = time.monotonic() + 30  # until the helper has decoded one
        while os.getpid() == parent and time.monotonic() < deadline:
            if any(line.split()[0] != str(parent) for line in log.read_text().splitlines()):
                break
            time.sleep(0.005)
        return decode_file(path, row)

    monkeypatch.setattr(cache, "decode_file", logged)
    monkeypatch.setattr(lint, "SPLIT_THRESHOLD", 1)
    monkeypatch.setattr(lint, "SPLIT_THRESHOLD_WITH_IMPORTS", 1)
    monkeypatch.setenv("CHAINLINT_PROCESSES", "2")
    assert summary(True) == expected
    decoders = {line.split()[0] for line in log.read_text().splitlines()}
    assert len(decoders) == 2  # this process and the helper
    # The entry the helper could not decode was read again here and written back.
    (written,) = (tmp_path / "cache").glob("read-*.json")
    entry = read_cache_file(written)[1][str(paths[30])]
    again = decode_file(paths[30], json.loads(entry[2]))
    assert again == read_revision_file(paths[30], ModuleConstants())


def test_shares_of_fewer_files_than_processes() -> None:
    one = [Path("/v/a.py")]
    for processes in (2, 3, 4):
        shares = lint._shares(one, processes, rows=True)
        assert len(shares) == processes
        assert [path for share in shares for path in share] == one


def _sent_stream(paths: list[Path], chunks: list[tuple[int, int]]) -> tuple[bytes, list[int]]:
    """What a Sender writes for these chunks of `paths`' rows and its end mark, and where each
    frame ends in it."""
    import io

    rows = _serial(paths)
    stream = io.BytesIO()
    sender = handoff.Sender(stream, paths)
    ends = []
    for low, high in chunks:
        sender.chunk(low, rows[low:high])
        ends.append(stream.tell())
    sender.end()
    ends.append(stream.tell())
    return stream.getvalue(), ends


def test_frames_are_taken_as_they_are_written(paths: list[Path], tmp_path: Path) -> None:
    """Cut anywhere, the file gives the receiver every whole frame before the cut and nothing
    of the one cut short; the rest, once written, completes the share."""
    chosen = paths[:20]
    chunks = [(12, 20), (4, 12), (0, 4)]
    stream, ends = _sent_stream(chosen, chunks)
    taken_by_frame = [8, 16, 20, 20]  # files taken once each frame is whole (the end mark last)
    for cut in [*range(0, len(stream), 97), *ends, *(end - 1 for end in ends)]:
        with open(tmp_path / "sent", "wb+") as handle:
            handle.write(stream[:cut])
            handle.flush()
            receiver = handoff.Receiver(handle, chosen, handoff.is_read_row)
            whole = [taken for end, taken in zip(ends, taken_by_frame, strict=True) if end <= cut]
            assert receiver.take_sent() == (whole[-1] if whole else 0)
            if cut < len(stream):
                assert receiver.finish() is None
            else:
                assert receiver.finish() == (0, _serial(chosen))
            handle.write(stream[cut:])
            handle.flush()
            # The rest written: a receiver that has not failed takes it and completes.
            if cut < len(stream):
                fresh = handoff.Receiver(handle, chosen, handoff.is_read_row)
                assert fresh.take_sent() == 20
                assert fresh.finish() == (0, _serial(chosen))


def test_a_receiver_takes_the_rest_after_a_partial_frame(paths: list[Path], tmp_path: Path) -> None:
    chosen = paths[:20]
    stream, ends = _sent_stream(chosen, [(12, 20), (4, 12), (0, 4)])
    with open(tmp_path / "sent", "wb+") as handle:
        receiver = handoff.Receiver(handle, chosen, handoff.is_read_row)
        handle.write(stream[: ends[0] + 5])  # the first frame and the start of the second
        handle.flush()
        assert receiver.take_sent() == 8
        handle.write(stream[ends[0] + 5 :])
        handle.flush()
        assert receiver.take_sent() == 20
        assert receiver.finish() == (0, _serial(chosen))


@pytest.mark.parametrize("defect", ["two pickles in a frame", "out of order", "no end mark"])
def test_a_share_sent_wrong_is_refused_whole(
    paths: list[Path], tmp_path: Path, defect: str
) -> None:
    import pickle
    import struct

    chosen = paths[:20]
    if defect == "out of order":
        stream, _ = _sent_stream(chosen, [(12, 20), (0, 4)])
    else:
        stream, ends = _sent_stream(chosen, [(12, 20), (0, 12)])
        if defect == "no end mark":
            stream = stream[: ends[-2]]
        else:  # the first frame with a second pickle after its own
            extra = pickle.dumps(None)
            first = stream[8 : ends[0]]
            stream = struct.pack("<Q", len(first) + len(extra)) + first + extra + stream[ends[0] :]
    with open(tmp_path / "sent", "wb+") as handle:
        handle.write(stream)
        handle.flush()
        assert handoff.Receiver(handle, chosen, handoff.is_read_row).finish() is None


def test_the_parent_takes_what_the_helper_sent_between_its_claims(
    paths: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent's first claim lasts until the helper has done all its others: what the helper
    sent by then is taken before the parent's next claim, not after they meet."""
    parent = os.getpid()
    log = paths[0].parent / "claims.log"
    log.touch()
    taken: list[int] = []
    take_sent = handoff.Receiver.take_sent

    def recording(self: handoff.Receiver) -> int:
        count = take_sent(self)
        taken.append(count)
        return count

    def work(low: int, high: int) -> list[Any]:
        if os.getpid() == parent and low == 0:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                done = [line.split() for line in log.read_text().splitlines()]
                if any(int(first) <= bothends.CLAIM for first, _ in done):
                    break
                time.sleep(0.01)
        elif os.getpid() != parent:
            with open(log, "a") as handle:
                handle.write(f"{low} {high}\n")
        return [(path.name, None) for path in paths[low:high]]

    monkeypatch.setattr(handoff.Receiver, "take_sent", recording)
    found = bothends.both_ends(paths, work, lambda: lambda item: type(item) is tuple)
    assert found == [(path.name, None) for path in paths]
    # After the parent's first claim, the helper's earlier claims were there to take.
    assert taken[0] >= bothends.CLAIM


def test_the_handoff_gives_back_equal_files_and_the_share_s_own_paths(tmp_path: Path) -> None:
    """Files with operations, header, noqa and a constants module (a path outside the share)
    travel whole: equal records, the share's Path objects themselves, other paths equal."""
    versions = write_tree(
        tmp_path / "versions",
        {
            "ids.py": "BASE = 'a1'\n",
            "a1.py": migration("a1", None)
            + "\ndef upgrade():\n    op.create_table('t', sa.Column('id', sa.Integer(),"
            " primary_key=True))\n    op.create_index('ix', 't', ['id'])  # noqa: CL305\n",
            "b2.py": "from ids import BASE\nrevision = 'b2'\ndown_revision = BASE\n",
            "bad.py": "def (:\n",
        },
    )
    share = [versions / name for name in ("a1.py", "b2.py", "bad.py")]
    read = lint._read_rows(share, ModuleConstants(), 1 << 20, False)
    assert read[0][0].operations is not None and read[0][0].operations.upgrade
    assert read[1][0].used_modules == (versions / "ids.py",)
    copy = [Path(p) for p in share]  # equal paths, other objects
    with open(tmp_path / "handoff", "w+b") as stream:
        handoff.send(stream, share, read)
        back = handoff.Receiver(stream, copy, handoff.is_read_row).finish()
    assert back is not None and back[0] == 0
    assert back[1] == read
    assert all(file.path is path for (file, _), path in zip(back[1], copy, strict=True))
    assert back[1][1][0].used_modules == (versions / "ids.py",)
