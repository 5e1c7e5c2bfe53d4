"""Every rule's own valid and invalid examples, run through the real pipeline (Fixit-style)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainlint.config import Settings
from chainlint.rules import ALL_RULES
from chainlint.rules.base import Example, Rule
from helpers import findings_of, write_tree


def _cases(kind: str) -> list[tuple[type[Rule], Example]]:
    return [(rule, example) for rule in ALL_RULES for example in getattr(rule, kind)]


def _id(case: tuple[type[Rule], Example]) -> str:
    rule, example = case
    return f"{rule.code}-{example.description or 'example'}"


def _run(tmp_path: Path, rule: type[Rule], example: Example) -> list[tuple[str, int, str]]:
    versions = write_tree(tmp_path / "versions", example.files)
    settings = Settings(
        select=(rule.code,), max_revision_length=example.settings.max_revision_length
    )
    return [
        (f.path.relative_to(tmp_path).as_posix(), f.line, f.message)
        for f in findings_of(versions, settings, example.base)
        if f.code == rule.code
    ]


@pytest.mark.parametrize(("rule", "example"), _cases("valid"), ids=map(_id, _cases("valid")))
def test_valid_example_gives_no_finding(tmp_path: Path, rule: type[Rule], example: Example) -> None:
    assert _run(tmp_path, rule, example) == []


@pytest.mark.parametrize(("rule", "example"), _cases("invalid"), ids=map(_id, _cases("invalid")))
def test_invalid_example_gives_its_findings(
    tmp_path: Path, rule: type[Rule], example: Example
) -> None:
    got = _run(tmp_path, rule, example)
    assert len(got) == len(example.expect), got
    for (path, line, message), expected in zip(got, example.expect, strict=True):
        assert (path, line) == (expected.path, expected.line), message
        assert expected.message in message


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_every_rule_has_examples_and_a_four_part_page(rule: type[Rule]) -> None:
    assert rule.valid and rule.invalid
    doc = rule.documentation()
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Fix"):
        assert heading in doc, f"{rule.code} lacks {heading!r}"


def test_codes_and_names_are_unique() -> None:
    assert len({r.code for r in ALL_RULES}) == len(ALL_RULES)
    assert len({r.name for r in ALL_RULES}) == len(ALL_RULES)
