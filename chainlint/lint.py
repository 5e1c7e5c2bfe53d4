"""The check pipeline: discover -> read -> graph -> rules -> findings."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chainlint.config import Settings
from chainlint.constants import ModuleConstants
from chainlint.discover import Environment, discover_environments
from chainlint.errors import InternalError
from chainlint.findings import Finding
from chainlint.graph import RevisionGraph
from chainlint.read import RevisionFile, read_revision_file
from chainlint.rules import selected_rules
from chainlint.rules.base import RuleContext

if TYPE_CHECKING:
    from chainlint.git import BaseSnapshot


@dataclass(frozen=True, slots=True)
class GraphSummary:
    """What reporters show of a graph."""

    revisions: int
    heads: tuple[str, ...]
    bases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EnvironmentResult:
    environment: Environment
    # None when the findings were reused from the result cache (`check` only).
    graph: RevisionGraph | None
    summary: GraphSummary


@dataclass(frozen=True, slots=True)
class LintResult:
    environments: tuple[EnvironmentResult, ...]
    findings: list[Finding]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]


def read_environment(
    environment: Environment, constants: ModuleConstants | None = None, cache: bool = False
) -> list[RevisionFile]:
    shared = constants or ModuleConstants()

    def read(paths: list[Path]) -> list[RevisionFile]:
        return read_files(paths, shared)

    if cache and not os.environ.get("CHAINLINT_NO_CACHE"):
        from chainlint.cache import ReadCache, cache_folder, read_with_cache

        return read_with_cache(
            list(environment.files), ReadCache(cache_folder(), environment.root), read
        )
    return read(list(environment.files))


# Below this many files a process pool costs more than it saves (measured by bench/run.py).
PARALLEL_THRESHOLD = 2000


def read_files(paths: list[Path], constants: ModuleConstants) -> list[RevisionFile]:
    """Read files in order; large batches are parsed by a pool of forked processes."""
    workers = min(os.cpu_count() or 1, 8)
    if len(paths) < PARALLEL_THRESHOLD or workers < 2 or not _can_fork():
        return [_read_one(path, constants) for path in paths]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    size = -(-len(paths) // (workers * 4))
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return [file for chunk in pool.map(_read_chunk, chunks) for file in chunk]


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _read_chunk(paths: list[Path]) -> list[RevisionFile]:
    constants = ModuleConstants()
    return [_read_one(path, constants) for path in paths]


def _read_one(path: Path, constants: ModuleConstants) -> RevisionFile:
    try:
        return read_revision_file(path, constants)
    except Exception as exc:  # a bug, not bad input: name the file being processed
        raise InternalError(f"while reading {path}: {type(exc).__name__}: {exc}") from exc


def check_graph(
    graph: RevisionGraph, settings: Settings, base: BaseSnapshot | None = None
) -> list[Finding]:
    """Run the selected rules on one graph; drop findings silenced by `# noqa`."""
    ctx = RuleContext(graph, settings, base)
    by_path = {file.path: file for file in graph.files}
    findings = []
    for rule in selected_rules(settings):
        try:
            produced = list(rule.check(ctx))
        except Exception as exc:  # a bug, not bad input: say which rule and environment
            raise InternalError(
                f"{rule.code} on {graph.environment.root}: {type(exc).__name__}: {exc}"
            ) from exc
        for finding in produced:
            file = by_path.get(finding.path)
            if file is not None and file.is_suppressed(finding.line, finding.code):
                continue
            findings.append(finding)
    return findings


def lint_environment(
    environment: Environment,
    settings: Settings,
    base_ref: str | None = None,
    reuse: bool = False,
) -> tuple[EnvironmentResult, list[Finding]]:
    """Check one environment. With `reuse` (and the cache on, and no `--base`), findings of an
    unchanged environment are taken from the result cache without building the graph."""
    results = None
    if reuse and settings.cache and base_ref is None and not os.environ.get("CHAINLINT_NO_CACHE"):
        from chainlint.cache import ResultCache, cache_folder, environment_key

        results = ResultCache(cache_folder(), environment.root)
        key = environment_key(environment, settings, list(environment.files))
        cached = results.load(key)
        if cached is not None:
            (count, heads, bases), findings = cached
            return EnvironmentResult(environment, None, GraphSummary(count, heads, bases)), findings
    graph = RevisionGraph(environment, read_environment(environment, cache=settings.cache))
    base = None
    if base_ref is not None:
        from chainlint.git import base_snapshot

        base = base_snapshot(environment, base_ref)
    findings = check_graph(graph, settings, base)
    summary = GraphSummary(len(graph.revisions), graph.heads, graph.bases)
    if results is not None:
        modules = {module for file in graph.files for module in file.used_modules}
        results.save(key, (summary.revisions, summary.heads, summary.bases), findings, modules)
    return EnvironmentResult(environment, graph, summary), findings


def lint_paths(
    paths: Sequence[Path],
    settings: Settings | None = None,
    base_ref: str | None = None,
    reuse: bool = False,
) -> LintResult:
    settings = settings or Settings()
    results = []
    findings: list[Finding] = []
    for environment in discover_environments(list(paths)):
        result, env_findings = lint_environment(environment, settings, base_ref, reuse)
        results.append(result)
        findings.extend(env_findings)
    findings.sort(key=lambda f: (str(f.path), f.line, f.column, f.code))
    return LintResult(tuple(results), findings)
