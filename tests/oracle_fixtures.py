"""Alembic as the oracle for a discovered environment. Alembic imports the migration files here,
in the tests only: that is the oracle's job, never chainlint's."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from chainlint.discover import Environment


def alembic_heads_and_bases(
    environment: Environment, sys_path: Path | None = None
) -> tuple[set[str], set[str], set[str]]:
    from alembic.script import ScriptDirectory

    script_dir = environment.root
    if environment.source == "versions-folder":
        script_dir = environment.root.parent
    scripts = ScriptDirectory(
        str(script_dir),
        version_locations=[str(p) for p in environment.version_locations],
        recursive_version_locations=environment.recursive,
    )
    added = str(sys_path) if sys_path is not None else None
    if added:
        sys.path.insert(0, added)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            revision_map = scripts.revision_map
            heads = set(revision_map.heads)
            bases = set(revision_map.bases)
            revisions = {script.revision for script in scripts.walk_revisions()}
    finally:
        if added:
            sys.path.remove(added)
            for name in [m for m in sys.modules if m == "myproj" or m.startswith("myproj.")]:
                del sys.modules[name]
    return heads, bases, revisions
