"""The seed scenario end to end, on SQLite and on PostgreSQL, with real Alembic as the oracle.

The guide's orchestrator database: its tables were made by the application, it was migrated to
`001`, then someone added the three `step_executions` columns by hand. `alembic upgrade head`
fails with "already exists"; `chainlint db` says CL403 and prints `alembic stamp
002_conditional`; after running exactly that, chainlint reports nothing and `alembic upgrade
head` succeeds."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from db_helpers import Project, unchanged
from helpers import run_cli
from postgres_server import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "fixtures" / "seed-database" / "api"

APP_TABLES = (
    "CREATE TABLE workflow_runs (id INTEGER PRIMARY KEY, name VARCHAR(100))",
    "CREATE TABLE step_executions (id INTEGER PRIMARY KEY, run_id INTEGER)",
)
BY_HAND = (
    "ALTER TABLE step_executions ADD COLUMN condition_expression TEXT",
    "ALTER TABLE step_executions ADD COLUMN condition_result BOOLEAN",
    "ALTER TABLE step_executions ADD COLUMN branch_taken VARCHAR(50)",
)
EXPECTED = (
    "migrations/versions/002_add_conditional_execution_columns.py:15:17 CL403 "
    "'002_conditional' is pending, but everything its upgrade creates already exists: column "
    "step_executions.condition_expression, column step_executions.condition_result and column "
    'step_executions.branch_taken. `alembic upgrade` fails with "already exists". Run: '
    "`alembic stamp 002_conditional`"
)


def seed_copy(tmp_path: Path, admin_url: str) -> Project:
    shutil.copytree(SEED, tmp_path / "api")
    return Project(tmp_path / "api", admin_url)


def scenario(
    project: Project, run_sql: Callable[..., None], chainlint: Callable[[], tuple[int, str]]
) -> None:
    run_sql(*APP_TABLES)
    project.alembic("upgrade", "001")
    run_sql(*BY_HAND)
    with pytest.raises(Exception, match=r"already exists|duplicate column"):
        project.alembic("upgrade", "head")  # the guide's symptom
    code, out = chainlint()
    assert code == 1
    findings = [line for line in out.splitlines() if " CL4" in line]
    assert findings == [EXPECTED]
    project.alembic("stamp", "002_conditional")  # the printed repair, run by real Alembic
    code, out = chainlint()
    assert code == 0
    assert "  revision: 002_conditional (head)" in out
    assert out.splitlines()[-1] == "All checks passed (2 revisions in 1 environment)."
    project.alembic("upgrade", "head")
    assert "002_conditional (head)" in project.alembic("current")


def test_the_seed_on_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CHAINLINT_DATABASE_URL", raising=False)
    path = tmp_path / "api" / "orchestrator.db"
    project = seed_copy(tmp_path, f"sqlite:///{path}")
    monkeypatch.chdir(project.root)

    def run_sql(*statements: str) -> None:
        with sqlite3.connect(path) as connection:
            for statement in statements:
                connection.execute(statement)
        connection.close()

    def chainlint() -> tuple[int, str]:
        # alembic.ini's literal sqlalchemy.url (with %(here)s) names the database.
        with unchanged(path):
            code, out, err = run_cli(["db"], capsys)
        assert err == ""
        return code, out

    scenario(project, run_sql, chainlint)


def test_the_seed_on_postgresql(
    postgres: PostgresServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    name = postgres.create_database()
    project = seed_copy(tmp_path, postgres.admin_url(name))
    monkeypatch.chdir(project.root)
    # As the guide's own deployment does: the URL comes from the environment.
    monkeypatch.setenv("DATABASE_URL", postgres.reader_url(name))

    def run_sql(*statements: str) -> None:
        postgres.sql(name, *statements)

    def chainlint() -> tuple[int, str]:
        code, out, err = run_cli(["db"], capsys)
        assert err == ""
        assert "(from $DATABASE_URL)" in out
        return code, out

    scenario(project, run_sql, chainlint)
