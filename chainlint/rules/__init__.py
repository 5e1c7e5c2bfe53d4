"""The rule registry: every rule, by code."""

from __future__ import annotations

from chainlint.config import Settings
from chainlint.errors import UsageError
from chainlint.rules.base import Rule
from chainlint.rules.cl001_unknown_down_revision import UnknownDownRevision
from chainlint.rules.cl002_unknown_dependency import UnknownDependency
from chainlint.rules.cl003_duplicate_revision import DuplicateRevision
from chainlint.rules.cl004_revision_cycle import RevisionCycle
from chainlint.rules.cl005_illegal_revision_id import IllegalRevisionId
from chainlint.rules.cl006_revision_id_too_long import RevisionIdTooLong
from chainlint.rules.cl007_missing_revision import MissingRevision
from chainlint.rules.cl008_dynamic_revision import DynamicRevision
from chainlint.rules.cl009_unreadable_file import UnreadableFile
from chainlint.rules.cl010_multiple_heads import MultipleHeads
from chainlint.rules.cl011_orphan_base import OrphanBase
from chainlint.rules.cl012_branch_label_conflict import BranchLabelConflict
from chainlint.rules.cl013_suspicious_branch_label import SuspiciousBranchLabel
from chainlint.rules.cl101_header_mismatch import HeaderMismatch
from chainlint.rules.cl102_redundant_merge_parent import RedundantMergeParent
from chainlint.rules.cl103_filename_mismatch import FilenameMismatch
from chainlint.rules.cl104_placeholder_revision_id import PlaceholderRevisionId
from chainlint.rules.cl201_heads_after_merge import HeadsAfterMerge
from chainlint.rules.cl202_edited_applied_migration import EditedAppliedMigration
from chainlint.rules.cl203_removed_applied_migration import RemovedAppliedMigration
from chainlint.rules.cl301_object_already_exists import ObjectAlreadyExists
from chainlint.rules.cl302_object_does_not_exist import ObjectDoesNotExist
from chainlint.rules.cl303_downgrade_does_not_revert import DowngradeDoesNotRevert
from chainlint.rules.cl304_missing_downgrade import MissingDowngrade
from chainlint.rules.cl305_not_null_column_without_default import NotNullColumnWithoutDefault
from chainlint.rules.cl401_unknown_database_revision import UnknownDatabaseRevision
from chainlint.rules.cl402_database_behind import DatabaseBehind
from chainlint.rules.cl403_already_applied import AlreadyApplied
from chainlint.rules.cl404_unstamped_database import UnstampedDatabase
from chainlint.rules.cl405_version_column_too_narrow import VersionColumnTooNarrow
from chainlint.rules.cl406_schema_drift import SchemaDrift

ALL_RULES: tuple[type[Rule], ...] = (
    UnknownDownRevision,
    UnknownDependency,
    DuplicateRevision,
    RevisionCycle,
    IllegalRevisionId,
    RevisionIdTooLong,
    MissingRevision,
    DynamicRevision,
    UnreadableFile,
    MultipleHeads,
    OrphanBase,
    BranchLabelConflict,
    SuspiciousBranchLabel,
    HeaderMismatch,
    RedundantMergeParent,
    FilenameMismatch,
    PlaceholderRevisionId,
    HeadsAfterMerge,
    EditedAppliedMigration,
    RemovedAppliedMigration,
    ObjectAlreadyExists,
    ObjectDoesNotExist,
    DowngradeDoesNotRevert,
    MissingDowngrade,
    NotNullColumnWithoutDefault,
    UnknownDatabaseRevision,
    DatabaseBehind,
    AlreadyApplied,
    UnstampedDatabase,
    VersionColumnTooNarrow,
    SchemaDrift,
)

RULES_BY_CODE: dict[str, type[Rule]] = {rule.code: rule for rule in ALL_RULES}


RULES_BY_NAME: dict[str, type[Rule]] = {rule.name: rule for rule in ALL_RULES}


def rule_for(code: str) -> type[Rule]:
    """A rule by its code (`CL010`, `cl010`) or its name (`multiple-heads`)."""
    key = code.strip()
    found = RULES_BY_CODE.get(key.upper()) or RULES_BY_NAME.get(key.lower().replace("_", "-"))
    if found is not None:
        return found
    import difflib

    names = {**{name: name for name in RULES_BY_NAME}, **{c.lower(): c for c in RULES_BY_CODE}}
    close = [names[n] for n in difflib.get_close_matches(key.lower(), names, 1)]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UsageError(
        f"unknown rule code or name {code!r}{hint} (see `chainlint rule --all`)"
    ) from None


def _matches(code: str, selectors: tuple[str, ...]) -> bool:
    return any(s == "ALL" or code.startswith(s) for s in selectors)


def known_code(selector: str, extra_codes: tuple[str, ...] = ()) -> bool:
    codes = (*RULES_BY_CODE, *extra_codes)
    return selector == "ALL" or any(code.startswith(selector) for code in codes)


def selected_codes(settings: Settings, extra_codes: tuple[str, ...] = ()) -> frozenset[str]:
    """The codes a run reports: select (or the defaults) + extend-select - ignore."""
    for selector in (*(settings.select or ()), *settings.ignore, *settings.extend_select):
        if not known_code(selector, extra_codes):
            raise UsageError(f"unknown rule code or prefix {selector!r} in select/ignore")
    everything = (*RULES_BY_CODE, *extra_codes)
    if settings.select is None:
        chosen = {c for c in RULES_BY_CODE if RULES_BY_CODE[c].default_enabled} | set(extra_codes)
    else:
        chosen = {c for c in everything if _matches(c, settings.select)}
    chosen |= {c for c in everything if _matches(c, settings.extend_select)}
    chosen -= {c for c in everything if _matches(c, settings.ignore)}
    return frozenset(chosen)


def selected_rules(settings: Settings) -> list[Rule]:
    codes = selected_codes(settings)
    return [rule() for rule in ALL_RULES if rule.code in codes]
