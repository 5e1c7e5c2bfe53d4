"""Alembic's own view of a versions folder: the oracle chainlint must agree with.

Alembic imports the migration files here — that is the oracle's job, in the tests only, never
chainlint's.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class AlembicView:
    revisions: frozenset[str] = frozenset()
    parents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    dependencies: dict[str, frozenset[str]] = field(default_factory=dict)
    heads: frozenset[str] = frozenset()
    bases: frozenset[str] = frozenset()
    # "KeyError: 'x'", "RevisionError: ...", ... when building the map failed.
    error: str | None = None
    warnings: tuple[str, ...] = ()


def alembic_view(
    versions: Path, *, recursive: bool = True, extra_path: Path | None = None
) -> AlembicView:
    """`extra_path`: a folder the migrations import from (an "installed" package)."""
    if extra_path is None:
        return _alembic_view(versions, recursive)
    before = set(sys.modules)
    sys.path.insert(0, str(extra_path))
    try:
        return _alembic_view(versions, recursive)
    finally:
        sys.path.remove(str(extra_path))
        for name in set(sys.modules) - before:
            module_file = getattr(sys.modules[name], "__file__", None) or ""
            if module_file.startswith(str(extra_path)):
                del sys.modules[name]


def _alembic_view(versions: Path, recursive: bool) -> AlembicView:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(
        str(versions.parent),
        version_locations=[str(versions)],
        recursive_version_locations=recursive,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            revision_map = scripts.revision_map
            revision_map.heads  # noqa: B018 - building the map is the point
            by_id = {
                rev: revision_map._revision_map[rev]
                for rev in revision_map._revision_map
                if isinstance(rev, str) and revision_map._revision_map[rev] is not None
            }
            # Branch labels share the map with ids; keep only the entries keyed by their own id.
            by_id = {rev: script for rev, script in by_id.items() if script.revision == rev}
            view = AlembicView(
                revisions=frozenset(by_id),
                parents={
                    rev: tuple(script._versioned_down_revisions) for rev, script in by_id.items()
                },
                dependencies={
                    rev: frozenset(script._resolved_dependencies) for rev, script in by_id.items()
                },
                heads=frozenset(revision_map.heads),
                bases=frozenset(revision_map.bases),
            )
        except Exception as exc:  # the oracle reports Alembic's failure as data
            view = AlembicView(error=f"{type(exc).__name__}: {exc}")
    messages = tuple(str(w.message) for w in caught)
    return AlembicView(
        revisions=view.revisions,
        parents=view.parents,
        dependencies=view.dependencies,
        heads=view.heads,
        bases=view.bases,
        error=view.error,
        warnings=messages,
    )
