"""What `chainlint fix` plans: its scope (errors by default, warnings when named, REF's files
under --base), heads a broken reference caused, convergence, the names of the files it writes,
CL006's renames, and per-file failures that stay on that file."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainlint.config import Settings
from chainlint.discover import discover_environments
from chainlint.fix import EnvironmentFix, fix_environment, write_workspace
from chainlint.lint import lint_paths
from chainlint.rules.base import migration
from helpers import git, snapshot, write_tree
from helpers import run_cli as run
from oracle import alembic_view

BROKEN_PARENT = "r000_initial"  # the parent's file stem instead of its id 'r000'


def changed(before: dict[str, bytes], after: dict[str, bytes]) -> set[str]:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def superset_like(versions: Path, drifts: int = 30) -> None:
    """A long chain whose old headers drifted (CL101 warnings) and whose newest revision names
    its parent by file stem (one CL001 error)."""
    files = {"r000_initial.py": migration("r000", None)}
    for number in range(1, drifts + 1):
        files[f"r{number:03}_step.py"] = migration(
            f"r{number:03}", f"r{number - 1:03}", revises_header=f"stale_{number}"
        )
    files["r999_new.py"] = migration("r999", f"r{drifts:03}")
    write_tree(versions, files)
    text = (versions / "r001_step.py").read_text()
    (versions / "r001_step.py").write_text(text.replace("= 'r000'", f"= '{BROKEN_PARENT}'"))


# -- scope ----------------------------------------------------------------------------------


def test_fix_changes_only_the_error_by_default(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = workdir / "versions"
    superset_like(versions)
    before = snapshot(versions)
    code, out, _ = run(["fix", str(versions)], capsys)
    assert code == 0, out
    after = snapshot(versions)
    assert changed(before, after) == {"r001_step.py"}
    assert "down_revision = 'r000'" in (versions / "r001_step.py").read_text()
    assert "Fixed 1 finding" in out
    # r001's own header was part of its CL001 fix; the other 29 drifts stay.
    assert "29 warnings with a fix not applied" in out and "(--extend-fix CL101)" in out
    assert not [f for f in lint_paths([versions]).findings if f.code == "CL001"]


def test_diff_shows_exactly_the_fix_scope(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = workdir / "versions"
    superset_like(versions)
    code, out, _ = run(["fix", "--diff", str(versions)], capsys)
    assert code == 1
    assert [line for line in out.splitlines() if line.startswith("+++ ")] == [
        "+++ b/versions/r001_step.py"
    ]
    code, out, _ = run(["fix", "--diff", "--extend-fix", "CL101", str(versions)], capsys)
    assert sum(line.startswith("+++ ") for line in out.splitlines()) == 30  # 29 + r001


@pytest.mark.parametrize(
    "named",
    [["--extend-fix", "CL101"], ["--extend-fix", "cl1"], ["--select", "CL101,CL001"]],
    ids=["extend-fix", "extend-fix-prefix", "select"],
)
def test_warning_fixes_apply_when_named(
    workdir: Path, capsys: pytest.CaptureFixture[str], named: list[str]
) -> None:
    versions = workdir / "versions"
    superset_like(versions, drifts=3)
    code, out, _ = run(["fix", *named, str(versions)], capsys)
    assert code == 0, out
    assert not lint_paths([versions]).findings
    before = snapshot(versions)
    run(["fix", *named, str(versions)], capsys)
    assert snapshot(versions) == before, "a second fix changed something"


def test_select_all_does_not_name_warnings(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = workdir / "versions"
    superset_like(versions, drifts=3)
    before = snapshot(versions)
    run(["fix", "--select", "ALL", str(versions)], capsys)
    assert changed(before, snapshot(versions)) == {"r001_step.py"}


def test_extend_fix_in_pyproject(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    versions = workdir / "versions"
    superset_like(versions, drifts=3)
    (workdir / "pyproject.toml").write_text('[tool.chainlint]\nextend-fix = ["CL101"]\n')
    run(["fix", str(versions)], capsys)
    assert not lint_paths([versions]).findings


def test_unknown_extend_fix_code_is_a_usage_error(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = workdir / "versions"
    superset_like(versions, drifts=1)
    code, _, err = run(["fix", "--extend-fix", "CL999", str(versions)], capsys)
    assert code == 2 and "CL999" in err and len(err.strip().splitlines()) == 1


def test_fix_help_documents_the_scope(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["fix", "--help"], capsys)
    assert code == 0
    assert "--extend-fix" in out and "error findings apply by default" in out


# -- --base: REF's migrations -----------------------------------------------------------------


def commit(repo: Path, files: dict[str, str], message: str) -> None:
    write_tree(repo / "versions", files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


LONG = "add_invoice_table_for_billing_service_v2"


@pytest.fixture
def repo(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = workdir / "repo"
    root.mkdir()
    monkeypatch.chdir(root)
    git(root, "init", "-q", "-b", "main")
    commit(
        root,
        {
            f"{LONG}.py": migration(LONG, None),
            "b.py": migration("b", LONG, revises_header="stale"),
        },
        "base",
    )
    git(root, "checkout", "-q", "-b", "feature")
    return root


def test_base_never_edits_refs_migrations(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commit(repo, {"c.py": migration("c", "b_x")}, "feature: c, with a typo")
    before = snapshot(repo / "versions")
    code, out, _ = run(["fix", "--base", "main", "--extend-fix", "CL101", "versions"], capsys)
    after = snapshot(repo / "versions")
    # The new file's CL001 is fixed; CL006 on REF's file would rename it and edit b.py, which
    # also exists on REF: refused. b.py's own CL101 was named: its header follows the code.
    assert changed(before, after) == {"c.py", "b.py"}
    assert "down_revision = 'b'" in after["c.py"].decode()
    assert "Revises: " + LONG in after["b.py"].decode()
    assert f"not fixed: it would edit {LONG}.py, which exists on the base branch" in out
    assert code == 1  # CL006 remains


def test_base_without_naming_edits_only_new_files(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commit(repo, {"c.py": migration("c", "b_x")}, "feature: c, with a typo")
    before = snapshot(repo / "versions")
    run(["fix", "--base", "main", "versions"], capsys)
    assert changed(before, snapshot(repo / "versions")) == {"c.py"}


def test_base_on_a_branch_behind_ref_says_merge_first(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = workdir / "repo"
    root.mkdir()
    monkeypatch.chdir(root)
    git(root, "init", "-q", "-b", "main")
    commit(root, {"a.py": migration("a", None), "b.py": migration("b", "a")}, "base")
    git(root, "checkout", "-q", "-b", "feature")
    commit(root, {"c.py": migration("c", "b")}, "feature: c")
    git(root, "checkout", "-q", "main")
    commit(root, {"d.py": migration("d", "b")}, "main: d")
    git(root, "checkout", "-q", "feature")
    before = snapshot(root / "versions")
    code, out, _ = run(["fix", "--base", "main", "versions"], capsys)
    assert code == 1
    assert "has not merged main yet" in out and "merge or rebase onto main" in out
    assert "Fixed 0 findings" not in out or "1 error" in out
    assert snapshot(root / "versions") == before
    code, _, _ = run(["fix", "--diff", "--base", "main", "versions"], capsys)
    assert code == 1


# -- heads a broken reference caused ----------------------------------------------------------


def langflow_like(versions: Path, broken: str) -> None:
    """a <- b <- c <- d(merge of c and x), x <- a; c's down_revision is broken, so b looks
    like a second head beside d."""
    write_tree(
        versions,
        {
            "a.py": migration("a", None),
            "b.py": migration("b", "a"),
            "x.py": migration("x", "a"),
            "c.py": migration("c", broken),
            "d.py": migration("d", ("c", "x")),
        },
    )


def test_no_multiple_heads_for_a_head_cut_off_by_a_broken_reference(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = workdir / "versions"
    langflow_like(versions, "zzzzzz")  # no candidate: CL001 cannot be fixed
    codes = [f.code for f in lint_paths([versions]).findings]
    assert codes == ["CL001"]
    before = snapshot(versions)
    code, out, _ = run(["fix", str(versions)], capsys)
    assert code == 1
    assert snapshot(versions) == before, "a merge of the cut-off head was written"
    assert "not fixed: no candidate" in out


def test_head_cut_off_with_a_candidate_is_repaired_not_merged(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = workdir / "versions"
    langflow_like(versions, "b_typo")
    assert [f.code for f in lint_paths([versions]).findings] == ["CL001"]
    before = snapshot(versions)
    run(["fix", str(versions)], capsys)
    assert changed(before, snapshot(versions)) == {"c.py"}


def test_planner_refuses_to_merge_heads_a_broken_reference_caused(workdir: Path) -> None:
    from chainlint.config import Settings
    from chainlint.discover import discover_environments
    from chainlint.findings import Finding
    from chainlint.fix.plan import CannotFix, edits_for
    from chainlint.graph import RevisionGraph
    from chainlint.lint import read_environment

    versions = workdir / "versions"
    langflow_like(versions, "zzzzzz")
    (environment,) = discover_environments([versions])
    graph = RevisionGraph(environment, read_environment(environment))
    assert set(graph.heads) == {"b", "d"}
    finding = Finding("CL010", "multiple-heads", "error", "", versions / "d.py", 1, 1, "d")
    with pytest.raises(CannotFix):
        edits_for(finding, graph)
    del Settings


def test_an_unreadable_file_never_yields_multiple_heads(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = write_tree(
        workdir / "versions",
        {
            "a.py": migration("a", None),
            "b.py": migration("b", "a") + "\ndef broken(:\n",
            "c.py": migration("c", "b"),
            "x.py": migration("x", "a"),
        },
    )
    before = snapshot(versions)
    run(["fix", str(versions)], capsys)
    assert snapshot(versions) == before
    assert "CL010" not in {f.code for f in lint_paths([versions]).findings}


# -- what the output names --------------------------------------------------------------------


def test_fix_names_the_merge_file_it_wrote(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = write_tree(
        workdir / "versions",
        {"a.py": migration("a", None), "b.py": migration("b", "a"), "c.py": migration("c", "a")},
    )
    code, out, _ = run(["fix", str(versions)], capsys)
    assert code == 0
    (merge,) = versions.glob("*_merge_heads.py")
    assert f"Fixed versions/{merge.name} CL010 wrote {merge.name}, a merge revision of" in out


def test_fix_names_the_file_it_re_parented(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = write_tree(
        workdir / "versions",
        {
            "a.py": migration("a", None),
            "b1.py": migration("b1", "a").replace("2024-01-01", "2024-01-02"),
            "c1.py": migration("c1", "a").replace("2024-01-01", "2024-03-01"),
            "c2.py": migration("c2", "c1").replace("2024-01-01", "2024-03-02"),
        },
    )
    code, out, _ = run(["fix", "--heads", "rebase", str(versions)], capsys)
    assert code == 0
    # The finding is on the youngest head (c2.py); the file that moved is c1.py.
    assert "Fixed versions/c1.py CL010 re-parented c1.py onto 'b1'" in out


# -- CL006 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (f"{LONG}.py", f"{{new}}_{LONG}.py"),
        (f"{LONG}_billing.py", "{new}_billing.py"),
        (f"2024_01_{LONG}.py", "2024_01_{new}.py"),
        ("billing.py", "billing.py"),
    ],
    ids=["name-is-the-id", "id-then-slug", "date-then-id", "no-id"],
)
def test_cl006_rename_keeps_the_descriptive_name(
    workdir: Path, capsys: pytest.CaptureFixture[str], name: str, expected: str
) -> None:
    versions = write_tree(
        workdir / "versions", {name: migration(LONG, None), "z.py": migration("z", LONG)}
    )
    code, out, _ = run(["fix", str(versions)], capsys)
    assert code == 0, out
    ((new, file),) = [
        (rev, f.path)
        for rev, f in lint_paths([versions]).environments[0].graph.revisions.items()
        if rev != "z"
    ]
    assert file.name == expected.format(new=new)
    assert f"UPDATE alembic_version SET version_num = '{new}' WHERE version_num = '{LONG}';" in out
    before = snapshot(versions)
    run(["fix", str(versions)], capsys)
    assert snapshot(versions) == before


def test_cl006_fix_respects_a_short_limit_and_ends(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = write_tree(
        workdir / "versions",
        {
            "a.py": migration("a" * 20, None),
            # A CL001 too, whose only candidate is the overlong id: re-pointed, then renamed.
            "b.py": migration("b", "a" * 19),
        },
    )
    code, out, _ = run(["fix", "--max-revision-length", "11", str(versions)], capsys)
    assert code == 0, out
    assert "Fixed 2 findings; 0 remaining." in out
    result = lint_paths([versions])
    assert not result.errors
    revisions = result.environments[0].graph.revisions
    assert all(len(rev) <= 11 for rev in revisions)
    before = snapshot(versions)
    run(["fix", "--max-revision-length", "11", str(versions)], capsys)
    assert snapshot(versions) == before


def test_cl006_fix_is_refused_when_no_short_id_is_free(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # With a limit of 1, every free one-digit hex id is taken: the fix says so.
    files = {
        f"{d}.py": migration(d, None if i == 0 else "0123456789abcdef"[i - 1])
        for i, d in enumerate("0123456789abcdef")
    }
    files["long.py"] = migration("zz", "f")
    versions = write_tree(workdir / "versions", files)
    code, out, _ = run(["fix", "--max-revision-length", "1", str(versions)], capsys)
    assert code == 1
    assert "longer than max-revision-length 1" in out
    assert "no free 1-character id" in out


def test_a_chosen_limit_claims_no_column_type(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = write_tree(workdir / "versions", {"a.py": migration("abcd", None)})
    code, out, _ = run(["check", "--max-revision-length", "3", str(versions)], capsys)
    assert code == 1
    assert "VARCHAR" not in out and "longer than max-revision-length 3" in out


# -- convergence: ids a header cannot carry ---------------------------------------------------


UNWRITABLE = ["a ", " a", "a\nb", "a,b", "a'b", 'a"b', "None", "a\tb"]


@pytest.mark.parametrize("bad", UNWRITABLE, ids=repr)
def test_unwritable_id_is_cl005_and_never_a_header_edit(
    workdir: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    versions = workdir / "versions"
    write_tree(
        versions,
        {
            "a.py": migration(bad, None, header=False),
            "b.py": migration("b", bad, revises_header="x"),
        },
    )
    # Alembic itself loads the id as it is (the oracle): CL005 says so.
    view = alembic_view(versions)
    assert view.error is None and bad in view.revisions
    findings = lint_paths([versions]).findings
    assert [f.code for f in findings] == ["CL005"]
    assert "Alembic loads it as it is" in findings[0].message
    assert "\n" not in findings[0].message
    before = snapshot(versions)
    code, out, _ = run(["fix", "--extend-fix", "ALL", str(versions)], capsys)
    assert code == 1
    assert snapshot(versions) == before
    assert "Fixed 0 findings" in out


def test_trailing_space_id_with_a_header_does_not_loop(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The reproducer: revision 'a ' whose header says 'a', a child whose header says 'x'.
    versions = write_tree(
        workdir / "versions",
        {"a.py": migration("a ", None), "b.py": migration("b", "a ", revises_header="x")},
    )
    before = snapshot(versions)
    code, out, _ = run(["fix", "--select", "CL005,CL101", str(versions)], capsys)
    assert code == 1 and "CL005" in out
    assert snapshot(versions) == before


def test_a_fix_whose_result_is_flagged_again_is_refused(workdir: Path) -> None:
    from chainlint.config import Settings
    from chainlint.discover import discover_environments
    from chainlint.fix import fix_environment
    from chainlint.rules import cl101_header_mismatch

    versions = write_tree(
        workdir / "versions",
        {"a.py": migration("a", None), "b.py": migration("b", "a", revises_header="x")},
    )
    (environment,) = discover_environments([versions])
    original = cl101_header_mismatch.ReplaceHeaderLine

    def stale(path: Path, line: int, label: str, old: str, new: str) -> object:
        return original(path, line, label, old, new + "_again")  # never agrees

    cl101_header_mismatch.ReplaceHeaderLine = stale  # type: ignore[assignment,misc]
    try:
        result = fix_environment(environment, Settings(), named=("CL101",))
    finally:
        cl101_header_mismatch.ReplaceHeaderLine = original  # type: ignore[misc]
    assert not result.applied
    (refused,) = result.refused
    assert refused.reason.startswith("the result would be flagged again")


# -- convergence: fixes that depend on each other -------------------------------------------

OVERLONG = "x" * 40


def _fix(versions: Path) -> tuple[EnvironmentFix, bool]:
    """One in-memory plan of `fix --extend-fix ALL`, written; and whether planning again on the
    written tree would change anything."""
    (environment,) = discover_environments([versions])
    first = fix_environment(environment, Settings(), named=("ALL",))
    write_workspace(first.workspace)
    (environment,) = discover_environments([versions])
    second = fix_environment(environment, Settings(), named=("ALL",))
    return first, second.workspace.changed()


def test_a_refused_fix_is_tried_again_after_a_later_fix_removes_its_reason(
    workdir: Path,
) -> None:
    """Found by test_fix_converges_and_a_second_fix_changes_nothing: a.py and b.py declare the
    same overlong id with `branch_labels = 'None'` (Alembic keeps b.py). Renaming b.py's id
    (CL006, planned first) would leave two revisions labelled 'None' (CL012), so it was refused,
    and the refusal stood for the run although the CL013 fixes planned next removed both labels:
    only a second `fix` renamed the ids."""
    versions = write_tree(
        workdir / "versions",
        {
            "a.py": migration(OVERLONG, None, branch_labels="None"),
            "b.py": migration(OVERLONG, "y", branch_labels="None"),
            "y.py": migration("y", OVERLONG),
        },
    )
    first, again = _fix(versions)
    assert not again
    done = [(a.finding.code, a.finding.path.name) for a in first.applied]
    assert sorted(done) == [
        ("CL006", "a.py"),
        ("CL006", "b.py"),
        ("CL013", "a.py"),
        ("CL013", "b.py"),
    ]
    assert not first.refused

    def fields(name: str) -> list[str]:
        text = (versions / name).read_text()
        return [line for line in text.splitlines() if line.split(" ")[0] in FIELDS]

    # b.py's id (the one Alembic kept) is renamed with every reference to it (y.py's); then
    # a.py's id, which is the overlong one Alembic keeps now, gets its own.
    assert fields("b.py") == [
        "revision = '47372a7b2756'",
        "down_revision = 'y'",
        "branch_labels = None",
    ]
    assert fields("a.py") == [
        "revision = '1e7e0a4778b0'",
        "down_revision = None",
        "branch_labels = None",
    ]
    assert fields("y.py") == [
        "revision = 'y'",
        "down_revision = '47372a7b2756'",
        "branch_labels = None",
    ]
    # What is left is the cycle b.py <-> y.py, which has no automatic fix.
    assert [f.code for f in lint_paths([versions]).findings] == ["CL004"]


FIELDS = {"revision", "down_revision", "branch_labels"}


def test_a_redundant_merge_parent_does_not_hide_two_heads_of_one_labelled_branch(
    workdir: Path,
) -> None:
    """Found by test_fix_repairs_and_touches_nothing_else: `m` merges 'base' (label 'expand')
    and its descendant 'c' (label 'contract'); 'f' also sits on 'c'. Alembic sees two heads of
    'contract' (f, m). chainlint took the labels nearest by distance, so the redundant parent
    'base' put m on an 'expand'+'contract' branch of its own: no CL010, and CL102's fix (drop
    'base') was refused forever because it "would introduce CL010"."""
    versions = write_tree(
        workdir / "versions",
        {
            "base.py": migration("base", None, branch_labels=("expand",)),
            "c.py": migration("c", "base", branch_labels=("contract",)),
            "f.py": migration("f", "c"),
            "m.py": migration("m", ("base", "c")),
        },
    )
    from alembic.script import ScriptDirectory
    from alembic.script.revision import MultipleHeads

    scripts = ScriptDirectory(str(workdir), version_locations=[str(versions)])
    with pytest.raises(MultipleHeads):
        scripts.revision_map.get_revision("contract@head")
    findings = lint_paths([versions]).findings
    assert sorted((f.code, f.path.name) for f in findings) == [
        ("CL010", "m.py"),
        ("CL102", "m.py"),
    ]
    (heads,) = [f for f in findings if f.code == "CL010"]
    assert "2 heads on one branch: 'f'" in heads.message and "'m'" in heads.message

    first, again = _fix(versions)
    assert not again
    done = sorted(a.finding.code for a in first.applied)
    assert done == ["CL010", "CL102"]
    assert not first.refused
    assert "down_revision = 'c'" in (versions / "m.py").read_text()
    assert not lint_paths([versions]).findings


# -- per-file failures ------------------------------------------------------------------------


def test_a_file_libcst_cannot_walk_refuses_only_its_own_assignment_fix(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An assignment's new value goes through libcst, which cannot walk `1+1+...` x500: that
    fix is refused on that file only. A string literal is replaced as text, so b.py's own CL001
    (a typo in down_revision) is still fixed."""
    deep = "\nx = " + "+".join(["1"] * 500) + "\n"
    versions = write_tree(
        workdir / "versions",
        {
            "a.py": migration("a1b2", None),
            "b.py": migration("c3d4", "a1bx", branch_labels="None") + deep,
            "c.py": migration("e5f6", "c3dx"),
        },
    )
    before = snapshot(versions)
    code, out, err = run(["fix", "--extend-fix", "CL013", str(versions)], capsys)
    assert code == 0, err
    assert changed(before, snapshot(versions)) == {"b.py", "c.py"}
    b = (versions / "b.py").read_text()
    assert b == before["b.py"].decode().replace("'a1bx'", "'a1b2'").replace(
        "Revises: a1bx", "Revises: a1b2"
    )
    assert "not fixed: b.py: the file is nested too deeply for libcst to edit it" in out


def test_an_id_the_files_encoding_cannot_hold_refuses_only_its_own_fix(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = write_tree(
        workdir / "versions",
        {
            "a.py": migration("rev_€", None),
            "b.py": ("# -*- coding: latin-1 -*-\n" + migration("b", "rev_x")).encode("latin-1"),
            "c.py": migration("c", "b_x"),
        },
    )
    before = snapshot(versions)
    code, out, err = run(["fix", str(versions)], capsys)
    assert code == 1, err
    assert changed(before, snapshot(versions)) == {"c.py"}
    reason = "not fixed: b.py: the new value cannot be written in the file's encoding (latin-1)"
    assert reason in out


def test_a_codec_that_raises_plain_unicode_error_refuses_only_its_own_fix(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the fuzz suite: the idna codec raises UnicodeError (not UnicodeEncodeError)
    on a long line, which stopped the whole run with "internal error"."""
    idna = "# -*- coding: idna -*-\n" + migration("b", "a1bx", branch_labels="None")
    versions = write_tree(
        workdir / "versions",
        {
            "a.py": migration("a1b2", None),
            "b.py": idna.encode("ascii"),
            "c.py": migration("c", "b_x"),
        },
    )
    before = snapshot(versions)
    _, out, err = run(["fix", "--extend-fix", "CL013", str(versions)], capsys)
    assert "internal error" not in err, err
    assert changed(before, snapshot(versions)) == {"c.py"}
    assert "not fixed: b.py: the file's encoding cannot write it back" in out


def test_thousands_of_refused_fixes_are_planned_on_one_graph(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the fuzz suite: a `down_revision` list of 4,000 unknown ids took 86 s in `fix
    --diff`, because every refused fix rebuilt the graph and re-sorted every finding. A refused
    fix leaves the workspace as it was: the next one is planned on the same graph."""
    import chainlint.fix as fix_module

    unknown = [f"u{n}" for n in range(300)]
    versions = write_tree(
        workdir / "versions",
        {
            "a.py": migration("a1", None),
            "b.py": migration("b1", tuple(unknown)),
        },
    )
    builds = 0
    real_graph = fix_module.RevisionGraph

    def counting_graph(*args: object, **kwargs: object) -> object:
        nonlocal builds
        builds += 1
        return real_graph(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fix_module, "RevisionGraph", counting_graph)
    (environment,) = discover_environments([versions])
    result = fix_environment(environment, Settings(cache=False), named=("ALL",))
    unknown_references = [f for f in result.remaining if f.code == "CL001"]
    assert len(unknown_references) == len(unknown)  # nothing looks like u0..u299: all stay
    assert not result.applied
    assert builds <= 2, builds
