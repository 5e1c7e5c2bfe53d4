"""`--format gitlab`: a GitLab Code Quality report (merge-request widget)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from chainlint.lint import LintResult
from chainlint.report import display_path, dump_json

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
                "fingerprint": hashlib.sha256(
                    identity.encode("utf-8", "surrogatepass")
                ).hexdigest(),
                "location": {"path": path, "lines": {"begin": finding.line}},
            }
        )
    return dump_json(issues, ensure_ascii=True)
