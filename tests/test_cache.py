"""The read cache: same results with and without it, invalidation, and hostile cache files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chainlint.cache import ReadCache, read_with_cache
from chainlint.config import Settings
from chainlint.discover import discover_environments
from chainlint.lint import lint_paths
from chainlint.read import read_revision_file
from chainlint.rules.base import migration
from helpers import write_tree


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


def _summary(versions: Path, cache: bool) -> list[tuple[str, str, int, str]]:
    result = lint_paths([versions], Settings(cache=cache))
    return [(f.code, f.path.name, f.line, f.message) for f in result.findings]


def test_results_are_identical_with_and_without_the_cache(tree: Path) -> None:
    cold = _summary(tree, cache=False)
    first = _summary(tree, cache=True)  # writes the cache
    warm = _summary(tree, cache=True)  # reads it
    assert cold == first == warm
    assert {code for code, *_ in cold} >= {"CL001", "CL009", "CL101"}
    assert list((tree.parent / "cache").glob("env-*.json"))
    assert (tree.parent / "cache" / ".gitignore").read_text().endswith("*\n")


def test_cache_entries_are_used_and_invalidated(tree: Path) -> None:
    (environment,) = discover_environments([tree])
    calls: list[Path] = []

    def read(paths: list[Path]) -> list[object]:
        calls.extend(paths)
        return [read_revision_file(path) for path in paths]

    def run() -> list[str | None]:
        cache = ReadCache(tree.parent / "cache", environment.root)
        files = read_with_cache(list(environment.files), cache, read)  # type: ignore[arg-type]
        return [f.revision_id for f in files]

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


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"\x80\x81\x82",
        b"[]",
        b'{"schema": 1, "chainlint": "0.0.0-other", "files": {}}',
        b'{"schema": 1, "chainlint": "%s", "files": {"x": 3}}',
        b'{"schema": 1, "chainlint": "%s", "files": "nope"}',
        b"[" * 100000,
    ],
)
def test_corrupt_or_foreign_cache_is_ignored_and_rebuilt(tree: Path, content: bytes) -> None:
    from chainlint import __version__

    cold = _summary(tree, cache=False)
    _summary(tree, cache=True)
    (cache_file,) = (tree.parent / "cache").glob("env-*.json")
    cache_file.write_bytes(content.replace(b"%s", __version__.encode()))
    assert _summary(tree, cache=True) == cold
    assert json.loads(cache_file.read_bytes())["files"]  # rebuilt


def test_tampered_entries_are_rejected(tree: Path) -> None:
    cold = _summary(tree, cache=False)
    _summary(tree, cache=True)
    (cache_file,) = (tree.parent / "cache").glob("env-*.json")
    document = json.loads(cache_file.read_bytes())
    for entry in document["files"].values():
        entry["data"]["revision"] = ["revision", "x", 1, "scalar", [], True]  # line not an int
    cache_file.write_text(json.dumps(document))
    assert _summary(tree, cache=True) == cold


def _check(versions: Path, **options: object) -> tuple[list[tuple[str, str, int, str]], bool]:
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


def test_result_cache_invalidated_by_files_and_imported_modules(tree: Path) -> None:
    _check(tree)
    (tree / "c.py").write_text(migration("c", "b"))
    findings, rebuilt = _check(tree)
    assert rebuilt and "CL001" not in {code for code, *_ in findings}
    _check(tree)
    (tree.parent / "pkg" / "names.py").write_text("LABEL = 'network'  # changed too\n")
    _, rebuilt = _check(tree)
    assert rebuilt
    (tree / "d.py").write_text(migration("d", "c"))
    findings, rebuilt = _check(tree)
    assert rebuilt and findings == _summary(tree, cache=False)


def test_tampered_result_cache_is_not_trusted(tree: Path) -> None:
    cold = _summary(tree, cache=False)
    _check(tree)
    (result_file,) = (tree.parent / "cache").glob("result-*.json")
    document = json.loads(result_file.read_bytes())
    document["findings"][0][5] = "13"  # a line that is not an int
    result_file.write_text(json.dumps(document))
    findings, rebuilt = _check(tree)
    assert findings == cold and rebuilt
