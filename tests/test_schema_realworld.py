"""The schema model on real migration trees from PyPI wheels (marked `realworld`): these
histories run in production, so no CL301/CL302 may be reported; every file's operations are
read without a traceback, survive the read cache unchanged, and `chainlint schema` renders.
`python scripts/schema_realworld.py` prints the per-tree table (known/partial, CL30x counts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainlint.config import Settings
from chainlint.lint import lint_paths
from chainlint.ops import dump_operations, load_operations
from chainlint.report.schema import render_schema_json, render_schema_text, schema_views
from chainlint.schema import schema_history
from realworld_trees import CATALOGUE, Tree, Unavailable, fetch, versions_folder

pytestmark = pytest.mark.realworld


def _versions(tree: Tree) -> Path:
    try:
        return versions_folder(fetch(tree), tree)
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("tree", CATALOGUE, ids=lambda t: t.name)
def test_real_tree_has_no_schema_error(tree: Tree) -> None:
    versions = _versions(tree)
    result = lint_paths([versions], Settings(select=("CL3",)))
    assert [f for f in result.findings if f.code in ("CL301", "CL302")] == []
    (environment,) = result.environments
    assert environment.graph is not None
    history = schema_history(environment.graph)
    assert not history.cyclic and history.at_heads().tables
    for file in environment.graph.revisions.values():
        assert file.operations is not None
        data = json.loads(json.dumps(dump_operations(file.operations)))
        assert load_operations(data) == file.operations
    views = schema_views([versions], None, cache=False)
    assert render_schema_text(views, versions) and json.loads(render_schema_json(views, versions))
