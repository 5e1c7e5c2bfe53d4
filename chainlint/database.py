"""A database URL -> LiveDatabase: the version table's rows and the real schema, read-only.

SQLAlchemy (the optional `db` extra) reads through its inspector; nothing is ever written.
SQLite files are opened with `mode=ro` (a missing file is an error, never created) and with
`PRAGMA query_only`; PostgreSQL sessions run in a READ ONLY transaction with a statement
timeout, after a bounded connect timeout. The password never appears in anything this module
returns or raises.
"""

from __future__ import annotations

import importlib.util
import re
import sqlite3
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainlint.errors import DatabaseError

DEFAULT_VERSION_TABLE = "alembic_version"
CONNECT_TIMEOUT_SECONDS = 10
STATEMENT_TIMEOUT_MS = 30_000
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
# Databases that reject a value longer than VARCHAR(n); SQLite stores it anyway.
ENFORCES_LENGTH = frozenset({"postgresql", "mysql", "mariadb", "mssql", "oracle"})

_ASYNC_DRIVERS = frozenset({"asyncpg", "psycopg_async", "aiosqlite"})
_SECRET_IN_URL = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)[^@\s]*@")


@dataclass(frozen=True, slots=True)
class LiveColumn:
    name: str
    # As the database's dialect spells it ("VARCHAR(50)", "TEXT", "BOOLEAN").
    type: str
    nullable: bool


@dataclass(frozen=True, slots=True)
class LiveIndex:
    name: str | None
    columns: tuple[str, ...]
    unique: bool


@dataclass(frozen=True, slots=True)
class LiveUnique:
    name: str | None
    columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LiveTable:
    # "table" in the default schema, "schema.table" elsewhere (as the schema model names them).
    name: str
    columns: Mapping[str, LiveColumn]
    indexes: Mapping[str, LiveIndex]
    uniques: tuple[LiveUnique, ...]


@dataclass(frozen=True, slots=True)
class LiveDatabase:
    """What chainlint read from one database."""

    # The URL with its password masked: safe to print.
    url: str
    dialect: str
    version_table: str
    version_table_schema: str | None
    has_version_table: bool
    # The version table's rows, in the order the database returned them.
    versions: tuple[str, ...]
    # Declared length of version_num (32 for Alembic's own table); None when unbounded.
    version_num_length: int | None
    # Whether the database rejects a value longer than a VARCHAR's declared length.
    enforces_length: bool
    # Every table of the inspected schemas except the version table.
    tables: Mapping[str, LiveTable]
    # The schema bare table names live in ("public"; "main" for SQLite).
    default_schema: str | None = None

    @property
    def version_table_name(self) -> str:
        """The version table as SQL names it: `alembic_version`, `meta.alembic_version`."""
        name = _quote_identifier(self.version_table)
        if self.version_table_schema:
            return f"{_quote_identifier(self.version_table_schema)}.{name}"
        return name


def mask_url(url: str) -> str:
    """The URL with any password replaced by `***`, without needing SQLAlchemy to parse it."""
    return _SECRET_IN_URL.sub(lambda m: m.group("head") + "***@", url)


def read_database(
    url: str,
    version_table: str = DEFAULT_VERSION_TABLE,
    version_table_schema: str | None = None,
    schemas: Iterable[str] = (),
    relative_to: Path | None = None,
) -> LiveDatabase:
    """Read the version table and the schema of the database at `url`, writing nothing.

    `schemas` are extra schemas to inspect besides the default one; `relative_to` is the folder a
    relative SQLite path is taken from (the cwd when None). Every failure is a DatabaseError
    whose message names the URL with its password masked."""
    sa = _sqlalchemy()
    parsed, shown = _parse(sa, url)
    secrets = _secrets(parsed.password)
    try:
        engine = _engine(sa, parsed, shown, relative_to)
        try:
            with engine.connect() as connection:
                _begin_read_only(connection, parsed.get_backend_name())
                try:
                    return _inspect(
                        sa, connection, shown, version_table, version_table_schema, schemas
                    )
                finally:
                    connection.rollback()
        finally:
            engine.dispose()
    except DatabaseError as exc:
        raise DatabaseError(_scrub(str(exc), secrets)) from None
    except ImportError as exc:
        raise DatabaseError(_missing_driver(parsed, shown, exc)) from None
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"{shown}: {_scrub(_driver_message(exc), secrets)}") from None
    except (OSError, sqlite3.Error) as exc:
        raise DatabaseError(f"{shown}: {_scrub(_first_line(exc), secrets)}") from None


# -- connecting -------------------------------------------------------------------------------


def _sqlalchemy() -> Any:
    try:
        import sqlalchemy
    except ImportError:
        raise DatabaseError(
            "reading a database needs SQLAlchemy: pip install 'chainlint[db]' "
            "(or 'chainlint[postgresql]' for PostgreSQL)"
        ) from None
    return sqlalchemy


def _parse(sa: Any, url: str) -> tuple[Any, str]:
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError, TypeError):
        raise DatabaseError(f"not a database URL: {mask_url(url)!r}") from None
    if parsed.drivername.split("+")[0] == "postgres":
        # Heroku-style `postgres://`, which SQLAlchemy 1.4+ no longer accepts.
        parsed = parsed.set(drivername="postgresql" + parsed.drivername[len("postgres") :])
    shown = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise DatabaseError(
            f"{shown}: chainlint db reads SQLite and PostgreSQL databases, not {backend!r}"
        )
    if parsed.drivername == "postgresql" and not _installed("psycopg2") and _installed("psycopg"):
        # SQLAlchemy's default PostgreSQL driver is psycopg2; `chainlint[postgresql]` ships
        # psycopg 3.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if "+" in parsed.drivername and parsed.drivername.split("+", 1)[1] in _ASYNC_DRIVERS:
        raise DatabaseError(
            f"{shown}: {parsed.drivername} is an asyncio driver; use postgresql+psycopg:// "
            "(pip install 'chainlint[postgresql]') or sqlite://"
        )
    return parsed, shown


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _engine(sa: Any, parsed: Any, shown: str, relative_to: Path | None) -> Any:
    from sqlalchemy.pool import NullPool

    if parsed.get_backend_name() == "sqlite":
        uri = _sqlite_read_only_uri(parsed, shown, relative_to)

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, timeout=CONNECT_TIMEOUT_SECONDS)

        return sa.create_engine("sqlite://", creator=connect, poolclass=NullPool)
    driver = parsed.get_driver_name()
    connect_args: dict[str, Any] = {}
    if driver in ("psycopg", "psycopg2", "psycopg2cffi"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    elif driver == "pg8000":
        connect_args["timeout"] = CONNECT_TIMEOUT_SECONDS
    return sa.create_engine(parsed, connect_args=connect_args, poolclass=NullPool)


def _sqlite_read_only_uri(parsed: Any, shown: str, relative_to: Path | None) -> str:
    """A `file:` URI that opens the database read-only; the file must exist."""
    database = parsed.database or ""
    query = {k: v for k, v in parsed.query.items() if k not in ("uri", "mode")}
    if parsed.query.get("uri") == "true" and database.startswith("file:"):
        # sqlite:///file:path?mode=...&uri=true: the database part is itself a URI.
        database = urllib.parse.unquote(database[len("file:") :].split("?", 1)[0])
    if database in ("", ":memory:"):
        raise DatabaseError(f"{shown}: an in-memory SQLite database is always empty; name a file")
    path = Path(database)
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    if not path.is_file():
        raise DatabaseError(f"{shown}: no such database file {path} (chainlint never creates one)")
    params = [("mode", "ro")]
    params += [(k, v) for k, v in query.items() if isinstance(v, str) and k in ("vfs", "cache")]
    return (
        "file:"
        + urllib.request.pathname2url(str(path.absolute()))
        + "?"
        + urllib.parse.urlencode(params)
    )


def _begin_read_only(connection: Any, backend: str) -> None:
    """Make the session unable to write before anything else runs in it."""
    if backend == "sqlite":
        connection.exec_driver_sql("PRAGMA query_only = ON")
        return
    # The first statement of the transaction, so it applies to every statement after it.
    connection.exec_driver_sql("SET TRANSACTION READ ONLY")
    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
    if connection.exec_driver_sql("SHOW transaction_read_only").scalar() != "on":
        raise DatabaseError("the session could not be made read-only; nothing was read")


# -- reading ----------------------------------------------------------------------------------


def _inspect(
    sa: Any,
    connection: Any,
    shown: str,
    version_table: str,
    version_table_schema: str | None,
    schemas: Iterable[str],
) -> LiveDatabase:
    inspector = sa.inspect(connection)
    dialect = connection.dialect
    has_version_table = bool(inspector.has_table(version_table, schema=version_table_schema))
    versions: tuple[str, ...] = ()
    length: int | None = None
    if has_version_table:
        columns = {
            c["name"]: c for c in inspector.get_columns(version_table, schema=version_table_schema)
        }
        if "version_num" not in columns:
            qualified = f"{version_table_schema}.{version_table}" if version_table_schema else ""
            raise DatabaseError(
                f"{shown}: table {qualified or version_table} has no version_num column; "
                "is it Alembic's version table? (see --version-table)"
            )
        length = getattr(columns["version_num"]["type"], "length", None)
        table = sa.table(version_table, sa.column("version_num"), schema=version_table_schema)
        rows = connection.execute(sa.select(table.c.version_num)).scalars().all()
        versions = tuple(str(row) for row in rows if row is not None)
    default_schema = inspector.default_schema_name
    wanted: list[str | None] = [None]
    existing = set(inspector.get_schema_names())
    wanted += sorted({s for s in schemas if s and s != default_schema and s in existing})
    tables: dict[str, LiveTable] = {}
    for schema in wanted:
        names = [
            name
            for name in inspector.get_table_names(schema=schema)
            if not _is_version_table(
                name, schema, default_schema, version_table, version_table_schema
            )
        ]
        if not names:
            continue
        columns_of = inspector.get_multi_columns(schema=schema, filter_names=names)
        indexes_of = inspector.get_multi_indexes(schema=schema, filter_names=names)
        uniques_of = inspector.get_multi_unique_constraints(schema=schema, filter_names=names)
        for name in names:
            key = (schema, name)
            qualified = f"{schema}.{name}" if schema else name
            tables[qualified] = LiveTable(
                name=qualified,
                columns={
                    c["name"]: LiveColumn(
                        c["name"], _type_name(c["type"], dialect), bool(c.get("nullable", True))
                    )
                    for c in columns_of.get(key, [])
                },
                indexes={
                    i["name"]: LiveIndex(
                        i["name"],
                        tuple(str(c) for c in i.get("column_names", ()) if c is not None),
                        bool(i.get("unique", False)),
                    )
                    for i in indexes_of.get(key, [])
                    # An index that backs a unique constraint is the constraint, listed below.
                    if i.get("name") and "duplicates_constraint" not in i
                },
                uniques=tuple(
                    LiveUnique(u.get("name"), tuple(u.get("column_names", ())))
                    for u in uniques_of.get(key, [])
                ),
            )
    backend = connection.dialect.name
    return LiveDatabase(
        url=shown,
        dialect=backend,
        version_table=version_table,
        version_table_schema=version_table_schema,
        has_version_table=has_version_table,
        versions=versions,
        version_num_length=length if isinstance(length, int) else None,
        enforces_length=backend in ENFORCES_LENGTH,
        tables=tables,
        default_schema=default_schema,
    )


def _is_version_table(
    name: str,
    schema: str | None,
    default_schema: str | None,
    version_table: str,
    version_table_schema: str | None,
) -> bool:
    same_schema = (schema or default_schema) == (version_table_schema or default_schema)
    return name == version_table and same_schema


def _type_name(type_: Any, dialect: Any) -> str:
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:  # NullType and dialect-specific types without a compiler
        return type(type_).__name__


# -- messages ---------------------------------------------------------------------------------


def _secrets(password: str | None) -> tuple[str, ...]:
    if not password:
        return ()
    forms = {password, urllib.parse.quote(password, safe=""), urllib.parse.quote_plus(password)}
    return tuple(sorted(forms, key=len, reverse=True))


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return mask_url(text)


def _driver_message(exc: Exception) -> str:
    """The driver's own first line ("password authentication failed for user ..."), without
    SQLAlchemy's wrapping and its link."""
    original = getattr(exc, "orig", None)
    message = _first_line(original if original is not None else exc)
    return re.sub(r"^\([\w.]+\)\s*", "", message)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _missing_driver(parsed: Any, shown: str, exc: ImportError) -> str:
    module = exc.name or _first_line(exc)
    suggestion = (
        "pip install 'chainlint[postgresql]' and use a postgresql+psycopg:// URL"
        if parsed.get_backend_name() == "postgresql"
        else f"install {module}"
    )
    return (
        f"{shown}: the {parsed.drivername} driver is not installed "
        f"(no module named {module!r}): {suggestion}"
    )


def _quote_identifier(name: str) -> str:
    """A name as SQL writes it: bare when it is a plain lower-case identifier."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'
