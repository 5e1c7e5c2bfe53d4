"""Differential tests: chainlint's static view against Alembic's own ScriptDirectory, on random
histories (hypothesis). `--hypothesis-profile=thorough` runs many more examples."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from chainlint.lint import lint_paths
from oracle import alembic_view
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
