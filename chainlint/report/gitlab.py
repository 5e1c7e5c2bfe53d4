"""`--format gitlab`: a GitLab Code Quality report (merge-request widget)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from chainlint.lint import LintResult
from chainlint.report import display_path

_SEVERITY = {"error": "major", "warning": "minor"}


def render_gitlab(result: LintResult, cwd: Path) -> str:
    issues = []
    for finding in result.findings:
        path = display_path(finding.path, cwd)
        # Stable across edits that only move lines: no line numbers in the fingerprint.
        identity = "\0".join([finding.code, path, finding.revision or "", finding.message])
        issues.append(
            {
                "type": "issue",
                "check_name": finding.code,
                "description": f"{finding.code} {finding.message}",
                "categories": ["Bug Risk"],
                "severity": _SEVERITY[finding.severity],
                "fingerprint": hashlib.sha256(identity.encode("utf-8")).hexdigest(),
                "location": {"path": path, "lines": {"begin": finding.line}},
            }
        )
    return json.dumps(issues, indent=2) + "\n"
