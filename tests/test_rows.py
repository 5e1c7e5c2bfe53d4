"""Row stores (chainlint.rows): a check that writes the read cache keeps each fresh row in an
unnamed file of the process that read it, not as a string, and the writer reads it back. The
cache written is byte for byte the one written from strings; a row that does not read back as
it was made is left out (its file is read again next time), never written wrong."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from chainlint import apart, cache, idle, lint, rows
from chainlint.config import Settings
from helpers import chain_with_defects, read_cache_file

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the read is split by forking")


@pytest.fixture
def versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CHAINLINT_NO_CACHE", raising=False)
    return chain_with_defects(tmp_path / "versions", 40)


def _check(versions: Path, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A cold check with the read split between this process and a helper."""
    with monkeypatch.context() as patch:
        patch.setenv("CHAINLINT_CACHE_DIR", str(folder))
        patch.setenv("CHAINLINT_PROCESSES", "2")
        patch.setattr(lint, "SPLIT_THRESHOLD_WITH_IMPORTS", 1)
        patch.setattr(lint, "SPLIT_THRESHOLD", 1)
        patch.setattr(idle.METER, "cores", lambda: 1.0)
        result = lint.lint_paths([versions], Settings(cache=True), reuse=True)
    return [(f.code, f.path.name, f.line, f.message) for f in result.findings]


def _bodies(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes().partition(b"\n")[2] for p in sorted(folder.glob("*.json"))}


def _entries(folder: Path) -> dict[str, Any]:
    (written,) = folder.glob("read-*.json")
    return read_cache_file(written)[1]


def _puts(monkeypatch: pytest.MonkeyPatch) -> list[type]:
    """The type of each row the read cache is given."""
    seen: list[type] = []
    put = cache.ReadCache.put

    def recording(self: Any, path: Path, key: Any, file: Any, row: Any = None) -> None:
        seen.append(type(row))
        put(self, path, key, file, row)

    monkeypatch.setattr(cache.ReadCache, "put", recording)
    return seen


def test_a_row_reads_back_only_as_it_was_made() -> None:
    store = rows.new_store()
    assert store is not None
    try:
        first, second = store.add('[1,"a"]'), store.add("[2]")
        assert store.read(first) is None  # not flushed yet: never handed on before flush
        store.flush()
        assert (store.read(first), store.read(second)) == ('[1,"a"]', "[2]")
        wrong = rows.RowRef(first.store, first.offset, first.length, second.digest)
        assert store.read(wrong) is None
        assert rows.text_of("[3]") == "[3]" and rows.text_of(42) is None
    finally:
        rows.close_stores()


def test_stored_rows_write_the_cache_strings_write(
    versions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(apart, "unnamed_file", lambda: None)  # no store: every row a string
        seen = _puts(patch)
        from_strings = _check(versions, tmp_path / "strings", patch)
    assert seen and set(seen) <= {str, type(None)}
    seen = _puts(monkeypatch)
    stored = _check(versions, tmp_path / "stored", monkeypatch)
    assert stored == from_strings
    assert rows.RowRef in seen and str not in seen  # this process's rows and the helper's
    assert _bodies(tmp_path / "stored") == _bodies(tmp_path / "strings")
    assert not rows._STORES and not rows.is_storing()  # closed once the check is done


def test_a_row_that_does_not_read_back_is_left_out_not_written_wrong(
    versions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = _check(versions, tmp_path / "reference", monkeypatch)
    read = rows.RowStore.read
    refused: list[int] = []

    def losing_one(self: rows.RowStore, ref: rows.RowRef) -> str | None:
        text = read(self, ref)
        if not refused and text is not None:
            refused.append(ref.offset)
            return None
        return text

    with monkeypatch.context() as patch:
        patch.setattr(rows.RowStore, "read", losing_one)
        assert _check(versions, tmp_path / "lossy", monkeypatch) == here
    document = _entries(tmp_path / "lossy")
    reference = _entries(tmp_path / "reference")
    assert len(refused) == 1 and len(document) == len(reference) - 1
    assert all(document[path] == reference[path] for path in document)
    # An edit (every line moves): the check decodes the other entries and reads the file whose
    # row is missing.
    edited = versions / "r30.py"
    edited.write_text("# edited\n" + edited.read_text())
    assert _check(versions, tmp_path / "lossy", monkeypatch) == here
    assert len(_entries(tmp_path / "lossy")) == len(reference)
