"""The `chainlint db` pipeline: an environment + a database URL -> status and CL4xx findings.

discover -> read -> graph, as `check` does; then the URL (--url, $CHAINLINT_DATABASE_URL,
$DATABASE_URL, or a literal `sqlalchemy.url` in alembic.ini), the version table's name
(--version-table, or env.py's `context.configure(version_table=...)` read with `ast`, never
imported), the database read-only, and the database rules.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chainlint.config import Settings
from chainlint.database import DEFAULT_VERSION_TABLE, mask_url, read_database
from chainlint.discover import Environment, discover_environments
from chainlint.errors import DatabaseError, UsageError
from chainlint.graph import RevisionGraph
from chainlint.lint import (
    EnvironmentResult,
    GraphSummary,
    LintResult,
    check_graph,
    read_environment,
)
from chainlint.rules import RULES_BY_CODE
from chainlint.rules.common import quoted
from chainlint.rules.dbstate import DatabaseState
from chainlint.source import decode_source

URL_VARIABLES = ("CHAINLINT_DATABASE_URL", "DATABASE_URL")
DATABASE_CODES = tuple(code for code in RULES_BY_CODE if code.startswith("CL4"))


@dataclass(frozen=True, slots=True)
class DatabaseOptions:
    url: str | None = None
    require_head: bool = False
    version_table: str | None = None
    version_table_schema: str | None = None


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    url: str
    # Where it came from, for the status screen: "--url", "$DATABASE_URL", "alembic.ini".
    origin: str
    # The folder a relative SQLite path is taken from (the ini's folder), or None for the cwd.
    relative_to: Path | None = None


@dataclass(frozen=True, slots=True)
class DatabaseResult:
    lint: LintResult
    state: DatabaseState
    origin: str

    @property
    def errors(self) -> int:
        return len(self.lint.errors)


def check_database(
    path: Path,
    options: DatabaseOptions,
    settings: Settings | None = None,
    environ: Mapping[str, str] | None = None,
) -> DatabaseResult:
    settings = settings or Settings()
    environment = _one_environment(path)
    graph = RevisionGraph(environment, read_environment(environment, cache=settings.cache))
    source = database_url(environment, options.url, os.environ if environ is None else environ)
    table, schema = version_table_of(environment, options)
    live = read_database(
        source.url, table, schema, schemas=model_schemas(graph), relative_to=source.relative_to
    )
    state = DatabaseState(graph, live, options.require_head)
    if not live.has_version_table and not live.tables:
        raise DatabaseError(
            f"{live.url}: not initialised (no {table} table, no tables): run "
            f"`{state.upgrade_command}`"
        )
    if state.same_branch_rows:
        ancestor, descendant = state.same_branch_rows[0]
        raise DatabaseError(
            f"{live.url}: {table} holds both '{ancestor}' and '{descendant}', which are on one "
            f"branch ('{ancestor}' is an ancestor of '{descendant}'); Alembic fails with "
            f'"Requested revision {descendant} overlaps with other requested revisions '
            f"{ancestor}\". If '{descendant}' is applied, delete the ancestor's row: "
            f"{state.delete_statement(ancestor)}"
        )
    rules = settings.with_options(select=DATABASE_CODES)
    findings = sorted(
        check_graph(graph, rules, database=state),
        key=lambda f: (f.code, str(f.path), f.line, f.column),
    )
    summary = GraphSummary(len(graph.revisions), graph.heads, graph.bases)
    lint = LintResult((EnvironmentResult(environment, graph, summary),), findings)
    return DatabaseResult(lint, state, source.origin)


def model_schemas(graph: RevisionGraph) -> set[str]:
    """The schemas the migrations name (`schema=`), inspected besides the default one."""
    from chainlint.schema import schema_history

    history = schema_history(graph)
    if history.cyclic:
        return set()
    return {name.split(".", 1)[0] for name in history.at_heads().tables if "." in name}


def _one_environment(path: Path) -> Environment:
    environments = discover_environments([path])
    if len(environments) > 1:
        roots = quoted(str(e.root) for e in environments)
        raise UsageError(
            f"{path} holds {len(environments)} Alembic environments ({roots}); "
            "name the one the database belongs to"
        )
    return environments[0]


# -- the URL ----------------------------------------------------------------------------------


def database_url(
    environment: Environment, given: str | None, environ: Mapping[str, str]
) -> DatabaseUrl:
    if given:
        return DatabaseUrl(given, "--url")
    for name in URL_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            return DatabaseUrl(value, f"${name}")
    ini = _alembic_ini(environment)
    skipped = ""
    if ini is not None:
        raw = _ini_url(ini)
        if raw is not None:
            literal = literal_url(raw, ini.parent)
            if literal is not None:
                return DatabaseUrl(literal, str(ini.name), ini.parent.absolute())
            skipped = f" ({ini.name}'s sqlalchemy.url {mask_url(raw)!r} is not a literal URL)"
    raise UsageError(
        "no database URL: pass --url, or set CHAINLINT_DATABASE_URL or DATABASE_URL" + skipped
    )


def _alembic_ini(environment: Environment) -> Path | None:
    config = environment.config_path
    candidates = []
    if config is not None:
        candidates.append(config if config.suffix == ".ini" else config.parent / "alembic.ini")
    candidates.append(environment.root / "alembic.ini")
    return next((c for c in candidates if c.is_file()), None)


def _ini_url(ini: Path) -> str | None:
    parser = configparser.RawConfigParser()
    try:
        with ini.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, UnicodeDecodeError, configparser.Error):
        return None  # discovery has already reported a broken alembic.ini
    if not parser.has_option("alembic", "sqlalchemy.url"):
        return None
    return parser.get("alembic", "sqlalchemy.url").strip() or None


_OTHER_INTERPOLATION = re.compile(r"%\((?!here\)s)")


def literal_url(raw: str, here: Path) -> str | None:
    """The URL when it is written out in full: only Alembic's own `%(here)s` is substituted.
    Values built elsewhere (other `%(...)s` names, `${VAR}`, the `driver://` template that
    `alembic init` writes) are not URLs chainlint can use."""
    if _OTHER_INTERPOLATION.search(raw) or "${" in raw or raw.startswith("$"):
        return None
    if raw.startswith("driver://") or "://" not in raw:
        return None
    return raw.replace("%(here)s", here.absolute().as_posix()).replace("%%", "%")


# -- the version table ------------------------------------------------------------------------


def version_table_of(environment: Environment, options: DatabaseOptions) -> tuple[str, str | None]:
    """--version-table/--version-table-schema, else env.py's literal configure() arguments,
    else Alembic's default. A value env.py computes, or two calls that disagree, is a usage
    error naming the option that settles it — unless that option was given."""
    configured = configured_version_table(environment)
    given = {
        "version_table": options.version_table,
        "version_table_schema": options.version_table_schema,
    }
    chosen: dict[str, str | None] = {}
    for name, value in given.items():
        if value:
            chosen[name] = value
            continue
        found = configured.get(name)
        if isinstance(found, str) or found is None:
            chosen[name] = found
        else:
            raise UsageError(f"{found.where}: {found.why}; pass --{name.replace('_', '-')} NAME")
    return chosen["version_table"] or DEFAULT_VERSION_TABLE, chosen["version_table_schema"]


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A configure() argument chainlint cannot take from env.py's text."""

    where: str
    why: str


def _env_py(environment: Environment) -> Path | None:
    for candidate in (environment.root / "env.py", environment.root.parent / "env.py"):
        if candidate.is_file():
            return candidate
    return None


def configured_version_table(environment: Environment) -> dict[str, str | Unreadable]:
    """`version_table` and `version_table_schema` as env.py's `context.configure(...)` calls
    pass them, read with `ast` (env.py is never imported): a literal, a module-level string
    constant, or Unreadable."""
    env_py = _env_py(environment)
    if env_py is None:
        return {}
    try:
        text, _ = decode_source(env_py.read_bytes())
        module = ast.parse(text, str(env_py))
    except (OSError, SyntaxError, ValueError, LookupError, UnicodeDecodeError):
        return {}
    constants = _module_strings(module)
    found: dict[str, set[str]] = {}
    result: dict[str, str | Unreadable] = {}
    for node in ast.walk(module):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "configure"
        ):
            continue
        for keyword in node.keywords:
            name = keyword.arg
            if name not in ("version_table", "version_table_schema"):
                continue
            value = _string(keyword.value, constants)
            if value is not None:
                found.setdefault(name, set()).add(value)
            elif not (isinstance(keyword.value, ast.Constant) and keyword.value.value is None):
                where = f"{env_py}:{keyword.value.lineno}"
                result.setdefault(
                    name, Unreadable(where, f"{name} is not a literal chainlint can read")
                )
    for name, values in found.items():
        if name in result:
            continue
        if len(values) > 1:
            result[name] = Unreadable(
                str(env_py), f"configure() calls set {name} to {quoted(sorted(values))}"
            )
        else:
            result[name] = values.pop()
    return result


def _module_strings(module: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "literal"` assignments (assigned once)."""
    seen: dict[str, list[ast.expr]] = {}
    for stmt in module.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    seen.setdefault(target.id, []).append(stmt.value)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
            seen.setdefault(stmt.target.id, []).append(stmt.value)
    return {
        name: values[0].value
        for name, values in seen.items()
        if len(values) == 1
        and isinstance(values[0], ast.Constant)
        and isinstance(values[0].value, str)
    }


def _string(node: ast.expr, constants: Mapping[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None
