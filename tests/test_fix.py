"""`chainlint fix`: before/after for every fixable rule, idempotency, agreement with Alembic
after the fix, byte preservation, atomic writes, read-only and unparsable files, --diff."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from chainlint.config import Settings
from chainlint.discover import discover_environments
from chainlint.fix import fix_environment, write_workspace
from chainlint.lint import lint_paths
from chainlint.rules.base import migration
from helpers import run_cli as run
from helpers import snapshot, write_tree
from oracle_fixtures import alembic_heads_and_bases

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def copy_fixture(name: str, target: Path) -> Path:
    shutil.copytree(FIXTURES / name, target / name)
    return target / name


def changed_lines(before: bytes, after: bytes) -> list[tuple[str, str]]:
    old, new = before.decode().splitlines(), after.decode().splitlines()
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def assert_agrees_with_alembic(folder: Path) -> None:
    result = lint_paths([folder])
    for env in result.environments:
        heads, bases, revisions = alembic_heads_and_bases(env.environment, sys_path=folder)
        assert set(env.graph.heads) == heads
        assert set(env.graph.bases) == bases
        assert set(env.graph.revisions) == revisions


def fix_twice(folder: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    code, out, _ = run(["fix", *extra, str(folder)], capsys)
    assert code == 0, out
    after = snapshot(folder)
    code, again, _ = run(["fix", *extra, str(folder)], capsys)
    assert code == 0
    assert snapshot(folder) == after, "a second fix changed something"
    assert "Fixed 0 findings" in again
    return out


# -- before/after, idempotency and Alembic agreement for each fixable rule ---------------------

SIMPLE_CASES = [
    (
        "seed-broken-chain",
        "CL001",
        "api/migrations/versions/002_add_conditional_execution_columns.py",
        [
            ("Revises: 001_add_workflow_run_fields", "Revises: 001"),
            (
                "down_revision: Union[str, Sequence[str], None] = '001_add_workflow_run_fields'",
                "down_revision: Union[str, Sequence[str], None] = '001'",
            ),
        ],
    ),
    (
        "flask-migrate",
        "CL001",
        "migrations/versions/7d8e9f0a1b2c_posts.py",
        [
            ("Revises: 1a2b3c4d5e6f", "Revises: 5e6f7a8b9c0d"),
            ("down_revision = '1a2b3c4d5e6f'", "down_revision = '5e6f7a8b9c0d'"),
        ],
    ),
    (
        "unknown-dependency",
        "CL002",
        "migrations/versions/n2_network.py",
        [("depends_on = ('coer',)", "depends_on = ('core',)")],
    ),
    (
        "suspicious-branch-label",
        "CL013",
        "migrations/versions/a1.py",
        [("branch_labels = 'None'", "branch_labels = None")],
    ),
    (
        "header-drift",
        "CL101",
        "migrations/versions/002_next.py",
        [("Revises: 001_initial", "Revises: 001")],
    ),
    (
        "redundant-merge-parent",
        "CL102",
        "migrations/versions/m.py",
        [
            ("Revises: aaa111, bbb222", "Revises: bbb222"),
            ("down_revision = ('aaa111', 'bbb222')", "down_revision = 'bbb222'"),
        ],
    ),
]


ERROR_CODES = {"CL001", "CL002", "CL006", "CL010"}


@pytest.mark.parametrize(
    ("fixture", "code", "path", "expected"), SIMPLE_CASES, ids=[c[0] for c in SIMPLE_CASES]
)
def test_fix_before_after(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    fixture: str,
    code: str,
    path: str,
    expected: list[tuple[str, str]],
) -> None:
    folder = copy_fixture(fixture, workdir)
    before = snapshot(folder)
    # A warning's fix applies only when its rule is named.
    named = () if code in ERROR_CODES else ("--extend-fix", code)
    out = fix_twice(folder, capsys, *named)
    assert f"{code} " in out
    after = snapshot(folder)
    assert set(after) == set(before)
    for name in before:
        if name != path:
            assert after[name] == before[name], f"{name} changed"
    assert changed_lines(before[path], after[path]) == expected
    assert not [f for f in lint_paths([folder]).findings if f.code == code]
    assert_agrees_with_alembic(folder)


def test_fix_overlong_id_renames_everywhere(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_fixture("overlong-revision-id", workdir)
    versions = folder / "migrations" / "versions"
    old = "001_add_workflow_run_fields_and_other_stuff"
    fix_twice(folder, capsys)
    names = sorted(p.name for p in versions.iterdir())
    # The name was the id alone: the new id goes in front, the old one stays as the slug.
    renamed_name = f"c5418f11bf26_{old}.py"
    assert names == ["002_next.py", renamed_name]
    renamed = (versions / renamed_name).read_text()
    assert "revision = 'c5418f11bf26'" in renamed and "Revision ID: c5418f11bf26" in renamed
    child = (versions / "002_next.py").read_text()
    assert "down_revision = 'c5418f11bf26'" in child and "Revises: c5418f11bf26" in child
    assert old not in renamed + child
    assert not lint_paths([folder]).findings
    assert_agrees_with_alembic(folder)


def test_fix_multiple_heads_with_a_merge_revision(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_fixture("multiple-heads", workdir)
    fix_twice(folder, capsys)
    (merge,) = (folder / "migrations" / "versions").glob("*_merge_heads.py")
    text = merge.read_text()
    assert "down_revision = ('bbb222', 'ccc333')" in text
    assert "Revises: bbb222, ccc333" in text
    assert "def upgrade():\n    pass" in text
    result = lint_paths([folder])
    assert not result.findings
    assert result.environments[0].graph.heads == (merge.name.split("_")[0],)
    assert_agrees_with_alembic(folder)


def test_fix_merge_renders_the_environments_script_template(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_fixture("flask-migrate", workdir)
    versions = folder / "migrations" / "versions"
    (versions / "7d8e9f0a1b2c_posts.py").unlink()
    write_tree(
        versions,
        {
            "b1_posts.py": migration("b1", "5e6f7a8b9c0d"),
            "b2_tags.py": migration("b2", "5e6f7a8b9c0d"),
        },
    )
    template = folder / "migrations" / "script.py.mako"
    template.write_text(template.read_text().replace('"""${message}', '"""${message} (from mako)'))
    fix_twice(folder, capsys)
    (merge,) = versions.glob("*_merge_heads.py")
    assert merge.read_text().startswith('"""merge heads (from mako)')
    assert_agrees_with_alembic(folder)


def test_fix_merge_matches_the_typed_style(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_fixture("typed-template", workdir)
    versions = folder / "migrations" / "versions"
    shutil.copy(versions / "1c2d3e4f5a6b_add_orders.py", versions / "2d3e4f5a6b7c_add_tags.py")
    other = versions / "2d3e4f5a6b7c_add_tags.py"
    other.write_text(other.read_text().replace("1c2d3e4f5a6b", "2d3e4f5a6b7c"))
    fix_twice(folder, capsys)
    (merge,) = versions.glob("*_merge_heads.py")
    text = merge.read_text()
    assert "down_revision: Union[str, Sequence[str], None] = (" in text
    assert "def upgrade() -> None:" in text
    assert_agrees_with_alembic(folder)


def test_fix_multiple_heads_by_rebase(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_fixture("multiple-heads", workdir)
    versions = folder / "migrations" / "versions"
    fix_twice(folder, capsys, "--heads", "rebase")
    assert sorted(p.name for p in versions.iterdir()) == [
        "aaa111_base.py",
        "bbb222_pr_one.py",
        "ccc333_pr_two.py",
    ]
    younger = (versions / "ccc333_pr_two.py").read_text()
    assert "down_revision = 'bbb222'" in younger and "Revises: bbb222" in younger
    result = lint_paths([folder])
    assert result.environments[0].graph.heads == ("ccc333",)
    assert_agrees_with_alembic(folder)


def test_rebase_moves_the_whole_younger_branch(workdir: Path) -> None:
    versions = write_tree(
        workdir / "versions",
        {
            "a.py": migration("a", None),
            "b1.py": migration("b1", "a", message="old").replace("2024-01-01", "2024-01-02"),
            "c1.py": migration("c1", "a").replace("2024-01-01", "2024-03-01"),
            "c2.py": migration("c2", "c1").replace("2024-01-01", "2024-03-02"),
        },
    )
    (environment,) = discover_environments([versions])
    result = fix_environment(environment, Settings(), "rebase")
    write_workspace(result.workspace)
    assert "down_revision = 'b1'" in (versions / "c1.py").read_text()
    assert "down_revision = 'c1'" in (versions / "c2.py").read_text()
    assert lint_paths([versions]).environments[0].graph.heads == ("c2",)


def test_rebase_never_edits_revisions_outside_the_editable_set(workdir: Path) -> None:
    versions = write_tree(
        workdir / "versions",
        {
            "a.py": migration("a", None),
            "b1.py": migration("b1", "a").replace("2024-01-01", "2024-05-01"),
            "c1.py": migration("c1", "a").replace("2024-01-01", "2024-03-01"),
        },
    )
    (environment,) = discover_environments([versions])
    # b1 is younger by date, but only c1 is new on this branch: c1 moves onto b1.
    result = fix_environment(environment, Settings(), "rebase", editable={"c1"})
    write_workspace(result.workspace)
    assert "down_revision = 'b1'" in (versions / "c1.py").read_text()
    assert "down_revision = 'a'" in (versions / "b1.py").read_text()


# -- bytes, encodings, permissions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("crlf", lambda s: s.replace("\n", "\r\n").encode()),
        ("bom", lambda s: b"\xef\xbb\xbf" + s.encode()),
        (
            "latin1",
            lambda s: ("# -*- coding: latin-1 -*-\n# café\n" + s).encode("latin-1"),
        ),
    ],
)
def test_fix_keeps_encoding_and_line_endings(
    workdir: Path, capsys: pytest.CaptureFixture[str], name: str, encode: object
) -> None:
    assert callable(encode)
    versions = workdir / "versions"
    write_tree(versions, {"a.py": migration("001", None)})
    broken = encode(migration("002", "001_initial"))
    (versions / "001_initial.py").write_bytes((versions / "a.py").read_bytes())
    (versions / "a.py").unlink()
    (versions / "002.py").write_bytes(broken)
    fix_twice(versions, capsys)
    expected = broken.replace(b"001_initial", b"001")
    assert (versions / "002.py").read_bytes() == expected


# A string literal is replaced as text at its position (no syntax tree): every byte around it
# stays, whatever the line endings, the encoding or the characters before it on the line.
SPLICE_CASES = {
    "cr-only": (b"x = 1\rdown_revision = 'old'\r", 2, 17, b"x = 1\rdown_revision = 'new'\r"),
    "crlf": (b"x = 1\r\ndown_revision = 'old'\r\n", 2, 17, b"x = 1\r\ndown_revision = 'new'\r\n"),
    "non-ascii before": (
        "d = ('é', 'old')\n".encode(),
        1,
        11,
        "d = ('é', 'new')\n".encode(),
    ),
    "bom": (b'\xef\xbb\xbfr = "old"\n', 1, 5, b'\xef\xbb\xbfr = "new"\n'),
    "latin-1": (
        "# -*- coding: latin-1 -*-\n# café\nr = u'old'\n".encode("latin-1"),
        3,
        5,
        "# -*- coding: latin-1 -*-\n# café\nr = u'new'\n".encode("latin-1"),
    ),
    "no final newline": (b"r = 'old'", 1, 5, b"r = 'new'"),
}


@pytest.mark.parametrize("case", sorted(SPLICE_CASES))
def test_a_string_literal_is_replaced_in_place(case: str) -> None:
    from chainlint.edits import ReplaceString
    from chainlint.fix.apply import apply_source_edits

    data, line, column, expected = SPLICE_CASES[case]
    edit = ReplaceString(Path("a.py"), line, column, "old", "new")
    assert apply_source_edits(data, [edit]) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"x = 1\rbranch_labels = 'None'\r", b"x = 1\rbranch_labels = None\r"),
        (b"x = 1\rbranch_labels = 'None'\r# end\r\r", b"x = 1\rbranch_labels = None\r# end\r\r"),
        (b"branch_labels = 'None'\r\n", b"branch_labels = None\r\n"),
    ],
)
def test_an_assignment_edit_keeps_the_final_cr_of_a_cr_only_file(
    data: bytes, expected: bytes
) -> None:
    """libcst's round trip drops the final CR of a CR-only file (issue 11)."""
    from chainlint.edits import SetAssignment
    from chainlint.fix.apply import apply_source_edits

    edit = SetAssignment(Path("a.py"), "branch_labels", None)
    assert apply_source_edits(data, [edit]) == expected


@pytest.mark.parametrize(
    ("source", "column"),
    [
        ("r = 'other'\n", 5),  # the file changed since it was read
        ("r = f'old'\n", 5),  # not a plain literal
        ("r = b'old'\n", 5),  # bytes, not the string
        ("r = 'ol' 'd'\n", 5),  # one part of a concatenation
        ("r = 'old'\n", 4),  # not a string's position
        ("r = 'old'\n", 40),  # beyond the line
    ],
)
def test_a_string_edit_that_no_longer_matches_is_refused(source: str, column: int) -> None:
    from chainlint.edits import ReplaceString
    from chainlint.fix.apply import EditFailed, apply_source_edits

    with pytest.raises(EditFailed, match="no longer holds 'old'"):
        apply_source_edits(source.encode(), [ReplaceString(Path("a.py"), 1, column, "old", "x")])


def test_fix_never_edits_a_file_above_max_file_size(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check --max-file-size` calls the file CL009 "too large" (never edited); `fix` read it
    anyway, without the limit, and fixed its CL001."""
    versions = write_tree(
        workdir / "versions",
        {
            "a.py": migration("a1b2", None),
            "b.py": migration("c3d4", "a1bx", upgrade="pass\n" + "# padding\n" * 100),
        },
    )
    before = {p.name: p.read_bytes() for p in versions.iterdir()}
    assert len(before["b.py"]) > 1000
    code, out, _ = run(["fix", "--diff", "--max-file-size", "1000", str(versions)], capsys)
    assert (code, out) == (0, "")
    code, out, _ = run(["fix", "--max-file-size", "1000", str(versions)], capsys)
    assert code == 1 and "CL009" in out and "too large" in out
    assert {p.name: p.read_bytes() for p in versions.iterdir()} == before


def test_fix_keeps_permissions(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_fixture("seed-broken-chain", workdir)
    target = folder / "api/migrations/versions/002_add_conditional_execution_columns.py"
    target.chmod(0o640)
    fix_twice(folder, capsys)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert "= '001'" in target.read_text()


def test_read_only_file_is_reported_and_untouched(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_fixture("seed-broken-chain", workdir)
    target = folder / "api/migrations/versions/002_add_conditional_execution_columns.py"
    before = target.read_bytes()
    target.chmod(0o444)
    code, out, _ = run(["fix", str(folder)], capsys)
    assert code == 1
    assert "not fixed: 002_add_conditional_execution_columns.py is read-only" in out
    assert target.read_bytes() == before


def test_unparsable_file_is_never_touched(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = write_tree(
        workdir / "versions",
        {
            "a.py": migration("a", None),
            "b.py": migration("b", "a") + "\ndef broken(:\n",
            "c.py": migration("c", "a_typo"),
        },
    )
    before = (versions / "b.py").read_bytes()
    code, out, _ = run(["fix", str(versions)], capsys)
    assert code == 1  # CL009 remains
    assert (versions / "b.py").read_bytes() == before
    assert "CL009" in out


def test_interrupted_write_leaves_files_old_and_no_temp(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_fixture("seed-broken-chain", workdir)
    before = snapshot(folder)

    def interrupted(source: object, target: object) -> None:
        raise OSError(28, "No space left on device", str(target))

    monkeypatch.setattr(os, "replace", interrupted)
    code, _, err = run(["fix", str(folder)], capsys)
    assert code == 2
    assert err.startswith("chainlint: cannot write") and len(err.strip().splitlines()) == 1
    assert snapshot(folder) == before


def test_killed_between_write_and_rename_leaves_old_file(workdir: Path) -> None:
    # A fix killed after the temporary file is written and before the rename: the original is
    # intact (the stray temporary file is the only trace, hidden and named for chainlint).
    import subprocess
    import sys

    folder = copy_fixture("seed-broken-chain", workdir)
    target = folder / "api/migrations/versions/002_add_conditional_execution_columns.py"
    before = target.read_bytes()
    script = (
        "import os, sys\n"
        "os.replace = lambda a, b: os._exit(9)\n"
        "from chainlint.cli import main\n"
        f"main(['fix', {str(folder)!r}])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False
    )
    assert done.returncode == 9
    assert target.read_bytes() == before
    leftovers = [p.name for p in target.parent.iterdir() if p.name.endswith(".chainlint-tmp")]
    assert all(name.startswith(".") for name in leftovers)


# -- --diff ----------------------------------------------------------------------------------------


def test_diff_writes_nothing_and_exits_1(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_fixture("multiple-heads", workdir)
    before = snapshot(folder)
    code, out, _ = run(["fix", "--diff", str(folder)], capsys)
    assert code == 1
    assert snapshot(folder) == before
    assert "--- /dev/null" in out and "_merge_heads.py" in out
    assert "+down_revision = ('bbb222', 'ccc333')" in out


def test_diff_never_touches_the_cache_and_fix_reads_through_it(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = workdir / "cache"
    monkeypatch.setenv("CHAINLINT_CACHE_DIR", str(cache))
    monkeypatch.delenv("CHAINLINT_NO_CACHE", raising=False)
    folder = copy_fixture("multiple-heads", workdir)
    code, _, _ = run(["fix", "--diff", str(folder)], capsys)
    assert code == 1 and not cache.exists()
    code, _, _ = run(["fix", str(folder)], capsys)
    assert code == 0 and any(cache.rglob("*"))
    code, out, _ = run(["fix", "--diff", str(folder)], capsys)
    assert (code, out) == (0, "")


def test_diff_on_a_clean_tree_exits_0(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_fixture("typed-template", workdir)
    assert run(["fix", "--diff", str(folder)], capsys) == (0, "", "")


def test_fix_does_not_guess(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    versions = write_tree(
        workdir / "versions",
        {
            "a.py": migration("abc1", None),
            "b.py": migration("abc2", "abc1"),
            "c.py": migration("c", "zzz"),
        },
    )
    before = snapshot(versions)
    code, out, _ = run(["fix", str(versions)], capsys)
    assert code == 1
    assert snapshot(versions) == before
    assert "not fixed: no candidate" in out
