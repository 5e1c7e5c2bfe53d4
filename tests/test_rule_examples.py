"""Every rule's own valid and invalid examples, run through the real pipeline (Fixit-style)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainlint.config import Settings
from chainlint.rules import ALL_RULES
from chainlint.rules.base import Example, Rule
from db_helpers import database_findings, example_database_url, unchanged
from helpers import findings_of, graph_of, write_tree


def _cases(kind: str) -> list[tuple[type[Rule], Example]]:
    return [(rule, example) for rule in ALL_RULES for example in getattr(rule, kind)]


def _id(case: tuple[type[Rule], Example]) -> str:
    rule, example = case
    return f"{rule.code}-{example.description or 'example'}"


def _run(
    tmp_path: Path, rule: type[Rule], example: Example, request: pytest.FixtureRequest
) -> list[tuple[str, int, str, str]]:
    versions = write_tree(tmp_path / "versions", example.files)
    settings = Settings(
        select=(rule.code,), max_revision_length=example.settings.max_revision_length
    )
    if example.database is None:
        findings = findings_of(versions, settings, example.base)
    else:
        # A database rule's example: the SQL runs on a fresh database, then chainlint reads it.
        url, sqlite_path = example_database_url(tmp_path, example.database, request)
        graph = graph_of(versions)
        if sqlite_path is None:  # PostgreSQL: chainlint connects as a read-only role
            findings = database_findings(graph, url, settings, example.database.require_head)
        else:
            with unchanged(sqlite_path):
                findings = database_findings(graph, url, settings, example.database.require_head)
    return [
        (f.path.relative_to(tmp_path).as_posix(), f.line, f.message, f.severity)
        for f in findings
        if f.code == rule.code
    ]


@pytest.mark.parametrize(("rule", "example"), _cases("valid"), ids=map(_id, _cases("valid")))
def test_valid_example_gives_no_finding(
    tmp_path: Path, rule: type[Rule], example: Example, request: pytest.FixtureRequest
) -> None:
    assert _run(tmp_path, rule, example, request) == []


@pytest.mark.parametrize(("rule", "example"), _cases("invalid"), ids=map(_id, _cases("invalid")))
def test_invalid_example_gives_its_findings(
    tmp_path: Path, rule: type[Rule], example: Example, request: pytest.FixtureRequest
) -> None:
    got = _run(tmp_path, rule, example, request)
    assert len(got) == len(example.expect), got
    for (path, line, message, severity), expected in zip(got, example.expect, strict=True):
        assert (path, line) == (expected.path, expected.line), message
        assert expected.message in message
        assert severity == (
            "error" if example.database and example.database.require_head else rule.severity
        )


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_every_rule_has_examples_and_a_four_part_page(rule: type[Rule]) -> None:
    assert rule.valid and rule.invalid
    doc = rule.documentation()
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Fix"):
        assert heading in doc, f"{rule.code} lacks {heading!r}"


@pytest.mark.parametrize(
    "rule", [r for r in ALL_RULES if r.code.startswith("CL4")], ids=lambda r: r.code
)
def test_database_rule_examples_carry_a_database(rule: type[Rule]) -> None:
    assert all(example.database is not None for example in (*rule.valid, *rule.invalid))


def test_codes_and_names_are_unique() -> None:
    assert len({r.code for r in ALL_RULES}) == len(ALL_RULES)
    assert len({r.name for r in ALL_RULES}) == len(ALL_RULES)
