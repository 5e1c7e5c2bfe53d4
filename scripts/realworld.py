"""Check chainlint against real migration trees shipped in PyPI wheels.

    python scripts/realworld.py [--only PACKAGE ...] [--json]

For each pinned wheel: download it once into a cache outside the repository, extract its
migrations, run chainlint, and compare revisions, heads and bases with Alembic's own
ScriptDirectory (which imports the files, with the application's own modules stubbed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from chainlint.lint import lint_paths
from realworld_trees import Unavailable, alembic_facts, fetch, select, versions_folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="package names to check")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    rows = []
    agree_all = True
    for tree in select(args.only):
        try:
            root = fetch(tree)
        except Unavailable as exc:
            rows.append({"tree": tree.name, "error": str(exc)})
            agree_all = False
            continue
        started = time.perf_counter()
        result = lint_paths([versions_folder(root, tree)])
        elapsed = time.perf_counter() - started
        (environment,) = result.environments
        graph = environment.graph
        facts = alembic_facts(root, tree)
        agree = (
            set(graph.revisions) == facts.revisions
            and set(graph.heads) == facts.heads
            and set(graph.bases) == facts.bases
        )
        agree_all &= agree and not result.errors
        rows.append(
            {
                "tree": tree.name,
                "files": len(environment.environment.files),
                "revisions": len(graph.revisions),
                "alembic_revisions": len(facts.revisions),
                "heads": sorted(graph.heads),
                "alembic_heads": sorted(facts.heads),
                "bases": sorted(graph.bases),
                "alembic_bases": sorted(facts.bases),
                "merges": facts.merges,
                "labelled": facts.labelled,
                "depends_on": facts.depends,
                "agree": agree,
                "findings": dict(Counter(f.code for f in result.findings)),
                "errors": [f"{f.code} {f.path.name}:{f.line} {f.message}" for f in result.errors],
                "seconds": round(elapsed, 3),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        header = (
            f"{'tree':<28} {'revs':>5} {'alembic':>7} {'heads':>5} {'bases':>5} "
            f"{'merges':>6} {'labels':>6} {'deps':>4}  agree  findings"
        )
        print(header)
        for row in rows:
            if "error" in row:
                print(f"{row['tree']:<28} unavailable: {row['error']}")
                continue
            print(
                f"{row['tree']:<28} {row['revisions']:>5} {row['alembic_revisions']:>7} "
                f"{len(row['heads']):>5} {len(row['bases']):>5} {row['merges']:>6} "
                f"{row['labelled']:>6} {row['depends_on']:>4}  "
                f"{'yes' if row['agree'] else 'NO ':<5}  {row['findings'] or '-'}"
            )
            for error in row["errors"]:
                print(f"    {error}")
        total = sum(r.get("revisions", 0) for r in rows)
        print(f"{len(rows)} trees, {total} revisions; all agree and no errors: {agree_all}")
    return 0 if agree_all else 1


if __name__ == "__main__":
    raise SystemExit(main())
