"""`[tool.chainlint]` in pyproject.toml + command-line options -> one frozen Settings object."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from chainlint import replay
from chainlint.errors import UsageError
from chainlint.records import record

# tomllib is imported where a TOML file is parsed: most runs never parse one.

DEFAULT_MAX_REVISION_LENGTH = 32
# Far above the largest real migration (Superset's biggest is ~60 kB); a file above it is CL009.
DEFAULT_MAX_FILE_SIZE = 5 * 1024 * 1024


@record
class Settings:
    # Codes or prefixes ("CL0", "CL1", "ALL"); None means the rules enabled by default.
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    # Added to the selection (ruff's extend-select), e.g. to turn on CL103.
    extend_select: tuple[str, ...] = ()
    max_revision_length: int = DEFAULT_MAX_REVISION_LENGTH
    # The command line turns the read cache on; library callers opt in.
    cache: bool = False
    # Codes or prefixes whose fixes `chainlint fix` applies besides those of error findings.
    extend_fix: tuple[str, ...] = ()
    # Files larger than this many bytes are not parsed.
    max_file_size: int = DEFAULT_MAX_FILE_SIZE

    def with_options(self, **options: Any) -> Settings:
        """Command-line options override the file; None means "not given"."""
        given = {key: value for key, value in options.items() if value is not None}
        return replace(self, **given)


def parse_codes(values: Iterable[str] | None) -> tuple[str, ...] | None:
    """`--select CL001,CL002 --select CL1` -> ("CL001", "CL002", "CL1")."""
    if values is None:
        return None
    codes = []
    for value in values:
        for part in value.replace(" ", ",").split(","):
            if part.strip():
                codes.append(part.strip().upper())
    return tuple(codes)


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml (from `start` up) that has a [tool.chainlint] table."""
    found = _locate(start)
    return found[0] if found else None


def _locate(start: Path) -> tuple[Path, Mapping[str, Any]] | None:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        replay.seen(candidate)
        try:
            if not candidate.is_file():
                continue
            text = candidate.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        # Parse only a file that may define tool.chainlint: one that names chainlint in a table
        # header or a key (not just as a dependency), or assigns `tool` as a key.
        if "chainlint" not in text or not _MAY_CONFIGURE.search(text):
            continue
        section = _chainlint_table(_parse_toml(candidate, text), candidate)
        if section is not None:
            return candidate, section
    return None


# Every TOML spelling of tool.chainlint: `[tool.chainlint]`, `[ tool . "chainlint" .x ]`,
# `chainlint.select = ` or `chainlint = ` under [tool], `tool.chainlint... = `, `tool = {...}`.
_MAY_CONFIGURE = re.compile(
    r"""^[ \t]*(?:\[+[ \t]*)?(?:["']?tool["']?[ \t]*\.[ \t]*)?["']?chainlint["']?[ \t]*[.=\]]"""
    r"""|^[ \t]*["']?tool["']?[ \t]*=""",
    re.MULTILINE,
)


def _parse_toml(path: Path, text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from exc
    return data


def _chainlint_table(data: Mapping[str, Any], origin: Path) -> Mapping[str, Any] | None:
    """`tool.chainlint` of a parsed file (None when absent), checked to be a table."""
    tool = data.get("tool")
    if tool is None:
        return None
    if not isinstance(tool, dict):
        raise UsageError(f"{origin}: key 'tool' must be a table, not {_describe(tool)}")
    section = tool.get("chainlint")
    if section is None:
        return None
    if not isinstance(section, dict):
        raise UsageError(f"{origin}: [tool.chainlint] must be a table, not {_describe(section)}")
    return section


def load_settings(config_file: Path | None = None, start: Path | None = None) -> Settings:
    """Settings from `config_file`, or the nearest pyproject.toml with [tool.chainlint]."""
    if config_file is None:
        replay.seen(start or Path.cwd())
        found = _locate((start or Path.cwd()).resolve())
        if found is None:
            return Settings(cache=True)
        return settings_from_mapping(found[1], found[0])
    replay.seen(config_file)
    try:
        text = config_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {config_file}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{config_file} is not valid TOML: {exc}") from exc
    data = _parse_toml(config_file, text)
    section = _chainlint_table(data, config_file)
    if section is None:
        if config_file.name == "pyproject.toml":
            return Settings(cache=True)
        return settings_from_mapping(data, config_file, table="")  # a dedicated chainlint.toml
    return settings_from_mapping(section, config_file)


_KNOWN_KEYS = (
    "cache",
    "extend-fix",
    "extend-select",
    "ignore",
    "max-file-size",
    "max-revision-length",
    "select",
)


def settings_from_mapping(
    section: Mapping[str, Any], origin: Path, table: str = "[tool.chainlint]"
) -> Settings:
    """Validate every key: an unknown key or a wrong type is one line naming the file and key."""
    where = f"{origin}: {table} " if table else f"{origin}: "
    for key in sorted(section):
        if key not in _KNOWN_KEYS:
            import difflib

            close = difflib.get_close_matches(key, _KNOWN_KEYS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UsageError(
                f"{where}unknown key {key!r}{hint} (known keys: {', '.join(_KNOWN_KEYS)})"
            )

    def codes(key: str) -> tuple[str, ...] | None:
        value = section.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(
                f"{where}{key} must be a list of rule codes, not {_describe(section[key])}"
            )
        parsed = parse_codes(value) or ()
        from chainlint.rules import known_code  # the registry imports this module

        for code in parsed:
            if not known_code(code):
                raise UsageError(f"{where}{key}: unknown rule code or prefix {code!r}")
        return parsed

    def positive(key: str, default: int) -> int:
        value = section.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UsageError(f"{where}{key} must be a positive integer, not {_describe(value)}")
        return value

    cache = section.get("cache", True)
    if not isinstance(cache, bool):
        raise UsageError(f"{where}cache must be true or false, not {_describe(cache)}")
    return Settings(
        select=codes("select"),
        ignore=codes("ignore") or (),
        extend_select=codes("extend-select") or (),
        max_revision_length=positive("max-revision-length", DEFAULT_MAX_REVISION_LENGTH),
        cache=cache,
        extend_fix=codes("extend-fix") or (),
        max_file_size=positive("max-file-size", DEFAULT_MAX_FILE_SIZE),
    )


_TOML_TYPES = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}


def _describe(value: Any) -> str:
    """A TOML value as messages name it: `an integer (5)`, `a table`."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    kind = _TOML_TYPES.get(type(value), f"a {type(value).__name__}")
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"{kind} ({shown})"
