"""Real migration trees from PyPI wheels: chainlint reads every revision, agrees with Alembic on
heads and bases, reports no error on a working release, and finds each injected defect exactly
where it was injected. Marked `realworld`: it downloads wheels (once, into a cache outside the
repository) and skips when the registry cannot be reached."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chainlint.lint import LintResult, lint_paths
from chainlint.read import RevisionFile
from helpers import snapshot
from realworld_trees import CATALOGUE, Tree, Unavailable, alembic_facts, fetch

pytestmark = pytest.mark.realworld

NEW_ID = "9f8e7d6c5b4a"
LONG_ID = "4f2a9c1e7b3d5a8c0e6f2b9d4a7c1e3f5b8d0a2c"


def _tree(tree: Tree) -> Path:
    try:
        return fetch(tree)
    except Unavailable as exc:
        pytest.skip(str(exc))


def _lint(versions: Path) -> tuple[LintResult, dict[str, RevisionFile]]:
    result = lint_paths([versions])
    (environment,) = result.environments
    return result, dict(environment.graph.revisions)


@pytest.mark.parametrize("tree", CATALOGUE, ids=lambda t: t.name)
def test_real_tree_agrees_with_alembic(tree: Tree) -> None:
    root = _tree(tree)
    versions = root / tree.versions
    result, revisions = _lint(versions)
    (environment,) = result.environments
    facts = alembic_facts(root, tree)
    assert len(environment.environment.files) == len(revisions)
    assert set(revisions) == facts.revisions
    assert set(environment.graph.heads) == facts.heads
    assert set(environment.graph.bases) == facts.bases
    assert result.errors == [], [f.message for f in result.errors]


def _copy(tree: Tree, tmp_path: Path) -> Path:
    root = _tree(tree)
    target = tmp_path / "tree"
    shutil.copytree(root / tree.script_dir, target / tree.script_dir)
    for extra in tree.extra:
        source = root / extra
        if source.is_dir():
            shutil.copytree(source, target / extra, dirs_exist_ok=True)
        elif source.is_file():
            (target / extra).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / extra)
    return target / tree.versions


def _replace_literal(file: RevisionFile, field: str, new: str) -> None:
    assignment = getattr(file, field)
    item = assignment.items[0]
    lines = file.path.read_text(encoding="utf-8").split("\n")
    line = lines[item.line - 1]
    start = item.column - 1
    assert line[start : start + len(item.source)] == item.source
    lines[item.line - 1] = line[:start] + repr(new) + line[start + len(item.source) :]
    file.path.write_text("\n".join(lines), encoding="utf-8")


def _errors(result: LintResult) -> list[tuple[str, str]]:
    return sorted((f.code, f.path.name) for f in result.errors)


@pytest.mark.parametrize("tree", CATALOGUE, ids=lambda t: t.name)
def test_mutations_are_found_exactly_where_injected(tree: Tree, tmp_path: Path) -> None:
    # (a) the seed defect: a down_revision naming its parent's file stem instead of its id.
    versions = _copy(tree, tmp_path / "a")
    _, revisions = _lint(versions)
    child, parent = next(
        (rev, file.down_revisions[0])
        for rev, file in revisions.items()
        if len(file.down_revisions) == 1
        and file.down_revision is not None
        and file.down_revision.items[0].via is None
        and file.down_revisions[0] in revisions
        and revisions[file.down_revisions[0]].path.stem != file.down_revisions[0]
    )
    stem = revisions[parent].path.stem
    _replace_literal(revisions[child], "down_revision", stem)
    result, _ = _lint(versions)
    assert _errors(result) == [("CL001", revisions[child].path.name)]
    assert f"did you mean '{parent}'" in result.errors[0].message

    # (b) a second head on the same branch: a new file on the parent of a head.
    versions = _copy(tree, tmp_path / "b")
    result, revisions = _lint(versions)
    graph = result.environments[0].graph
    head = next(h for h in graph.heads if len(graph.parents(h)) == 1)
    (versions / f"{NEW_ID}_second_head.py").write_text(
        f"revision = {NEW_ID!r}\ndown_revision = {graph.parents(head)[0]!r}\n", encoding="utf-8"
    )
    result, _ = _lint(versions)
    assert _errors(result) == [("CL010", f"{NEW_ID}_second_head.py")]

    # (c) a duplicate id: a copy of a migration under another name.
    versions = _copy(tree, tmp_path / "c")
    _, revisions = _lint(versions)
    original = next(iter(revisions.values())).path
    copy = original.with_name("zz_copy_" + original.name)
    shutil.copy2(original, copy)
    result, _ = _lint(versions)
    assert _errors(result) == [("CL003", original.name)]

    # (d) an overlong id on a head (nothing refers to it).
    versions = _copy(tree, tmp_path / "d")
    result, revisions = _lint(versions)
    head = result.environments[0].graph.heads[0]
    _replace_literal(revisions[head], "revision", LONG_ID)
    result, _ = _lint(versions)
    assert _errors(result) == [("CL006", revisions[head].path.name)]


@pytest.mark.parametrize("tree", CATALOGUE, ids=lambda t: t.name)
def test_fix_of_one_broken_reference_changes_exactly_one_file(
    tree: Tree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chainlint.cli import main

    versions = _copy(tree, tmp_path)
    _, revisions = _lint(versions)
    child, parent = next(
        (rev, file.down_revisions[0])
        for rev, file in revisions.items()
        if len(file.down_revisions) == 1
        and file.down_revision is not None
        and file.down_revision.items[0].via is None
        and file.down_revisions[0] in revisions
        and revisions[file.down_revisions[0]].path.stem != file.down_revisions[0]
    )
    _replace_literal(revisions[child], "down_revision", revisions[parent].path.stem)
    root = tmp_path / "tree"
    before = snapshot(root)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["fix", "--no-cache", "--quiet", str(versions)])
    after = snapshot(root)
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    assert changed == {revisions[child].path.relative_to(root).as_posix()}
    result, fixed = _lint(versions)
    assert not [f for f in result.findings if f.code == "CL001"]
    assert fixed[child].down_revisions == (parent,)
    assert result.errors == [], [f.message for f in result.errors]
