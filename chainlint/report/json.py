"""`--format json`: the stable, versioned schema of SPEC section 4."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chainlint.findings import Finding
from chainlint.lint import LintResult
from chainlint.report import display_path, dump_json

SCHEMA_VERSION = 1


def finding_dict(finding: Finding, cwd: Path) -> dict[str, Any]:
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity,
        "message": finding.message,
        "path": display_path(finding.path, cwd),
        "line": finding.line,
        "column": finding.column,
        "revision": finding.revision,
        "fix": (
            {"description": finding.fix.description, "applicable": finding.fix.applicable}
            if finding.fix
            else None
        ),
    }


def render_json(result: LintResult, cwd: Path) -> str:
    document = {
        "version": SCHEMA_VERSION,
        "environments": [
            {
                "path": display_path(env.environment.root, cwd),
                "revisions": env.summary.revisions,
                "heads": list(env.summary.heads),
                "bases": list(env.summary.bases),
            }
            for env in result.environments
        ],
        "findings": [finding_dict(f, cwd) for f in result.findings],
    }
    return dump_json(document)
