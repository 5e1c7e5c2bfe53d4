"""The schema model on real migration trees shipped in PyPI wheels (issue 12's proof).

    python scripts/schema_realworld.py [--only PACKAGE ...] [--show CODE ...]

For each pinned wheel of tests/realworld_trees.py: how many tables the replay knows fully and
how many are partial at the heads, how many operations are opaque, and the count of each CL30x
finding (CL304 included, though it is off by default). `--show CL305` prints those findings.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from chainlint.config import Settings
from chainlint.lint import lint_paths
from chainlint.schema import schema_history
from realworld_trees import Unavailable, fetch, select, versions_folder

CODES = ("CL301", "CL302", "CL303", "CL304", "CL305")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="package names to check")
    parser.add_argument("--show", nargs="*", default=[], help="print findings of these codes")
    args = parser.parse_args()
    settings = Settings(select=("CL3",))
    print(
        f"{'tree':<28} {'revs':>5} {'ops':>6} {'opaque':>6} {'known':>5} {'partial':>7} "
        + " ".join(f"{c:>5}" for c in CODES)
    )
    failed = False
    for tree in select(args.only):
        try:
            root = fetch(tree)
        except Unavailable as exc:
            print(f"{tree.name:<28} unavailable: {exc}")
            failed = True
            continue
        result = lint_paths([versions_folder(root, tree)], settings)
        (environment,) = result.environments
        graph = environment.graph
        assert graph is not None
        schema = schema_history(graph).at_heads()
        operations = [
            op
            for file in graph.revisions.values()
            if file.operations is not None
            for op in file.operations.upgrade + file.operations.downgrade
        ]
        opaque = sum(type(op).__name__ == "Opaque" for op in operations)
        known = sum(t.known for t in schema.tables.values())
        partial = len(schema.tables) - known
        counts = Counter(f.code for f in result.findings)
        print(
            f"{tree.name:<28} {len(graph.revisions):>5} {len(operations):>6} {opaque:>6} "
            f"{known:>5} {partial:>7} " + " ".join(f"{counts.get(c, 0):>5}" for c in CODES)
        )
        failed |= bool(counts.get("CL301") or counts.get("CL302"))
        for finding in result.findings:
            if finding.code in args.show or finding.severity == "error":
                print(f"    {finding.code} {finding.path.name}:{finding.line} {finding.message}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
