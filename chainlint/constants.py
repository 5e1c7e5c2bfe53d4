"""Constants imported from the project's own modules, found by reading their source.

`branch_labels = (cli.EXPAND_BRANCH,)` with `from neutron.db.migration import cli` is resolved by
locating `neutron/db/migration/cli.py` above the migration file and reading its module-level
assignments with `ast`. Nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

from chainlint import replay
from chainlint.config import DEFAULT_MAX_FILE_SIZE
from chainlint.records import record
from chainlint.source import read_regular_file

ConstantValue = str | tuple[str, ...] | None

# How many `from x import NAME` hops a constant may be re-exported through.
_MAX_DEPTH = 4


@record
class Resolution:
    value: ConstantValue
    module: Path


class _ModuleTable:
    """One module's constants, and the names it imports from other modules."""

    __slots__ = ("imports", "values")

    def __init__(self) -> None:
        self.values: dict[str, ConstantValue] = {}
        self.imports: dict[str, tuple[str, int, str | None]] = {}


class ModuleConstants:
    """A cache of module lookups and module constant tables, shared by every file of a run."""

    def __init__(self) -> None:
        self._locations: dict[tuple[Path, str], Path | None] = {}
        self._tables: dict[Path, _ModuleTable | None] = {}

    def resolve(
        self, start: Path, module: str, level: int, parts: list[str], depth: int = 0
    ) -> Resolution | None:
        """Resolve `module` (imported `level` dots relative to `start`) plus attribute `parts`."""
        if depth > _MAX_DEPTH or not parts:
            return None
        base = module.split(".") if module else []
        # Try the longest module path first: `from a import b` then `b.NAME` may mean module a.b.
        for split in range(len(parts) - 1, -1, -1):
            path = self._locate(start, base + parts[:split], level)
            if path is None:
                continue
            rest = parts[split:]
            if len(rest) != 1:
                return None
            return self._lookup(path, rest[0], depth)
        return None

    def _lookup(self, path: Path, name: str, depth: int) -> Resolution | None:
        table = self._table(path)
        if table is None:
            return None
        if name in table.values:
            return Resolution(table.values[name], path)
        if name in table.imports:
            module, level, attribute = table.imports[name]
            parts = [attribute] if attribute else []
            return self.resolve(path.parent, module, level, parts, depth + 1)
        return None

    def _locate(self, start: Path, parts: list[str], level: int) -> Path | None:
        if level:
            anchor = start
            for _ in range(level - 1):
                anchor = anchor.parent
            return _module_file(anchor, parts)
        if not parts:
            return None
        key = (start, ".".join(parts))
        if key not in self._locations:
            found = None
            for anchor in (start, *start.parents):
                found = _module_file(anchor, parts)
                if found is not None:
                    break
            self._locations[key] = found
        return self._locations[key]

    def _table(self, path: Path) -> _ModuleTable | None:
        if path not in self._tables:
            self._tables[path] = _read_table(path)
        return self._tables[path]


def _module_file(anchor: Path, parts: list[str]) -> Path | None:
    folder = anchor.joinpath(*parts) if parts else anchor
    candidates = [folder / "__init__.py"] if not parts else [folder.with_suffix(".py")]
    if parts:
        candidates.append(folder / "__init__.py")
    for candidate in candidates:
        replay.seen(candidate)
        try:
            if candidate.is_file():
                return candidate
        except OSError:
            return None
    return None


def _read_table(path: Path) -> _ModuleTable | None:
    try:
        data = read_regular_file(path, DEFAULT_MAX_FILE_SIZE)
        module = ast.parse(data)
    except Exception:  # a module chainlint cannot read resolves nothing (CL008)
        return None
    table = _ModuleTable()
    for stmt in module.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value = stmt.target, stmt.value
        elif isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                table.imports[alias.asname or alias.name] = (
                    stmt.module or "",
                    stmt.level,
                    alias.name,
                )
            continue
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        literal = _literal(value, table.values)
        if literal is _NOT_LITERAL:
            table.values.pop(target.id, None)
        else:
            table.values[target.id] = literal  # type: ignore[assignment]
    return table


_NOT_LITERAL = object()


def _literal(node: ast.expr, known: dict[str, ConstantValue]) -> ConstantValue | object:
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, str)):
        return node.value
    if isinstance(node, ast.Name) and node.id in known:
        return known[node.id]
    if isinstance(node, (ast.Tuple, ast.List)):
        values = [_literal(elt, known) for elt in node.elts]
        if all(isinstance(v, str) for v in values):
            return tuple(values)  # type: ignore[arg-type]
    return _NOT_LITERAL
