"""The cache: same results with and without it (and with the read split across processes),
invalidation, where the cache folder lives, and hostile cache files and folders."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chainlint import cache as cache_module
from chainlint import handoff, idle, lint
from chainlint.cache import (
    CACHE_DIR,
    ReadCache,
    cache_folder,
    decode_file,
    encode_file,
    read_with_cache,
    row_text,
    text_digest,
)
from chainlint.config import Settings
from chainlint.constants import ModuleConstants
from chainlint.discover import DEFAULT_FILE_TEMPLATE, Environment, discover_environments
from chainlint.lint import lint_paths
from chainlint.read import read_revision_file
from chainlint.rules.base import migration
from helpers import (
    READ_HEADER,
    chain_with_defects,
    read_cache_file,
    versions_environment,
    write_read_cache_file,
    write_tree,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
Summary = list[tuple[str, str, int, str]]


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAINLINT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CHAINLINT_NO_CACHE", raising=False)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "names.py").write_text("LABEL = 'core'\n")
    return write_tree(
        tmp_path / "versions",
        {
            "a.py": migration("a", None).replace(
                "branch_labels = None", "from pkg import names\nbranch_labels = (names.LABEL,)"
            ),
            "b.py": migration("b", "a", revises_header="stale"),
            "c.py": migration("c", "b_typo"),
            "bad.py": "def (:\n",
        },
    )


def _summary(versions: Path, cache: bool) -> Summary:
    result = lint_paths([versions], Settings(cache=cache))
    return [(f.code, f.path.name, f.line, f.message) for f in result.findings]


def _cache_file(tree: Path, kind: str = "read") -> Path:
    (found,) = (tree.parent / "cache").glob(f"{kind}-*.json")
    return found


def _rewrite(path: Path, change: Callable[[Any], None]) -> None:
    """Change a cache file's document and write it back with a correct checksum: a well-formed
    file that only its content can reveal as wrong. For the read cache, the document is its
    entries, each row as its text (helpers.read_cache_file)."""
    if path.name.startswith("read-"):
        meta, entries = read_cache_file(path)
        change(entries)
        write_read_cache_file(path, meta, entries)
        return
    header, _, body = path.read_bytes().partition(b"\n")
    document = json.loads(body)
    change(document)
    body = json.dumps(document).encode("ascii")
    meta = json.loads(header)
    meta["sha256"] = hashlib.sha256(body).hexdigest()
    path.write_bytes(json.dumps(meta).encode("ascii") + b"\n" + body)


def test_results_are_identical_with_and_without_the_cache(tree: Path) -> None:
    cold = _summary(tree, cache=False)
    first = _summary(tree, cache=True)  # writes the cache
    warm = _summary(tree, cache=True)  # reads it
    assert cold == first == warm
    assert {code for code, *_ in cold} >= {"CL001", "CL009", "CL101"}
    assert _cache_file(tree).is_file()
    assert (tree.parent / "cache" / ".gitignore").read_text().endswith("*\n")


def test_equal_none_assignments_and_docstring_spans_are_one_record(tmp_path: Path) -> None:
    """Files made from one template say `branch_labels = None` on the same line: read, or
    decoded from the cache, they share one record (and one docstring line span)."""
    from chainlint.cache import decode_file, encode_file
    from chainlint.lint import read_environment

    versions = write_tree(
        tmp_path / "versions", {f"{n}.py": migration(f"r{n}", None) for n in range(3)}
    )
    files = read_environment(versions_environment(versions))
    decoded = [decode_file(f.path, json.loads(json.dumps(encode_file(f)))) for f in files]
    assert decoded == files
    for group in (files, decoded, [*files, *decoded]):
        for field in ("branch_labels", "depends_on", "docstring_lines"):
            values = [getattr(f, field) for f in group]
            assert values[0] is not None and all(v is values[0] for v in values), field
    assert files[0].down_revision is not None and files[0].down_revision.shape == "none"


def test_the_read_cache_holds_each_row_as_its_compact_json_text(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each entry's row is the compact JSON text of the file's row (read here or by a helper
    process), its bytes among the rows where its index item says; every digest is that of
    its text."""
    for processes, threshold in (("1", 1000), ("2", 1)):
        monkeypatch.setenv("CHAINLINT_PROCESSES", processes)
        monkeypatch.setattr(lint, "SPLIT_THRESHOLD", threshold)
        shutil.rmtree(tree.parent / "cache", ignore_errors=True)
        _summary(tree, cache=True)
        data = _cache_file(tree).read_bytes()
        header, document = read_cache_file(_cache_file(tree))
        index = json.loads(data[header["index"] :])
        assert data[header["index"] :] == json.dumps(index, separators=(",", ":")).encode()
        # The rows one after another from the header's end to the index, in the index's order.
        spans = [(offset, length) for _, _, offset, length, _ in index.values()]
        ends = [READ_HEADER] + [offset + length for offset, length in spans]
        assert [offset for offset, _ in spans] == ends[:-1] and ends[-1] == header["index"]
        (environment,) = discover_environments([tree])
        assert list(document) == [str(path) for path in environment.files]
        for path in environment.files:
            key, _, text, digest = document[str(path)]
            assert key == list(cache_stamp(path))
            row = encode_file(read_revision_file(path))
            assert text == json.dumps(row, separators=(",", ":"))
            assert digest == text_digest(text)


def cache_stamp(path: Path) -> list[int]:
    status = os.stat(path)
    return [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino]


def _every_fixture_file() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_fixture_file_round_trips_through_a_cache_row() -> None:
    files = [read_revision_file(path) for path in _every_fixture_file()]
    assert len(files) > 50
    for file in files:
        row = json.loads(json.dumps(encode_file(file)))
        assert decode_file(file.path, row) == file
        if not file.unscanned:  # what the cache holds, as written
            assert decode_file(file.path, json.loads(row_text(file))) == file


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_fixture_results_identical_cold_warm_and_split(
    fixture: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every fixture: no cache, cache written, cache read, and the read split across forked
    helper processes (the schema rules and the cache writer in children) give the same
    findings and summaries."""
    monkeypatch.setenv("CHAINLINT_CACHE_DIR", str(tmp_path / "cache"))

    def run(cache: bool, root: Path = FIXTURES / fixture) -> tuple[str, ...]:
        """What the user sees: every format's bytes (the result cache keeps no fix edits)."""
        from chainlint.cli import render
        from chainlint.report.text import render_plain

        result = lint_paths([root], Settings(cache=cache), reuse=cache)
        formats = ("json", "sarif", "github", "gitlab")
        return (
            str(render_plain(result, root.parent)),
            *(render(f, result, root.parent) for f in formats),
        )

    try:
        cold = run(False)
    except Exception as exc:  # a fixture of a usage error: the same error every way
        with pytest.raises(type(exc)):
            run(True)
        return
    assert run(True) == cold
    assert run(True) == cold
    # On a copy: one file touched (same bytes, new stat key), then edited (a comment line on
    # top moves every line below it): the same bytes as without the cache, every time.
    copy = tmp_path / "copy" / fixture
    shutil.copytree(FIXTURES / fixture, copy)
    files = sorted(p for p in copy.rglob("*.py") if "__pycache__" not in p.parts)
    copied = run(False, copy)
    assert run(True, copy) == copied
    if files:
        victim = files[len(files) // 2]
        os.utime(victim, ns=(0, victim.stat().st_mtime_ns + 1_000_000))
        assert run(True, copy) == copied
        assert run(True, copy) == copied
        victim.write_bytes(b"# edited\n" + victim.read_bytes())
        assert run(True, copy) == run(False, copy)
    monkeypatch.setattr(lint, "SPLIT_THRESHOLD", 1)
    monkeypatch.setattr(lint, "SPLIT_THRESHOLD_WITH_IMPORTS", 1)
    monkeypatch.setattr(lint, "RULES_APART_THRESHOLD", 1)
    monkeypatch.setattr(lint, "WRITE_APART_THRESHOLD", 1)
    monkeypatch.setattr(lint, "BULK_READ", 1)  # the rows made by the writer alone
    monkeypatch.setenv("CHAINLINT_PROCESSES", "3")
    assert run(False) == cold
    shutil.rmtree(tmp_path / "cache")  # written again, by the writer apart
    assert run(True) == cold
    assert run(True) == cold
    assert run(True, copy) == run(False, copy)  # the cache written by a split run


def test_a_cached_read_makes_no_row_and_writes_what_a_check_writes(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`read_environment` with the cache (fix, db, schema): each file read is recorded with no
    row, its row made as the cache is written; the read cache is the one `check` writes."""
    given: list[bool] = []
    put = ReadCache.put

    def recording(self: Any, path: Path, key: Any, file: Any, row: Any = None) -> None:
        given.append(row is not None)
        put(self, path, key, file, row)

    _summary(tree, cache=True)
    written_by_check = _cache_file(tree).read_bytes()
    _cache_file(tree).unlink()
    monkeypatch.setattr(ReadCache, "put", recording)
    (environment,) = discover_environments([tree])
    assert lint.read_environment(environment, cache=True) == lint.read_environment(environment)
    assert given and not any(given)
    assert _cache_file(tree).read_bytes() == written_by_check


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the split read forks")
def test_split_read_gives_the_same_files(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (environment,) = discover_environments([tree])
    serial = lint.read_environment(environment)
    monkeypatch.setattr(lint, "SPLIT_THRESHOLD", 1)
    monkeypatch.setenv("CHAINLINT_PROCESSES", "2")
    split = lint.read_environment(environment)
    assert split == serial
    # The parent's own Path objects come back from the helper (not a copy of each).
    assert [file.path for file in split] == list(environment.files)
    assert all(file.path is path for file, path in zip(split, environment.files, strict=True))
    assert lint.read_environment(environment, cache=True) == serial  # rows go to the cache
    assert lint.read_environment(environment, cache=True) == serial  # and come back


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the split read forks")
@pytest.mark.parametrize("failure", ["helper exits", "nothing back", "wrong count", "not files"])
def test_a_failed_helper_share_is_read_by_the_parent(
    tree: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    (environment,) = discover_environments([tree])
    paths = list(environment.files)
    serial = lint.read_files(paths, ModuleConstants(), rows=True)
    monkeypatch.setattr(lint, "SPLIT_THRESHOLD", 1)
    monkeypatch.setenv("CHAINLINT_PROCESSES", "3")
    if failure == "helper exits":  # in the forked helper: it exits with status 1

        def broken(self: Any, obj: Any) -> None:
            raise RuntimeError("no")

        monkeypatch.setattr(handoff._HelperPickler, "dump", broken)
    else:
        back: Any = {"nothing back": EOFError, "wrong count": [], "not files": [(1, None)]}[failure]

        def load(self: Any) -> Any:
            if back is EOFError:
                raise EOFError
            return back

        monkeypatch.setattr(handoff._HelperUnpickler, "load", load)
    read_here: list[Path] = []
    read_one = lint._read_one

    def counting(path: Path, *args: Any) -> Any:
        read_here.append(path)  # in this process only: a helper counts in its own memory
        return read_one(path, *args)

    monkeypatch.setattr(lint, "_read_one", counting)
    assert lint.read_files(paths, ModuleConstants(), rows=True) == serial
    assert sorted(read_here) == sorted(paths)  # the parent's share, then the failed ones


def test_garbage_collection_is_restored(tree: Path) -> None:
    assert gc.isenabled()
    _summary(tree, cache=True)
    assert gc.isenabled()
    gc.disable()
    try:
        _summary(tree, cache=True)
        assert not gc.isenabled()
    finally:
        gc.enable()


def _read_counting(tree: Path) -> tuple[Callable[[], list[str | None]], list[Path]]:
    (environment,) = discover_environments([tree])
    calls: list[Path] = []

    def read(paths: list[Path]) -> list[tuple[Any, None]]:
        calls.extend(paths)
        return [(read_revision_file(path), None) for path in paths]

    def run() -> list[str | None]:
        cache = ReadCache(tree.parent / "cache", environment.root)
        files = read_with_cache(list(environment.files), cache, read)
        return [f.revision_id for f in files]

    return run, calls


def test_cache_entries_are_used_and_invalidated(tree: Path) -> None:
    run, calls = _read_counting(tree)
    assert run() == ["a", "b", None, "c"]
    assert len(calls) == 4
    calls.clear()
    run()
    assert calls == []
    # A touched file is read again; so is a file whose imported module changed.
    (tree / "b.py").write_text(migration("b", "a"))
    os.utime(tree / "b.py", ns=(1, 1))
    (tree.parent / "pkg" / "names.py").write_text("LABEL = 'network'  # changed\n")
    run()
    assert sorted(p.name for p in calls) == ["a.py", "b.py"]
    assert lint_paths([tree], Settings(cache=True)).environments[0].graph.branch_labels == {
        "network": "a"
    }


def test_an_edit_that_keeps_size_and_mtime_is_seen(tree: Path) -> None:
    """Issue 11: same size, mtime restored with `touch -r`: only the ctime (and maybe the inode)
    tells. Both caches must see it."""
    for reuse in (False, True):
        target = tree / "c.py"
        target.write_text(migration("c", "b_typo"))
        lint_paths([tree], Settings(cache=True), reuse=reuse)  # cache written
        before = os.stat(target)
        source = target.read_text()
        fixed = source.replace("'b_typo'", "'b'     ")  # same length, CL001 gone
        assert len(fixed) == len(source)
        with open(target, "r+", encoding="utf-8") as handle:  # same inode, same size
            handle.write(fixed)
        os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert os.stat(target).st_mtime_ns == before.st_mtime_ns
        result = lint_paths([tree], Settings(cache=True), reuse=reuse)
        assert "CL001" not in {f.code for f in result.findings}
        assert [(f.code, f.path.name, f.line, f.message) for f in result.findings] == _summary(
            tree, cache=False
        )


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"\x80\x81\x82",
        b"[]",
        b'{"schema": 1, "chainlint": "0.0.0-other", "files": {}}',
        b'{"schema":2,"chainlint":"%s","kind":"read","sha256":"0"}\n{}',
        b'{"schema":2,"chainlint":"%s","kind":"result","sha256":"%h"}\n{}',
        b'{"schema":2,"chainlint":"0.0.0-other","kind":"read","sha256":"%h"}\n{}',
        b'{"schema":2,"chainlint":"%s","kind":"read","sha256":"%h"}\n{',
        b'{"schema":2,"chainlint":"%s","kind":"read","sha256":"%h"}\n[]',
        b"[" * 100000,
        b'{"schema":2,"chainlint":"%s","kind":"read","sha256":"%x"}\n' + b"[" * 100000,
    ],
)
def test_corrupt_or_foreign_cache_is_ignored_and_rebuilt(tree: Path, content: bytes) -> None:
    from chainlint import __version__

    cold = _summary(tree, cache=False)
    _summary(tree, cache=True)
    cache_file = _cache_file(tree)
    body = content.partition(b"\n")[2]
    content = content.replace(b"%s", __version__.encode())
    content = content.replace(b"%h", hashlib.sha256(b"{}").hexdigest().encode())
    content = content.replace(b"%x", hashlib.sha256(body).hexdigest().encode())
    cache_file.write_bytes(content)
    assert _summary(tree, cache=True) == cold
    assert _cache_file(tree).read_bytes() != content  # rebuilt
    assert _summary(tree, cache=True) == cold


def test_tampered_cache_is_rejected_by_its_checksum(tree: Path) -> None:
    """Issue 11: a well-formed cache whose values were changed (ids swapped) was accepted."""
    cold = _summary(tree, cache=False)
    for reuse in (False, True):
        lint_paths([tree], Settings(cache=True), reuse=reuse)
        for cache_file in (tree.parent / "cache").glob("*.json"):
            data = cache_file.read_bytes()
            tampered = data.replace(b'"b_typo"', b'"b"').replace(b'"stale"', b'"a"')
            cache_file.write_bytes(tampered)
        result = lint_paths([tree], Settings(cache=True), reuse=reuse)
        assert [(f.code, f.path.name, f.line, f.message) for f in result.findings] == cold


@pytest.mark.parametrize(
    "change",
    [
        # (what, where in the entry row) -> a value of the wrong shape
        lambda row: row[2][0].__setitem__(2, "scalar") or row[2][0].__setitem__(4, []),
        lambda row: row[2][0].__setitem__(4, [[1, 2]]),
        lambda row: row[2][0].__setitem__(0, "1"),
        lambda row: row[2].__setitem__(4, [["Revises", "x", 1]]),
        lambda row: row[2].__setitem__(7, [[1, [2]]]),
        lambda row: row[2].__setitem__(8, []),
        lambda row: row[2].__setitem__(10, [1]),
        lambda row: row[2].pop(),
        lambda row: row.__setitem__(1, [[1]]),
        lambda row: row.__setitem__(2, "data"),  # a row text that is not JSON
        lambda row: row.__setitem__(2, 5),  # a row that is not a text
        lambda row: row.__setitem__(2, "[" * 100000),
        lambda row: row.pop(),
        lambda row: row.clear(),
    ],
)
def test_entries_of_an_unexpected_shape_are_read_again(
    tree: Path, change: Callable[[Any], None]
) -> None:
    """Issue 11: an entry of an unexpected shape gave `internal error: IndexError`. Checksum
    correct, so only the entry's shape can reveal it."""
    cold = _summary(tree, cache=False)
    _summary(tree, cache=True)
    key = str(tree / "a.py")

    def tamper(document: Any) -> None:
        entry = document[key]
        entry[2] = json.loads(entry[2])  # the row, as the change expects it
        change(entry)
        if len(entry) > 2 and type(entry[2]) is list:
            entry[2] = json.dumps(entry[2], separators=(",", ":"))
        if len(entry) == 4 and type(entry[2]) is str:  # its digest holds: only its shape is wrong
            entry[3] = text_digest(entry[2])

    _rewrite(_cache_file(tree), tamper)
    run, calls = _read_counting(tree)
    run()
    assert [p.name for p in calls] == ["a.py"]  # that entry alone is rebuilt
    assert _summary(tree, cache=True) == cold


def test_the_files_table_has_the_digest_of_an_entry_read_again(tree: Path) -> None:
    """A check that reads again an entry of an unexpected shape (its digest wrong too) saves
    the files table with the digest of the row read again, as the read cache has it."""
    lint_paths([tree], Settings(cache=True), reuse=True)
    key = str(tree / "b.py")

    def tamper(document: Any) -> None:
        document[key][2] = "[1]"  # a row of the wrong shape, under a digest of nothing read
        document[key][3] = "0" * 32

    _rewrite(_cache_file(tree), tamper)
    path = tree / "a.py"
    path.write_text("# every line moves\n" + path.read_text())  # a new row: no result holds
    lint_paths([tree], Settings(cache=True), reuse=True)
    _, entries = read_cache_file(_cache_file(tree))
    table = json.loads(_cache_file(tree, "files").read_bytes().partition(b"\n")[2])
    assert table["digests"] == [entries[p][3] for p in table["paths"]]
    assert "0" * 32 not in table["digests"]


def test_tampered_result_cache_is_not_trusted(tree: Path) -> None:
    cold = _summary(tree, cache=False)
    _check(tree)
    result_file = _cache_file(tree, "result")

    def tamper(document: Any) -> None:
        document["findings"][0][5] = "13"  # a line that is not an int

    _rewrite(result_file, tamper)
    findings, rebuilt = _check(tree)
    assert findings == cold and rebuilt


def _check(versions: Path, **options: object) -> tuple[Summary, bool]:
    """Findings through the command line's path, and whether the graph was rebuilt."""
    result = lint_paths([versions], Settings(cache=True, **options), reuse=True)  # type: ignore[arg-type]
    rebuilt = all(env.graph is not None for env in result.environments)
    return [(f.code, f.path.name, f.line, f.message) for f in result.findings], rebuilt


def test_unchanged_environment_reuses_its_findings(tree: Path) -> None:
    cold = _summary(tree, cache=False)
    first, rebuilt = _check(tree)
    assert first == cold and rebuilt
    again, rebuilt = _check(tree)
    assert again == cold and not rebuilt
    # Another selection is another result.
    narrowed, rebuilt = _check(tree, select=("CL001",))
    assert rebuilt and {code for code, *_ in narrowed} == {"CL001"}


def test_warm_check_reads_no_file_entry(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unchanged environment is answered by the result cache alone."""
    _check(tree)

    def fail(*args: object) -> None:
        raise AssertionError("the read cache was loaded")

    monkeypatch.setattr(ReadCache, "_load", fail)
    _, rebuilt = _check(tree)
    assert not rebuilt


def test_result_cache_invalidated_by_files_and_imported_modules(tree: Path) -> None:
    _check(tree)
    (tree / "c.py").write_text(migration("c", "b"))
    findings, rebuilt = _check(tree)
    assert rebuilt and "CL001" not in {code for code, *_ in findings}
    _check(tree)
    (tree.parent / "pkg" / "names.py").write_text("LABEL = 'network'  # changed too\n")
    findings, rebuilt = _check(tree)
    assert rebuilt and findings == _summary(tree, cache=False)
    # A change the files do not see (a comment): every file reads the same, findings reused.
    (tree.parent / "pkg" / "names.py").write_text("LABEL = 'network'  # a comment only\n")
    findings, rebuilt = _check(tree)
    assert not rebuilt and findings == _summary(tree, cache=False)
    (tree / "d.py").write_text(migration("d", "c"))
    findings, rebuilt = _check(tree)
    assert rebuilt and findings == _summary(tree, cache=False)


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The paths lint reads from now on, in order, appended as they are read."""
    read: list[Path] = []
    real = lint.read_files

    def counting(paths: list[Path], *args: Any, **options: Any) -> Any:
        read.extend(paths)
        return real(paths, *args, **options)

    monkeypatch.setattr(lint, "read_files", counting)
    return read


def test_touched_files_that_read_the_same_reuse_the_findings(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A touch, or a checkout that writes the same bytes, changes stat keys but no row: the
    findings are reused (only the touched files are read), and rekeyed for the next run."""
    cold = _summary(tree, cache=False)
    _check(tree)
    (tree / "b.py").write_bytes((tree / "b.py").read_bytes())  # same bytes, new ctime
    os.utime(tree / "c.py", ns=(0, 1_000_000_000))
    read = _count_reads(monkeypatch)
    findings, rebuilt = _check(tree)
    assert findings == cold and not rebuilt
    assert sorted(p.name for p in read) == ["b.py", "c.py"]
    # Rekeyed: the next run is answered by the result cache alone.
    monkeypatch.setattr(ReadCache, "_load", lambda self: pytest.fail("read cache loaded"))
    findings, rebuilt = _check(tree)
    assert findings == cold and not rebuilt
    monkeypatch.undo()
    # An edit that changes what the file says is a new result; its undo is one again.
    original = (tree / "c.py").read_text()
    (tree / "c.py").write_text(migration("c", "b"))
    findings, rebuilt = _check(tree)
    assert rebuilt and findings == _summary(tree, cache=False) != cold
    (tree / "c.py").write_text(original)
    findings, rebuilt = _check(tree)
    assert rebuilt and findings == cold


def test_a_touched_file_whose_entries_were_lost_is_read_again(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read cache removed: the files table alone is compared with. Both removed: every
    file is read again, and the findings are reused only because every row's digest, so the
    content key, is what it was."""
    cold = _summary(tree, cache=False)
    _check(tree)
    _cache_file(tree).unlink()
    os.utime(tree / "b.py", ns=(0, 1_000_000_000))
    findings, rebuilt = _check(tree)
    assert not rebuilt and findings == cold
    assert not list((tree.parent / "cache").glob("read-*.json"))
    _cache_file(tree, "files").unlink()
    os.utime(tree / "b.py", ns=(0, 2_000_000_000))
    read = _count_reads(monkeypatch)
    findings, rebuilt = _check(tree)
    assert not rebuilt and findings == cold
    assert sorted(p.name for p in read) == ["a.py", "b.py", "bad.py", "c.py"]


def _no_read_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ReadCache, "_load", lambda self: pytest.fail("read cache loaded"))


def test_touched_files_are_compared_with_the_files_table_alone(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A touch: the touched file is read and compared with the files table; the read cache is
    not loaded, and the next run is warm again."""
    cold = _summary(tree, cache=False)
    _check(tree)
    os.utime(tree / "c.py", ns=(0, 1_000_000_000))
    with monkeypatch.context() as patch:
        _no_read_cache(patch)
        findings, rebuilt = _check(tree)
        assert findings == cold and not rebuilt
        os.utime(tree / "b.py", ns=(0, 1_000_000_000))
        findings, rebuilt = _check(tree)  # rekeyed: only b.py differs from the table now
        assert findings == cold and not rebuilt
        findings, rebuilt = _check(tree)
        assert findings == cold and not rebuilt
    # An edit: the table's digest differs, the read cache and the graph do the rest.
    (tree / "c.py").write_text(migration("c", "b"))
    findings, rebuilt = _check(tree)
    assert rebuilt and findings == _summary(tree, cache=False) != cold


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(path.read_bytes().replace(b'"b_typo', b'"b')),
        lambda path: path.write_bytes(path.read_bytes()[:-10]),
        lambda path: _rewrite(path, lambda table: table["digests"].reverse()),
        lambda path: _rewrite(path, lambda table: table["paths"].reverse()),
        lambda path: _rewrite(path, lambda table: table.__setitem__("content", "0" * 64)),
        lambda path: _rewrite(path, lambda table: table["stamps"].pop()),
        lambda path: _rewrite(path, lambda table: table.__setitem__("digests", "x")),
        lambda path: _rewrite(path, lambda table: table.clear()),
        lambda path: path.unlink() or path.symlink_to(path.parent / "elsewhere.json"),
    ],
)
def test_a_damaged_files_table_is_not_trusted(tree: Path, damage: Callable[[Path], None]) -> None:
    """A files table that is tampered with, truncated, of other files or other findings: the
    read cache answers instead, with the same findings."""
    cold = _summary(tree, cache=False)
    _check(tree)
    table = _cache_file(tree, "files")
    (table.parent / "elsewhere.json").write_bytes(table.read_bytes())
    damage(table)
    (tree / "c.py").write_text(migration("c", "b"))  # what the damaged table must not hide
    findings, rebuilt = _check(tree)
    assert rebuilt and findings == _summary(tree, cache=False) != cold


def test_many_touched_files_are_compared_with_the_read_cache(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More touched files than the limit (a checkout of another branch): the read cache is
    loaded rather than every touched file read first; the findings are reused all the same."""
    from chainlint import cache

    cold = _summary(tree, cache=False)
    _check(tree)
    monkeypatch.setattr(cache, "_TOUCHED_LIMIT", 1)
    loaded: list[bool] = []
    real = ReadCache._load

    def counting(self: ReadCache) -> None:
        loaded.append(True)
        real(self)

    monkeypatch.setattr(ReadCache, "_load", counting)
    for name in ("b.py", "c.py"):
        os.utime(tree / name, ns=(0, 1_000_000_000))
    findings, rebuilt = _check(tree)
    assert findings == cold and not rebuilt and loaded


# -- where the cache lives, and folders and files that must not be used ------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with alembic.ini at its root, the cache in its default place."""
    monkeypatch.delenv("CHAINLINT_CACHE_DIR", raising=False)
    monkeypatch.delenv("CHAINLINT_NO_CACHE", raising=False)
    root = tmp_path / "project"
    write_tree(
        root,
        {
            "alembic.ini": "[alembic]\nscript_location = %(here)s/migrations\n",
            "migrations/env.py": "",
            "migrations/versions/a.py": migration("a", None),
            "migrations/versions/b.py": migration("b", "a_typo"),
        },
    )
    return root


def _cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "CHAINLINT_CACHE_DIR"}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "chainlint", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cache_folder_is_at_the_project_root(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: run from a subfolder (an editor, `cd migrations`), the cache still goes beside
    alembic.ini, not into the working directory."""
    versions = project / "migrations" / "versions"
    monkeypatch.chdir(versions)
    lint_paths([Path(".")], Settings(cache=True), reuse=True)
    assert (project / CACHE_DIR / ".gitignore").is_file()
    assert list((project / CACHE_DIR).glob("read-*.json"))
    assert not (versions / CACHE_DIR).exists()
    # `$CHAINLINT_CACHE_DIR` still wins.
    monkeypatch.setenv("CHAINLINT_CACHE_DIR", str(project.parent / "elsewhere"))
    lint_paths([Path(".")], Settings(cache=True), reuse=True)
    assert list((project.parent / "elsewhere").glob("result-*.json"))


def test_cache_folder_of_a_bare_versions_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHAINLINT_CACHE_DIR", raising=False)
    write_tree(tmp_path / "app", {"pyproject.toml": "", "db/versions/a.py": migration("a", None)})
    (environment,) = discover_environments([tmp_path / "app" / "db" / "versions"])
    assert cache_folder(environment) == tmp_path / "app" / CACHE_DIR


def test_no_cache_folder_at_the_filesystem_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: run from `/`, chainlint created `/.chainlint_cache`."""
    monkeypatch.delenv("CHAINLINT_CACHE_DIR", raising=False)
    environment = Environment(
        root=Path("/migrations"),
        source="alembic.ini",
        config_path=Path("/alembic.ini"),
        version_locations=(Path("/migrations/versions"),),
        recursive=False,
        file_template=DEFAULT_FILE_TEMPLATE,
        files=(),
    )
    assert cache_folder(environment) is None


def test_running_from_the_filesystem_root_creates_nothing_there(project: Path) -> None:
    existed = os.path.lexists("/" + CACHE_DIR)
    done = _cli("check", str(project), cwd=Path("/"))
    assert done.returncode == 1, done.stderr
    assert os.path.lexists("/" + CACHE_DIR) == existed
    assert (project / CACHE_DIR).is_dir()


@pytest.mark.parametrize("target", ["versions", "outside", "missing", "file"])
def test_a_symlinked_cache_folder_is_never_used(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    """Issue 11: a committed `.chainlint_cache` symlink sent cache files and a `*` .gitignore
    anywhere (into `versions/`, for one)."""
    versions = project / "migrations" / "versions"
    destinations = {
        "versions": versions,
        "outside": tmp_path / "outside",
        "missing": tmp_path / "missing",
        "file": tmp_path / "a-file",
    }
    destination = destinations[target]
    if target == "outside":
        destination.mkdir()
    if target == "file":
        destination.write_text("keep\n")
    before = sorted(p.name for p in destination.iterdir()) if destination.is_dir() else None
    (project / CACHE_DIR).symlink_to(destination)
    monkeypatch.chdir(project)
    expected = _summary(versions, cache=False)
    for _ in range(2):
        result = lint_paths([project], Settings(cache=True), reuse=True)
        assert [(f.code, f.path.name, f.line, f.message) for f in result.findings] == expected
    if target == "missing":
        assert not os.path.lexists(destination)
    elif target == "file":
        assert destination.read_text() == "keep\n"
    else:
        assert sorted(p.name for p in destination.iterdir()) == before
    assert (project / CACHE_DIR).is_symlink()


def test_a_symlinked_cache_file_is_not_read(project: Path) -> None:
    """Issue 11: a cache file symlinked to /dev/zero grew the process to 11 GB. Run in a child
    with an address-space limit, so the old behaviour fails instead of swapping."""
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    expected = _cli("check", str(project), "--no-cache", cwd=project)
    _cli("check", str(project), cwd=project)
    for cache_file in (project / CACHE_DIR).glob("*.json"):
        cache_file.unlink()
        cache_file.symlink_to("/dev/zero")
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "from chainlint.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    environ = {k: v for k, v in os.environ.items() if k != "CHAINLINT_CACHE_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", code, "check", str(project)],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (expected.returncode, expected.stdout), done.stderr


def test_cache_files_that_are_not_regular_files_are_not_read(tree: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    cold = _summary(tree, cache=False)
    _summary(tree, cache=True)
    cache_file = _cache_file(tree)
    cache_file.unlink()
    os.mkfifo(cache_file)  # opening it for reading would wait forever for a writer
    assert ReadCache(tree.parent / "cache", tree).entries == {}
    assert _summary(tree, cache=True) == cold


def test_oversized_cache_files_are_not_read(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: an 87 MB cache file was read whole. A file over the limit is not read at all."""
    import chainlint.cache as cache_module

    _summary(tree, cache=True)
    size = _cache_file(tree).stat().st_size
    (environment,) = discover_environments([tree])
    assert ReadCache(tree.parent / "cache", environment.root).entries
    monkeypatch.setattr(cache_module, "_MAX_BYTES", size - 1)
    assert ReadCache(tree.parent / "cache", environment.root).entries == {}
    run, calls = _read_counting(tree)
    run()
    assert len(calls) == 4


def test_helpers_only_on_cores_idle_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """The read is split only across cores that were idle since the mark (this process busy on
    one): not when another process burns the other core of a 2-core machine, whatever the load
    average says; the load average only without /proc/stat. `CHAINLINT_PROCESSES` decides when
    set."""
    monkeypatch.delenv("CHAINLINT_PROCESSES", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")

    def processes(cores: int, idle_cpus: float | None, load: float = 0.0) -> int:
        """With `idle_cpus` CPUs idle over the 0.1 s since the mark (None: no /proc/stat)."""
        window = [(50.0, 1000.0), (50.1, 1000.0 + 0.1 * idle_cpus)] if idle_cpus is not None else []
        samples = iter(window)
        monkeypatch.setattr(idle, "idle_seconds", lambda: next(samples, None))
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
        monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
        idle.METER.mark()
        return lint._processes()

    assert processes(2, 0.97) == 2
    assert processes(2, 0.97, load=1.5) == 2  # the last minute's work has ended
    assert processes(2, 0.03) == 1  # another process burns the other core
    assert processes(2, 0.5) == 1
    assert processes(2, 0.7) == 2
    assert processes(4, 2.0) == 3
    assert processes(8, 6.9) == 4
    assert processes(1, 1.0) == 1
    assert processes(2, None, load=0.1) == 2
    assert processes(2, None, load=0.8) == 1
    monkeypatch.setenv("CHAINLINT_PROCESSES", "3")
    assert processes(2, 0.03) == 3


def test_idle_time_without_a_recent_mark_is_sampled(monkeypatch: pytest.MonkeyPatch) -> None:
    """No mark, or one too old to say what is idle now: a short window is measured instead."""
    clock = [100.0]
    idle_total = [5000.0]

    def sample() -> tuple[float, float]:
        return clock[0], idle_total[0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds
        idle_total[0] += seconds * 1.5  # 1.5 CPUs idle meanwhile

    monkeypatch.setattr(idle, "idle_seconds", sample)
    monkeypatch.setattr(idle.time, "sleep", sleep)
    meter = idle.IdleMeter()
    assert meter.cores() == pytest.approx(1.5)
    clock[0] += 60.0  # stale
    idle_total[0] += 0.0
    assert meter.cores() == pytest.approx(1.5)
    clock[0] += 1.0
    idle_total[0] += 0.25  # a quarter of a CPU idle over the second since that sample
    assert meter.cores() == pytest.approx(0.25)


def test_idle_ticks_of_this_process_cpus() -> None:
    stat = (
        b"cpu  100 0 50 9000 40 0 1 0 0 0\n"
        b"cpu0 50 0 25 4000 10 0 1 0 0 0\n"
        b"cpu1 50 0 25 5000 30 0 0 0 0 0\n"
        b"cpu12 1 0 1 700 2 0 0 0 0 0\n"
        b"intr 12345 0 0\nctxt 99\n"
    )
    assert idle.idle_ticks(stat, {0, 1}) == 4010 + 5030
    assert idle.idle_ticks(stat, {1, 12}) == 5030 + 702
    assert idle.idle_ticks(stat, {0, 3}) is None  # a CPU the file does not list
    assert idle.idle_ticks(b"cpu0 1 2 3\n", {0}) is None


@pytest.mark.parametrize(
    ("count", "processes", "rows"), [(1000, 2, False), (10000, 2, True), (999, 3, False)]
)
def test_shares_let_the_parent_and_helpers_finish_together(
    count: int, processes: int, rows: bool
) -> None:
    """The parent reads its share, then unpickles the helpers' files: its share is the larger
    by what that costs, and each helper's (reading and pickling) takes as long as it."""
    paths = [Path(f"/v/{i}.py") for i in range(count)]
    shares = lint._shares(paths, processes, rows)
    assert len(shares) == processes
    assert [p for share in shares for p in share] == paths
    row = lint._ROW_COST if rows else 0.0
    own, helpers = len(shares[0]), shares[1:]
    parent = own * (1 + row) + (count - own) * lint._UNPICKLE_COST
    for share in helpers:
        assert abs(parent - len(share) * (1 + row + lint._PICKLE_COST)) <= 2 + row
    assert own > max(len(share) for share in helpers)


def test_the_read_cache_file_holds_every_row_that_reads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written, the file holds each entry's row (its text, made when the file was read or, for
    a file given without one, when the cache is written) and its index item; a loaded row that
    does not read back as its digest says is left out, never written wrong. Loaded, its rows
    are read from the file when used, and the cache written again from them is the same file."""
    monkeypatch.setattr(cache_module, "build", lambda: "test")
    file = read_revision_file(chain_with_defects(tmp_path / "versions", 1) / "r01.py")
    rows_made = ['[1,"a\\""]', cache_module.row_text(file), "[3," + "4," * 3000 + "5]"]
    reads = ReadCache(tmp_path / "cache", tmp_path)
    reads.put(Path("/v/a.py"), [1, 2, 3, 4], file, rows_made[0])
    reads.put(Path("/v/b.py"), [5, 6, 7, 8], file)  # its row is made as the cache is written
    reads.put(Path("/v/c.py"), [9, 9, 9, 9], file, rows_made[2])
    reads.entries["/v/lost.py"] = [[1, 1, 1, 1], [], 0, 3, "0" * 32]  # loaded, nothing behind it
    entries = dict(reads.entries)
    dependencies = [[str(p), cache_module.stamp(p)] for p in file.used_modules]
    reads.save(set(entries))
    (written,) = (tmp_path / "cache").glob("read-*.json")
    header, document = read_cache_file(written)
    assert header == {
        "schema": cache_module.SCHEMA,
        "chainlint": "test",
        "kind": "read",
        "sha256": header["sha256"],
        "index": READ_HEADER + sum(map(len, rows_made)),
    }
    assert document == {
        path: [key, dependencies, rows_made[i], text_digest(rows_made[i])]
        for i, (path, key) in enumerate(
            [("/v/a.py", [1, 2, 3, 4]), ("/v/b.py", [5, 6, 7, 8]), ("/v/c.py", [9, 9, 9, 9])]
        )
    }
    loaded = ReadCache(tmp_path / "cache", tmp_path)
    assert [loaded._row_data(entry) for entry in loaded.entries.values()] == [
        row.encode() for row in rows_made
    ]
    before = written.read_bytes()
    loaded.dirty = True
    loaded.save(set(entries))
    loaded.close()
    assert written.read_bytes() == before


def test_loading_the_read_cache_reads_its_header_and_index_only(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows (most of the file) are read when their files are decoded, not at load: an
    edited file's check holds the index, not every row, while it decodes the others."""
    _summary(tree, cache=True)
    path = _cache_file(tree)
    header, _ = read_cache_file(path)
    index_size = path.stat().st_size - header["index"]
    read: list[int] = []
    pread = os.pread

    def counting(descriptor: int, length: int, offset: int) -> bytes:
        data = pread(descriptor, length, offset)
        read.append(len(data))
        return data

    monkeypatch.setattr(os, "pread", counting)
    (environment,) = discover_environments([tree])
    loaded = ReadCache(tree.parent / "cache", environment.root)
    assert loaded.entries and read == [READ_HEADER, index_size]
    loaded.close()


@pytest.mark.parametrize("size", [1, 2, 500])
def test_the_read_cache_index_in_chunks_is_its_json(size: int) -> None:
    """The index is written a batch of items at a time: the chunks join to exactly what
    json.dumps writes."""
    from chainlint.cache import _object_chunks

    items = [
        (f"/v/{i}-é.py", [[i, 2, 3, 4], [["/m.py", [1]]] if i % 2 else [], 512, i, "d"])
        for i in range(7)
    ]
    for index in (items, []):
        written = b"".join(_object_chunks(index, size))
        assert written == json.dumps(dict(index), separators=(",", ":")).encode("ascii")


def test_a_row_changed_in_the_read_cache_file_is_read_again(tree: Path) -> None:
    """Each row is checked against its digest when read: a row changed inside the rows (the
    index and its checksum intact) is read again from its file."""
    cold = _summary(tree, cache=False)
    _summary(tree, cache=True)
    path = _cache_file(tree)
    header, document = read_cache_file(path)
    data = bytearray(path.read_bytes())
    key = str(tree / "a.py")
    index = json.loads(data[header["index"] :])
    offset, length = index[key][2:4]
    text = document[key][2]
    assert '"a"' in text
    data[offset : offset + length] = text.replace('"a"', '"z"', 1).encode("ascii")
    path.write_bytes(bytes(data))
    run, calls = _read_counting(tree)
    run()
    assert [p.name for p in calls] == ["a.py"]
    assert _summary(tree, cache=True) == cold


@pytest.mark.parametrize("touched_limit", [200, 0], ids=["files-table", "content-key"])
def test_reused_findings_after_a_touch_follow_the_times_cl010_orders_heads_by(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, touched_limit: int
) -> None:
    """CL010 names the youngest head by `Create Date:`, then file mtime (a new file is the
    newest where it was written), then load order. The mtime is in no row: findings reused
    because every file reads as it did (compared with the files table, or by the content key)
    are reused only while each head's file has the mtime it had."""
    monkeypatch.setenv("CHAINLINT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cache_module, "_TOUCHED_LIMIT", touched_limit)
    versions = write_tree(
        tmp_path / "versions",
        {"a.py": migration("a", None), "b.py": migration("b", "a"), "c.py": migration("c", "a")},
    )
    os.utime(versions / "b.py", ns=(0, 1_000_000_000))
    os.utime(versions / "c.py", ns=(0, 2_000_000_000))
    first = _summary(versions, cache=False)
    assert _check(versions) == (first, True)
    os.utime(versions / "b.py", ns=(0, 2_000_000_000))
    os.utime(versions / "c.py", ns=(0, 1_000_000_000))
    swapped = _summary(versions, cache=False)
    assert [f[1] for f in swapped] == ["b.py"] != [f[1] for f in first]
    assert _check(versions) == (swapped, True)
    # A touch of a file that is not a head still reuses the findings.
    os.utime(versions / "a.py", ns=(0, 3_000_000_000))
    assert _check(versions) == (swapped, False)
