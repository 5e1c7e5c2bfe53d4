"""What flows from rules to reporters: findings and the fixes they carry."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from chainlint.records import record

if TYPE_CHECKING:
    from chainlint.edits import Edit

Severity = Literal["error", "warning"]


@record
class Fix:
    """A repair a finding offers; `applicable` is False when the fixer would have to guess."""

    description: str
    applicable: bool = True
    edits: tuple[Edit, ...] = ()


@record
class Finding:
    code: str
    name: str
    severity: Severity
    message: str
    path: Path
    line: int
    column: int
    revision: str | None = None
    fix: Fix | None = None
    # The environment this finding belongs to (its root folder).
    environment: Path | None = None

    @property
    def fixable(self) -> bool:
        return self.fix is not None and self.fix.applicable
