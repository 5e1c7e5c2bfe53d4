"""The candidate search of CL001/CL002 is bounded: linear lookups, a budget for typo matching."""

from __future__ import annotations

from pathlib import Path

from chainlint.config import Settings
from chainlint.lint import check_graph
from chainlint.rules.base import migration
from chainlint.rules.candidates import NEAR_MISS_BUDGET, candidate_index, find_candidates
from helpers import graph_of, write_tree


def test_ten_thousand_unknown_parents_each_get_a_finding(tmp_path: Path) -> None:
    """Issue 11: `down_revision` as a tuple of 10,000 unknown ids took 11 s (quadratic)."""
    unknown = [f"u{i:05d}" for i in range(10_000)]
    parents = ("a1b2c3d4e5f6", "a1b2c3d4e5f7", *unknown)  # the second is a typo of the first
    files = {"a.py": migration("a1b2c3d4e5f6", None), "b.py": migration("b", parents)}
    graph = graph_of(write_tree(tmp_path / "versions", files))
    findings = [f for f in check_graph(graph, Settings(select=("CL001",)))]
    assert len(findings) == 10_001
    assert {f.message.split("'")[1] for f in findings} == {"a1b2c3d4e5f7", *unknown}
    typo = next(f for f in findings if "'a1b2c3d4e5f7'" in f.message)
    # The parent already named is never offered again.
    assert "no revision looks like it" in typo.message
    # Two revisions of other lengths and one of equal length: each unknown id costs at most
    # the revisions of a compatible length.
    assert candidate_index(graph).comparisons <= 2 * len(parents)


def test_near_miss_budget_bounds_many_revisions_times_many_unknown_ids(tmp_path: Path) -> None:
    revisions = {f"r{i:04d}.py": migration(f"{i:012x}", None) for i in range(1_500)}
    unknown = tuple(f"{i:011x}z" for i in range(300))
    files = {**revisions, "m.py": migration("m", unknown)}
    graph = graph_of(write_tree(tmp_path / "versions", files))
    results = [find_candidates(graph, missing, "m") for missing in unknown]
    index = candidate_index(graph)
    assert index.comparisons == NEAR_MISS_BUDGET
    # Before the budget ran out, each unknown id found its one-typo neighbour.
    searched = [r for r in results if r is not None]
    assert searched and all(len(r) >= 1 for r in searched)
    assert results[-1] is None
    message = next(
        f.message
        for f in check_graph(graph, Settings(select=("CL001",)))
        if f"'{unknown[-1]}'" in f.message
    )
    assert "too many unknown ids in this environment to look for similar ones" in message


def test_exact_tiers_do_not_need_the_budget(tmp_path: Path) -> None:
    files = {
        "001_add_workflow_run_fields.py": migration("001", None),
        "3f2c9a1b7d4e_add_users.py": migration("3f2c9a1b7d4e", "001"),
        "c.py": migration("c", ("001_add_workflow_run_fields", "3f2c9a1b", "3f2c9a1b7d4e_x")),
    }
    graph = graph_of(write_tree(tmp_path / "versions", files))
    candidate_index(graph).budget = 0
    by_stem = find_candidates(graph, "001_add_workflow_run_fields", "c")
    assert by_stem is not None and [c.revision for c in by_stem] == ["001"]
    prefix = find_candidates(graph, "3f2c9a1b", "c")
    assert prefix is not None and [c.revision for c in prefix] == ["3f2c9a1b7d4e"]
    slug = find_candidates(graph, "3f2c9a1b7d4e_x", "c")
    assert slug is not None and [c.revision for c in slug] == ["3f2c9a1b7d4e"]
