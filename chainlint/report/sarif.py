"""`--format sarif`: SARIF 2.1.0 for code scanning (GitHub, GitLab, Azure DevOps)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from chainlint import __version__
from chainlint.docs import rule_url
from chainlint.lint import LintResult
from chainlint.report import display_path, dump_json
from chainlint.rules import ALL_RULES

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
_LEVEL = {"error": "error", "warning": "warning"}


def render_sarif(result: LintResult, cwd: Path) -> str:
    rules = [
        {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.summary()},
            "fullDescription": {"text": rule.summary()},
            "helpUri": rule_url(rule),
            "help": {"text": rule.documentation(), "markdown": rule.documentation()},
            "defaultConfiguration": {"level": _LEVEL[rule.severity]},
            "properties": {"fixable": rule.fixable},
        }
        for rule in ALL_RULES
    ]
    index = {rule.code: i for i, rule in enumerate(ALL_RULES)}
    results: list[dict[str, Any]] = []
    for finding in result.findings:
        entry: dict[str, Any] = {
            "ruleId": finding.code,
            "ruleIndex": index[finding.code],
            "level": _LEVEL[finding.severity],
            "message": {"text": finding.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {
                            "uri": _uri(display_path(finding.path, cwd)),
                            "uriBaseId": "%SRCROOT%",
                        },
                        "region": {"startLine": finding.line, "startColumn": finding.column},
                    }
                }
            ],
        }
        if finding.revision is not None:
            entry["properties"] = {"revision": finding.revision}
        results.append(entry)
    document = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "chainlint",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/chainlint/",
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": cwd.resolve().as_uri() + "/"}},
                "results": results,
            }
        ],
    }
    return dump_json(document, ensure_ascii=True)


def _uri(path: str) -> str:
    """A relative path as a URI reference: percent-encoded, a non-UTF-8 file name by its bytes."""
    return quote(path.encode("utf-8", "surrogateescape" if _escaped(path) else "surrogatepass"))


def _escaped(path: str) -> bool:
    return all(0xDC80 <= ord(c) <= 0xDCFF for c in path if 0xD800 <= ord(c) <= 0xDFFF)
