"""`--base REF` against real temporary git repositories: CL201, CL202, CL203, rebase onto REF,
and the one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainlint.cli import main
from chainlint.rules.base import migration
from helpers import git


def commit(repo: Path, files: dict[str, str | None], message: str) -> None:
    for name, source in files.items():
        path = repo / "versions" / name
        if source is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit(root, {"a.py": migration("a", None), "b.py": migration("b", "a")}, "base")
    monkeypatch.chdir(root)
    monkeypatch.setenv("NO_COLOR", "1")
    return root


def check(
    capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[dict[str, object]], str]:
    with pytest.raises(SystemExit) as exited:
        main(["check", "--format", "json", *args])
    out = capsys.readouterr()
    code = exited.value.code
    assert isinstance(code, int)
    findings = json.loads(out.out)["findings"] if out.out else []
    return code, findings, out.err


def codes(findings: list[dict[str, object]]) -> list[tuple[object, object]]:
    return sorted((f["code"], f["path"]) for f in findings)


def test_competing_branches_give_cl201_only_against_main(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, {"c.py": migration("c", "b")}, "feature adds c")
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "-b", "other")
    commit(repo, {"d.py": migration("d", "b")}, "other adds d")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "other")
    git(repo, "checkout", "-q", "feature")
    # Alone, the branch is fine; against main (which got d) it would leave two heads.
    assert check(capsys, "versions")[:2] == (0, [])
    code, findings, _ = check(capsys, "--base", "main", "versions")
    assert code == 1
    assert codes(findings) == [("CL201", "versions/c.py")]
    message = str(findings[0]["message"])
    assert "main's 'd'" in message and "this branch's 'c'" in message
    assert "chainlint fix --base main --heads rebase" in message
    # A branch built on main's head is fine.
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "-b", "good")
    commit(repo, {"e.py": migration("e", "d")}, "good adds e")
    assert check(capsys, "--base", "main", "versions")[:2] == (0, [])


def test_fix_base_rebase_moves_only_new_revisions(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, {"c.py": migration("c", "b").replace("2024-01-01", "2030-01-01")}, "c")
    git(repo, "checkout", "-q", "main")
    commit(repo, {"d.py": migration("d", "b")}, "main adds d")
    git(repo, "checkout", "-q", "feature")
    git(repo, "merge", "-q", "--no-edit", "main")
    main_files = {n: (repo / "versions" / n).read_bytes() for n in ("a.py", "b.py", "d.py")}
    code, findings, _ = check(capsys, "--base", "main", "versions")
    assert code == 1 and codes(findings) == [("CL010", "versions/c.py")]
    with pytest.raises(SystemExit) as exited:
        main(["fix", "--base", "main", "versions"])
    assert exited.value.code == 0
    capsys.readouterr()
    assert "down_revision = 'd'" in (repo / "versions" / "c.py").read_text()
    assert {n: (repo / "versions" / n).read_bytes() for n in main_files} == main_files
    assert check(capsys, "--base", "main", "versions")[:2] == (0, [])


def test_fix_base_never_edits_revisions_from_main_even_if_younger(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, {"c.py": migration("c", "b")}, "c (older date)")
    git(repo, "checkout", "-q", "main")
    commit(repo, {"d.py": migration("d", "b").replace("2024-01-01", "2031-01-01")}, "d")
    git(repo, "checkout", "-q", "feature")
    git(repo, "merge", "-q", "--no-edit", "main")
    with pytest.raises(SystemExit):
        main(["fix", "--base", "main", "versions"])
    capsys.readouterr()
    assert "down_revision = 'b'" in (repo / "versions" / "d.py").read_text()
    assert "down_revision = 'd'" in (repo / "versions" / "c.py").read_text()


def test_edited_and_removed_applied_migrations(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    # Reformatting and comments are not edits.
    b = (repo / "versions" / "b.py").read_text()
    commit(
        repo,
        {"b.py": b.replace("def upgrade():\n    pass", "def upgrade():\n    # noop\n    pass")},
        "x",
    )
    assert check(capsys, "--base", "main", "versions")[:2] == (0, [])
    commit(
        repo,
        {"b.py": b.replace("def upgrade():\n    pass", "def upgrade():\n    op.drop_table('t')")},
        "y",
    )
    code, findings, _ = check(capsys, "--base", "main", "versions")
    assert code == 0 and codes(findings) == [("CL202", "versions/b.py")]
    assert "upgrade() changed" in str(findings[0]["message"])
    commit(repo, {"b.py": None}, "remove b")
    code, findings, _ = check(capsys, "--base", "main", "versions")
    assert code == 1 and codes(findings) == [("CL203", "versions/b.py")]


def test_base_errors_are_one_line(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = check(capsys, "--base", "nope", "versions")
    assert code == 2 and err.strip() == "chainlint: unknown git reference 'nope'"
    outside = tmp_path / "plain" / "versions"
    outside.mkdir(parents=True)
    (outside / "a.py").write_text(migration("a", None))
    code, _, err = check(capsys, "--base", "main", str(outside))
    assert code == 2 and "is not in one" in err and len(err.strip().splitlines()) == 1


def test_shallow_clone_says_to_fetch(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, {"c.py": migration("c", "b")}, "c")
    clone = tmp_path / "shallow"
    git(
        tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{repo}", str(clone)
    )
    code, _, err = check(capsys, "--base", "origin/main", str(clone / "versions"))
    assert code == 2
    assert "shallow clone" in err and "fetch-depth: 0" in err


def test_changes_made_on_main_after_the_fork_are_not_blamed_on_the_branch(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, {"c.py": migration("c", "b")}, "feature adds c")
    git(repo, "checkout", "-q", "main")
    b = (repo / "versions" / "b.py").read_text()
    commit(repo, {"b.py": b.replace("    pass", "    op.drop_table('x')", 1)}, "main edits b")
    git(repo, "checkout", "-q", "feature")
    assert check(capsys, "--base", "main", "versions")[:2] == (0, [])


def test_a_path_holding_a_newline_is_read_from_the_base(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cat-file --batch` was asked by path, one per line: a newline in a name gave IndexError.
    (A file name with a newline is skipped by Alembic's own pattern; a folder name is not.)"""
    git(repo, "checkout", "-q", "main")
    commit(repo, {"odd\nfolder/c.py": migration("c", "b")}, "main adds c in an odd folder")
    git(repo, "checkout", "-q", "-b", "feature")
    assert check(capsys, "--base", "main", "versions")[:2] == (0, [])
    commit(repo, {"odd\nfolder/c.py": None}, "feature removes it")
    code, findings, err = check(capsys, "--base", "main", "versions")
    assert (code, codes(findings)) == (1, [("CL203", "versions/odd\nfolder/c.py")]), err


def test_a_submodule_inside_versions_is_not_a_file(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    library = tmp_path / "library"
    library.mkdir()
    git(library, "init", "-q", "-b", "main")
    (library / "README").write_text("not a migration\n")
    git(library, "add", "-A")
    git(library, "commit", "-q", "-m", "library")
    # A gitlink named like a migration was asked for as a blob: "missing", then IndexError.
    submodule = ["-c", "protocol.file.allow=always", "submodule", "add", "-q"]
    git(repo, *submodule, str(library), "versions/vendored.py")
    git(repo, "commit", "-q", "-m", "submodule in versions/")
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, {"c.py": migration("c", "b")}, "feature adds c")
    code, findings, err = check(capsys, "--base", "main", "versions")
    assert (code, findings) == (0, []), err


def _symlinked_repo(repo: Path) -> None:
    """main: versions/b.py is a symlink to shared/b_real.py, as some projects share migrations."""
    shared = repo / "shared"
    shared.mkdir()
    (repo / "versions" / "b.py").rename(shared / "b_real.py")
    (repo / "versions" / "b.py").symlink_to("../shared/b_real.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "b is shared")


def test_symlinked_migration_removed_on_the_branch_is_cl203(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _symlinked_repo(repo)
    git(repo, "checkout", "-q", "-b", "feature")
    assert check(capsys, "--base", "main", "versions")[:2] == (0, [])
    git(repo, "rm", "-q", "versions/b.py")
    git(repo, "commit", "-q", "-m", "drop the link")
    code, findings, err = check(capsys, "--base", "main", "versions")
    assert (code, codes(findings)) == (1, [("CL203", "versions/b.py")]), err


def test_symlinked_migration_on_main_gives_cl201(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, {"c.py": migration("c", "b")}, "feature adds c")
    git(repo, "checkout", "-q", "main")
    (repo / "shared").mkdir()
    (repo / "shared" / "d_real.py").write_text(migration("d", "b"))
    (repo / "versions" / "d.py").symlink_to("../shared/d_real.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "main adds d through a symlink")
    git(repo, "checkout", "-q", "feature")
    code, findings, err = check(capsys, "--base", "main", "versions")
    assert (code, codes(findings)) == (1, [("CL201", "versions/c.py")]), err


def test_symlink_leaving_the_repository_is_not_followed(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "elsewhere.py"
    outside.write_text(migration("z", "b"))
    (repo / "versions" / "z.py").symlink_to(outside)
    (repo / "versions" / "loop.py").symlink_to("loop.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "links outside and a loop")
    git(repo, "checkout", "-q", "-b", "feature")
    code, findings, err = check(capsys, "--base", "main", "versions")
    assert "Traceback" not in err and "internal error" not in err and code in (0, 1)
    assert ("CL203", "versions/z.py") not in codes(findings)


def test_shallow_clone_without_a_merge_base_says_so(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`clone --depth 1` then `fetch --depth 1 origin main`: both tips, no common history.
    Measured from main itself, main's newer revisions looked removed here (a false CL203)."""
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, {"c.py": migration("c", "b")}, "feature adds c")
    git(repo, "checkout", "-q", "main")
    commit(repo, {"d.py": migration("d", "b")}, "main adds d")
    clone = tmp_path / "shallow"
    url = f"file://{repo}"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature", url, str(clone))
    git(clone, "fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    code, findings, err = check(capsys, "--base", "origin/main", str(clone / "versions"))
    assert (code, findings) == (2, [])
    (line,) = err.strip().splitlines()
    assert line.startswith(
        "chainlint: cannot find the merge base of HEAD and origin/main: the clone is shallow; "
        "fetch more history (git fetch --unshallow"
    )
