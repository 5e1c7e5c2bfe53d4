"""`[tool.chainlint]` in pyproject.toml + command-line options -> one frozen Settings object."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from chainlint.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_MAX_REVISION_LENGTH = 32


@dataclass(frozen=True, slots=True)
class Settings:
    # Codes or prefixes ("CL0", "CL1", "ALL"); None means the rules enabled by default.
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    # Added to the selection (ruff's extend-select), e.g. to turn on CL103.
    extend_select: tuple[str, ...] = ()
    max_revision_length: int = DEFAULT_MAX_REVISION_LENGTH
    # The command line turns the read cache on; library callers opt in.
    cache: bool = False

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
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                if "[tool.chainlint" in candidate.read_text(encoding="utf-8", errors="replace"):
                    return candidate
            except OSError:
                continue
    return None


def load_settings(config_file: Path | None = None, start: Path | None = None) -> Settings:
    """Settings from `config_file`, or the nearest pyproject.toml with [tool.chainlint]."""
    if config_file is None:
        config_file = find_pyproject((start or Path.cwd()).resolve())
        if config_file is None:
            return Settings(cache=True)
    try:
        data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {config_file}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{config_file} is not valid TOML: {exc}") from exc
    section = data.get("tool", {}).get("chainlint")
    if section is None:
        if config_file.name == "pyproject.toml":
            return Settings(cache=True)
        section = data  # a dedicated chainlint.toml
    return settings_from_mapping(section, config_file)


_KNOWN_KEYS = {"select", "ignore", "extend-select", "max-revision-length", "cache"}


def settings_from_mapping(section: Mapping[str, Any], origin: Path) -> Settings:
    unknown = sorted(set(section) - _KNOWN_KEYS)
    if unknown:
        raise UsageError(f"{origin}: unknown [tool.chainlint] option(s): {', '.join(unknown)}")

    def codes(key: str) -> tuple[str, ...] | None:
        value = section.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"{origin}: [tool.chainlint] {key} must be a list of rule codes")
        return parse_codes(value)

    length = section.get("max-revision-length", DEFAULT_MAX_REVISION_LENGTH)
    if not isinstance(length, int) or isinstance(length, bool) or length < 1:
        raise UsageError(
            f"{origin}: [tool.chainlint] max-revision-length must be a positive integer"
        )
    cache = section.get("cache", True)
    if not isinstance(cache, bool):
        raise UsageError(f"{origin}: [tool.chainlint] cache must be true or false")
    return Settings(
        select=codes("select"),
        ignore=codes("ignore") or (),
        extend_select=codes("extend-select") or (),
        max_revision_length=length,
        cache=cache,
    )
