"""Differential tests: chainlint's static view against Alembic's own ScriptDirectory, on random
histories (hypothesis). `--hypothesis-profile=thorough` runs many more examples."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from chainlint.config import Settings
from chainlint.findings import Finding
from chainlint.lint import lint_paths
from chainlint.rules.base import migration
from helpers import write_tree
from oracle import AlembicView, alembic_view
from strategies import History, Revision, Style, file_name, histories, render, with_revision

PLAIN = Style(
    typed=False,
    quote="'",
    sequence="tuple",
    via_constant=False,
    header=True,
    folder="",
    scalar_single=True,
)


def _linear(*ids: str) -> History:
    revisions = tuple(Revision(rev, (ids[i - 1],) if i else ()) for i, rev in enumerate(ids))
    return History(revisions, tuple(PLAIN for _ in ids))


@given(history=histories())
@example(history=_linear("a"))
@example(
    # A merge written as a list, a depends_on on a branch label, a labelled second base.
    history=History(
        (
            Revision("a", ()),
            Revision("b", ("a",)),
            Revision("n1", (), ("network",)),
            Revision("c", ("a",), (), ("network",)),
            Revision("m", ("b", "c")),
        ),
        tuple(replace(PLAIN, sequence="list", scalar_single=False) for _ in range(5)),
    )
)
def test_chainlint_sees_what_alembic_sees(history: History) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        versions = Path(tmp) / "versions"
        write_and_check = _write(history, versions)
        view = alembic_view(versions)
        assert view.error is None, view.error
        result = lint_paths([versions])
        (environment,) = result.environments
        graph = environment.graph
        assert set(graph.revisions) == view.revisions
        for rev in view.revisions:
            assert graph.parents(rev) == view.parents[rev], rev
            assert set(graph.dependencies(rev)) == view.dependencies[rev], rev
        assert set(graph.heads) == view.heads
        assert set(graph.bases) == view.bases
        # Alembic accepts every such history: chainlint reports no error other than its
        # policy on heads (CL010/CL011), and not even those when there is a single head.
        policy = {"CL010", "CL011"}
        errors = [f for f in result.errors if f.code not in policy]
        assert errors == [], [f.message for f in errors]
        if len(view.heads) == 1:
            assert not [f for f in result.errors if f.code in policy]
        del write_and_check


def _write(history: History, versions: Path) -> dict[str, Path]:
    from strategies import write_history

    return write_history(history, versions)


DEFECTS = (
    "dangling",
    "duplicate",
    "self",
    "cycle",
    "illegal",
    "overlong",
    "missing_down",
    "missing_revision",
)
EXPECTED_CODE = {
    "dangling": "CL001",
    "duplicate": "CL003",
    "self": "CL004",
    "cycle": "CL004",
    "illegal": "CL005",
    "overlong": "CL006",
    "missing_down": "CL007",
    "missing_revision": "CL007",
}


@st.composite
def defective(draw: st.DrawFn) -> tuple[History, str, str]:
    """A valid history with one injected defect; returns it, the defect, and the revision
    whose file must carry the finding."""
    history = draw(histories().filter(lambda h: len(h.revisions) >= 2))
    defect = draw(st.sampled_from(DEFECTS))
    revisions = history.revisions
    last_index = len(revisions) - 1
    last = revisions[last_index]  # nothing refers to the last revision
    ids = {r.id for r in revisions}
    if defect == "dangling":
        missing = "zz" + last.id
        assert missing not in ids
        return (
            with_revision(history, last_index, replace(last, parents=(missing,))),
            defect,
            last.id,
        )
    if defect == "duplicate":
        index = draw(st.integers(0, last_index))
        copy = revisions[index]
        extra = (("zz_duplicate_copy.py", render(copy, history.styles[index])),)
        return replace(history, extra=extra), defect, copy.id
    if defect == "self":
        return (
            with_revision(history, last_index, replace(last, parents=(last.id,))),
            defect,
            last.id,
        )
    if defect == "cycle":
        # Point the first revision at the last one's descendant chain: first -> ... -> last.
        first = revisions[0]
        chain_ok = _descends(history, last.id, first.id)
        if not chain_ok:
            return (
                with_revision(history, last_index, replace(last, parents=(last.id,))),
                "self",
                last.id,
            )
        return with_revision(history, 0, replace(first, parents=(last.id,))), defect, first.id
    if defect == "illegal":
        bad = last.id[:20] + "-x"
        return with_revision(history, last_index, replace(last, id=bad)), defect, bad
    if defect == "overlong":
        long_id = ("x" + last.id + "0" * 40)[:40]
        return with_revision(history, last_index, replace(last, id=long_id)), defect, long_id
    source = render(last, history.styles[last_index])
    if defect == "missing_down":
        source = "\n".join(
            line for line in source.splitlines() if not line.startswith("down_revision")
        )
    else:
        source = "\n".join(line for line in source.splitlines() if not line.startswith("revision"))
    return replace(history, overrides=((last.id, source),)), defect, last.id


def _descends(history: History, rev: str, ancestor: str) -> bool:
    parents = {r.id: r.parents for r in history.revisions}
    stack, seen = [rev], set()
    while stack:
        current = stack.pop()
        if current == ancestor:
            return True
        if current in seen:
            continue
        seen.add(current)
        stack.extend(parents.get(current, ()))
    return False


@given(case=defective())
def test_alembic_fails_exactly_where_chainlint_reports_an_error(
    case: tuple[History, str, str],
) -> None:
    history, defect, culprit = case
    with tempfile.TemporaryDirectory() as tmp:
        versions = Path(tmp) / "versions"
        paths = _write(history, versions)
        view = alembic_view(versions)
        result = lint_paths([versions])
        code = EXPECTED_CODE[defect]
        culprit_files = {paths[culprit].name} if culprit in paths else set()
        if defect == "duplicate":
            culprit_files |= {"zz_duplicate_copy.py"}
        hits = [f for f in result.errors if f.code == code and f.path.name in culprit_files]
        if defect == "cycle":
            # One finding per cycle, on the file of its smallest id, naming every member.
            hits = [f for f in result.errors if f.code == code and f"'{culprit}'" in f.message]
        assert hits, (defect, [(f.code, f.path.name, f.message) for f in result.findings])
        if defect == "overlong":
            # Alembic itself accepts long ids: the database rejects them at `upgrade`.
            assert view.error is None
        elif defect == "duplicate":
            assert any("present more than once" in w for w in view.warnings), view
        elif defect == "cycle" and "Alembic does not notice" in hits[0].message:
            # Alembic's own cycle check misses a cycle that hangs off a merge; it builds the
            # map. chainlint still reports it (a cycle is never a valid history).
            assert view.error is None, view
        else:
            assert view.error is not None, (defect, view)


def test_file_name_layout_is_stable() -> None:
    assert file_name(Revision("a", ("b", "c")), PLAIN) == "a_merge.py"


def test_regression_cycle_hanging_off_a_merge(tmp_path: Path) -> None:
    """Found by the property test: Alembic's own cycle check misses a cycle that is reachable
    from both a head and a base (here through a merge), and builds the map; chainlint reports
    it, and says Alembic will not notice."""
    history = History(
        (
            Revision("b0", ()),
            Revision("a", ("c",)),
            Revision("b", ("a",)),
            Revision("c", ("b", "b0")),
            Revision("d", ("c",)),
        ),
        tuple(PLAIN for _ in range(5)),
    )
    versions = tmp_path / "versions"
    _write(history, versions)
    view = alembic_view(versions)
    assert view.error is None and view.heads == {"d"} and view.bases == {"b0"}
    (cycle,) = [f for f in lint_paths([versions]).errors if f.code == "CL004"]
    assert "'a' -> 'c' -> 'b' -> 'a'" in cycle.message
    assert "Alembic does not notice" in cycle.message


# -- Issue 10: cases Alembic loads (or refuses) that chainlint got wrong -------------------------


def _both(tmp_path: Path, files: dict[str, str]) -> tuple[AlembicView, list[Finding]]:
    """Alembic's verdict and chainlint's findings on the same versions folder."""
    versions = write_tree(tmp_path / "versions", files)
    return alembic_view(versions), lint_paths([versions], Settings()).findings


def _codes(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.path.name) for f in findings if f.severity == "error"]


def test_empty_string_depends_on_is_no_dependency(tmp_path: Path) -> None:
    """invenio-accounts 037afe10e9ff: `depends_on = ""`. Alembic keeps
    `tuple_rev_as_scalar(to_tuple(value))` and resolves it only when truthy."""
    view, findings = _both(
        tmp_path,
        {
            "a.py": migration("a", None),
            "b.py": migration("b", "a", depends_on=""),
            "c.py": migration("c", "b", depends_on=("",)),
            "d.py": migration("d", "c").replace("depends_on = None", "depends_on = []"),
        },
    )
    assert view.error is None and view.dependencies == {r: frozenset() for r in "abcd"}
    assert _codes(findings) == []
    graph = lint_paths([tmp_path / "versions"]).environments[0].graph
    assert graph is not None and all(graph.dependencies(r) == () for r in "abcd")


def test_empty_string_among_other_dependencies_is_looked_up(tmp_path: Path) -> None:
    view, findings = _both(
        tmp_path,
        {"a.py": migration("a", None), "b.py": migration("b", "a", depends_on=("", "a"))},
    )
    assert view.error == "KeyError: ''"
    assert _codes(findings) == [("CL002", "b.py")]


def test_down_revision_naming_a_branch_label_is_an_error(tmp_path: Path) -> None:
    view, findings = _both(
        tmp_path,
        {
            "a.py": migration("a", None, branch_labels="core"),
            "b.py": migration("b", "core"),
            "c.py": migration("c", "a", depends_on="core"),
        },
    )
    assert view.error == "KeyError: 'core'"
    (finding,) = [f for f in findings if f.severity == "error"]
    assert (finding.code, finding.path.name, finding.line) == ("CL001", "b.py", 13)
    assert "down_revision 'core' names a branch label, not a revision" in finding.message
    assert "did you mean 'a', the revision that carries the label" in finding.message
    assert "KeyError: 'core'" in finding.message
    # 'a' already has a child: pointing 'b' at it would open a second head.
    assert finding.fix is not None and not finding.fix.applicable


def test_down_revision_naming_a_label_on_a_head_offers_the_holder(tmp_path: Path) -> None:
    view, findings = _both(
        tmp_path,
        {
            "a.py": migration("a", None),
            "n.py": migration("n1", "a", branch_labels="core"),
            "b.py": migration("b", "core"),
        },
    )
    assert view.error == "KeyError: 'core'"
    (finding,) = [f for f in findings if f.severity == "error"]
    assert finding.code == "CL001" and finding.fix is not None and finding.fix.applicable
    assert finding.fix.description == "set down_revision to 'n1'"


def test_depends_on_naming_a_branch_label_stays_valid(tmp_path: Path) -> None:
    view, findings = _both(
        tmp_path,
        {
            "a.py": migration("a", None),
            "n.py": migration("n1", None, branch_labels="core"),
            "b.py": migration("b", "a", depends_on="core"),
        },
    )
    assert view.error is None and view.dependencies["b"] == {"n1"}
    assert _codes(findings) == []


UNRESOLVED_LABEL = "from reporting_plugin.branches import REPORTS\nbranch_labels = (REPORTS,)"


def test_unresolved_branch_label_is_a_warning_only(tmp_path: Path) -> None:
    """A label imported from an installed package: CL008, never CL011 (nor any other error)."""
    files = {
        "a.py": migration("a", None),
        "b.py": migration("b", "a"),
        "n.py": migration("n1", None).replace("branch_labels = None", UNRESOLVED_LABEL),
        "n2.py": migration("n2", "n1"),
    }
    versions = write_tree(tmp_path / "versions", files)
    (tmp_path / "reporting_plugin").mkdir()
    (tmp_path / "reporting_plugin" / "__init__.py").write_text("")
    (tmp_path / "reporting_plugin" / "branches.py").write_text("REPORTS = 'reports'\n")
    view = alembic_view(versions, extra_path=tmp_path)
    assert view.error is None and view.bases == {"a", "n1"} and view.heads == {"b", "n2"}
    # chainlint never reads the package (outside the project): the label stays unresolved.
    (tmp_path / "reporting_plugin" / "branches.py").unlink()
    findings = lint_paths([versions], Settings()).findings
    assert [(f.code, f.path.name) for f in findings] == [("CL008", "n.py")]


@pytest.mark.parametrize(
    "rule_files",
    [
        # CL002: depends_on names a label that may be the unresolved one.
        {
            "n.py": migration("n1", "a").replace("branch_labels = None", UNRESOLVED_LABEL),
            "c.py": migration("c", "b", depends_on="reports"),
        },
        # CL010/CL011: a second, unlabelled-looking base with its own head.
        {"x.py": migration("x", None).replace("branch_labels = None", UNRESOLVED_LABEL)},
        # CL012: an unresolved label cannot be said to clash.
        {"y.py": migration("y", "b").replace("branch_labels = None", UNRESOLVED_LABEL)},
    ],
)
def test_no_error_from_an_unresolved_label(tmp_path: Path, rule_files: dict[str, str]) -> None:
    files = {"a.py": migration("a", None), "b.py": migration("b", "a"), **rule_files}
    findings = lint_paths([write_tree(tmp_path / "versions", files)], Settings())
    assert [f.code for f in findings.errors] == []
    assert "CL008" in {f.code for f in findings.findings}


def test_orphan_base_blames_the_newer_file(tmp_path: Path) -> None:
    """A copy-pasted `down_revision = None` on a newer migration that then grew its own
    history: the newer base (by Create Date) is the orphan, not the initial migration."""
    view, findings = _both(
        tmp_path,
        {
            "0001_initial.py": migration("0001", None, create_date="2024-01-05 10:00:00"),
            "0002_users.py": migration("0002", "0001", create_date="2024-01-06 10:00:00"),
            "0007_orders.py": migration("0007", None, create_date="2024-03-01 09:00:00"),
            "0008_items.py": migration("0008", "0007", create_date="2024-03-02 09:00:00"),
            "0009_prices.py": migration("0009", "0008", create_date="2024-03-03 09:00:00"),
        },
    )
    assert view.error is None and view.bases == {"0001", "0007"}
    assert _codes(findings) == [("CL011", "0007_orders.py")]
    (orphan,) = [f for f in findings if f.code == "CL011"]
    assert "'0001' (versions/0001_initial.py) already starts this history" in orphan.message
    assert "(the main history's head: '0002')" in orphan.message


def test_orphan_base_without_dates_follows_file_order(tmp_path: Path) -> None:
    files = {
        "0001_initial.py": migration("0001", None, header=False),
        "0002_orders.py": migration("0002", None, header=False),
        "0003_items.py": migration("0003", "0002", header=False),
    }
    view, findings = _both(tmp_path, files)
    assert view.bases == {"0001", "0002"}
    assert _codes(findings) == [("CL011", "0002_orders.py")]
