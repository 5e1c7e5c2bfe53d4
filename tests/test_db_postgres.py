"""`chainlint db` against a real PostgreSQL server (the session's throwaway cluster).

Alembic builds and damages each database as the superuser; chainlint connects as
`chainlint_reader`, which can only read, so a write would fail the test. Skipped, with the
reason, where PostgreSQL is not installed; CHAINLINT_REQUIRE_POSTGRES=1 (.ci/run) makes that a
failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainlint.database import read_database
from db_helpers import HISTORY, Project, alembic_project, migration_with
from helpers import run_cli
from postgres_server import READER_PASSWORD, PostgresServer

Capsys = pytest.CaptureFixture[str]
SECRETS = ("S3cr3t", READER_PASSWORD)
LONG_ID = "add_conditional_execution_columns_to_steps"  # 42 characters


@pytest.fixture
def database(postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(tmp_path)
    return postgres.create_database()


def project_on(
    postgres: PostgresServer, database: str, root: Path, files: dict[str, str]
) -> Project:
    return alembic_project(root, files, postgres.admin_url(database))


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_the_reader_role_cannot_write(postgres: PostgresServer, database: str) -> None:
    import psycopg

    with (
        psycopg.connect(
            host="127.0.0.1",
            port=postgres.port,
            user="chainlint_reader",
            password=READER_PASSWORD,
            dbname=database,
        ) as connection,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        connection.execute("CREATE TABLE t (id int)")


def test_a_database_at_head_in_every_format(
    postgres: PostgresServer, database: str, tmp_path: Path, capsys: Capsys
) -> None:
    project = project_on(postgres, database, tmp_path, HISTORY)
    project.alembic("upgrade", "head")
    url = postgres.reader_url(database)
    code, out, err = run_cli(["db", str(project.root), "--url", url], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        f"Database: postgresql://chainlint_reader:***@127.0.0.1:{postgres.port}/{database} "
        "(from --url)"
    )
    assert "  revision: c3 (head)" in out and "All checks passed" in out
    for output_format in ("json", "sarif", "github", "gitlab"):
        code, formatted, err = run_cli(
            ["db", str(project.root), "--url", url, "--format", output_format], capsys
        )
        assert code == 0, err
        assert_no_secret(formatted, err)
    assert_no_secret(out)


def test_the_schema_is_read_with_types_nullability_and_indexes(
    postgres: PostgresServer, database: str, tmp_path: Path
) -> None:
    project = project_on(postgres, database, tmp_path, HISTORY)
    project.alembic("upgrade", "head")
    postgres.sql(database, "ALTER TABLE workflow_runs ADD CONSTRAINT uq_name UNIQUE (name)")
    live = read_database(postgres.reader_url(database))
    assert (live.dialect, live.versions, live.version_num_length) == ("postgresql", ("c3",), 32)
    assert live.enforces_length and set(live.tables) == {"workflow_runs", "step_executions"}
    steps = live.tables["step_executions"]
    assert {c.name: (c.type, c.nullable) for c in steps.columns.values()} == {
        "id": ("INTEGER", False),
        "run_id": ("INTEGER", False),
        "status": ("VARCHAR(20)", True),
        "condition_expression": ("TEXT", True),
    }
    assert steps.indexes["ix_step_executions_run_id"].columns == ("run_id",)
    assert [u.columns for u in live.tables["workflow_runs"].uniques] == [("name",)]


def test_the_session_is_read_only_even_for_a_superuser(
    postgres: PostgresServer, database: str
) -> None:
    """Belt and braces: chainlint's own session refuses writes whoever connects."""
    import sqlalchemy as sa

    from chainlint import database as module

    parsed, shown = module._parse(sa, postgres.admin_url(database))
    engine = module._engine(sa, parsed, shown, None)
    with engine.connect() as connection:
        module._begin_read_only(connection, "postgresql")
        assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "30s"
        with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
            connection.exec_driver_sql("CREATE TABLE t (id int)")
    engine.dispose()


def test_a_too_narrow_version_column_is_found_and_the_printed_repair_works(
    postgres: PostgresServer, database: str, tmp_path: Path, capsys: Capsys
) -> None:
    files = {
        "001_runs.py": HISTORY["a1_create_runs.py"].replace("'a1'", "'001'"),
        "002_long.py": migration_with(
            LONG_ID,
            "001",
            'op.add_column("workflow_runs", sa.Column("branch_taken", sa.String(50)))',
            'op.drop_column("workflow_runs", "branch_taken")',
        ),
    }
    project = project_on(postgres, database, tmp_path, files)
    project.alembic("upgrade", "001")
    url = postgres.reader_url(database)
    code, out, _ = run_cli(["db", str(project.root), "--url", url], capsys)
    assert code == 1
    finding = next(line for line in out.splitlines() if " CL405 " in line)
    assert finding.startswith("migrations/versions/002_long.py:12:12 CL405 ")
    assert "is 42 characters but alembic_version.version_num is VARCHAR(32)" in finding
    statement = "ALTER TABLE alembic_version ALTER COLUMN version_num TYPE VARCHAR(64);"
    assert f"Repair: {statement} or shorten the id" in finding
    # What CL405 predicts, from Alembic itself:
    with pytest.raises(Exception, match="value too long for type character varying"):
        project.alembic("upgrade", "head")
    postgres.sql(database, statement)  # the printed repair, run by the owner
    code, out, _ = run_cli(["db", str(project.root), "--url", url], capsys)
    assert code == 0 and "CL405" not in out and "CL402" in out
    project.alembic("upgrade", "head")
    code, out, _ = run_cli(["db", str(project.root), "--url", url], capsys)
    assert code == 0 and "All checks passed" in out


def test_create_all_without_stamp_on_postgresql(
    postgres: PostgresServer, database: str, tmp_path: Path, capsys: Capsys
) -> None:
    project = project_on(postgres, database, tmp_path, HISTORY)
    postgres.sql(database, "CREATE TABLE workflow_runs (id serial PRIMARY KEY, name text)")
    code, out, _ = run_cli(
        ["db", str(project.root), "--url", postgres.reader_url(database)], capsys
    )
    assert code == 1 and "CL404 the database has 1 table ('workflow_runs')" in out


def test_a_version_table_in_another_schema(
    postgres: PostgresServer, database: str, tmp_path: Path, capsys: Capsys
) -> None:
    configure = ', version_table="orchestrator_version", version_table_schema="meta"'
    project = alembic_project(tmp_path, HISTORY, postgres.admin_url(database), None, configure)
    postgres.sql(database, "CREATE SCHEMA meta")
    project.alembic("upgrade", "b2")
    code, out, _ = run_cli(
        ["db", str(project.root), "--url", postgres.reader_url(database), "--format", "json"],
        capsys,
    )
    document = json.loads(out)
    assert code == 0
    assert document["database"]["version_table"] == "meta.orchestrator_version"
    assert document["database"]["revisions"] == ["b2"]
    assert [f["code"] for f in document["findings"]] == ["CL402"]


def test_a_wrong_password_is_one_line_without_it(
    postgres: PostgresServer, database: str, tmp_path: Path, capsys: Capsys
) -> None:
    project = project_on(postgres, database, tmp_path, HISTORY)
    url = postgres.reader_url(database, password="Wrong-S3cr3t")
    code, out, err = run_cli(["db", str(project.root), "--url", url], capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"chainlint: postgresql://chainlint_reader:***@127.0.0.1:{postgres.port}/{database}: "
        f'connection failed: connection to server at "127.0.0.1", port {postgres.port} failed: '
        'FATAL:  password authentication failed for user "chainlint_reader"\n'
    )
    assert_no_secret(err)


def test_drift_and_already_applied_on_postgresql(
    postgres: PostgresServer, database: str, tmp_path: Path, capsys: Capsys
) -> None:
    project = project_on(postgres, database, tmp_path, HISTORY)
    project.alembic("upgrade", "b2")
    postgres.sql(
        database,
        "ALTER TABLE workflow_runs ADD COLUMN priority integer",  # by hand: drift
        "ALTER TABLE step_executions ADD COLUMN condition_expression text",  # c3's, by hand
    )
    code, out, _ = run_cli(
        ["db", str(project.root), "--url", postgres.reader_url(database)], capsys
    )
    assert code == 1
    codes = [line.split()[1] for line in out.splitlines() if " CL4" in line]
    assert codes == ["CL403", "CL406"]
    assert "Run: `alembic stamp c3`" in out
    assert "column workflow_runs.priority exists in the database" in out
    assert "condition_expression exists in the database" not in out  # CL403's, not drift
