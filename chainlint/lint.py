"""The check pipeline: discover -> read -> graph -> rules -> findings."""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeGuard

from chainlint.config import DEFAULT_MAX_FILE_SIZE, Settings
from chainlint.discover import Environment, Ignored, discover, file_strings
from chainlint.errors import InternalError
from chainlint.findings import Finding
from chainlint.idle import METER
from chainlint.records import record

if TYPE_CHECKING:
    from chainlint.apart import Child
    from chainlint.constants import ModuleConstants

    # networkx (through the graph and the rules) and the reader are imported only when a graph
    # is built: a warm `check` answered from the result cache never needs them.
    from chainlint.git import BaseSnapshot
    from chainlint.graph import RevisionGraph
    from chainlint.read import RevisionFile
    from chainlint.rules.base import Rule, RuleContext
    from chainlint.rules.dbstate import DatabaseState


@record
class GraphSummary:
    """What reporters show of a graph."""

    revisions: int
    heads: tuple[str, ...]
    bases: tuple[str, ...]


@record
class EnvironmentResult:
    environment: Environment
    # None when the findings were reused from the result cache (`check` only).
    graph: RevisionGraph | None
    summary: GraphSummary


@record
class LintResult:
    environments: tuple[EnvironmentResult, ...]
    findings: list[Finding]
    # Given paths that were not checked, and a cache folder refused, with why (`--verbose`).
    ignored: tuple[Ignored, ...] = ()

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]


@contextlib.contextmanager
def bulk_work() -> Iterator[None]:
    """No garbage collection while thousands of long-lived objects are made (parsing, cache
    loading): the collector would walk them again and again and find nothing to free (ast trees
    hold no reference cycles). The previous state is restored after, with what is alive then
    moved out of the collector's view (`gc.freeze`): otherwise the first collections after it
    walk every object made meanwhile (10k revisions: ~260k objects, ~0.3 s for the youngest
    generation alone), to free nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.enable()


def read_environment(
    environment: Environment,
    constants: ModuleConstants | None = None,
    cache: bool = False,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
) -> list[RevisionFile]:
    from chainlint.constants import ModuleConstants

    shared = constants or ModuleConstants()
    paths = list(environment.files)
    meanwhile = pending_check_imports()

    def read(paths: list[Path]) -> list[tuple[RevisionFile, str | None]]:
        # No rows: the read cache makes each file's row as it writes it (cache.FreshEntry).
        return read_files(paths, shared, max_file_size, meanwhile=meanwhile)

    with bulk_work():
        if cache and not os.environ.get("CHAINLINT_NO_CACHE"):
            from chainlint.cache import ReadCache, cache_folder, read_with_cache

            folder = cache_folder(environment)
            reads = ReadCache(folder, environment.root, len(paths))
            return read_with_cache(paths, reads, read, spread_work)
        return [file for file, _ in read(paths)]


# What a check imports once its files are read: the graph and every rule. networkx is not
# among them: a DiGraph is made (and networkx imported) only when a rule walks one, which a
# clean tree's check does not.
_CHECK_MODULES = ("chainlint.graph", "chainlint.rules")


def pending_check_imports() -> Callable[[], None] | None:
    """The imports the check needs after reading, as work for this process while a helper
    reads (`read_files`), or None when they are done already."""
    if all(name in sys.modules for name in _CHECK_MODULES):
        return None
    return _import_check_modules


def _import_check_modules() -> None:
    import importlib

    for name in _CHECK_MODULES:
        importlib.import_module(name)


# Below this many files, forking a helper costs more than it saves (measured by bench/run.py);
# far fewer suffice while this process has the check's imports to do meanwhile (~0.1-0.3 s).
SPLIT_THRESHOLD = 1000
SPLIT_THRESHOLD_WITH_IMPORTS = 100

# What a file costs besides reading it, relative to reading it (bench/run.py's tree, measured
# side by side): a helper pickles it (0.14); the parent unpickles it (0.06); making its cache
# row (`rows`) costs whoever read it 0.11. The shares are sized so the parent (its own reads,
# then the helpers' files to unpickle) and each helper finish together.
_PICKLE_COST = 0.14
_UNPICKLE_COST = 0.06
_ROW_COST = 0.11


def read_files(
    paths: list[Path],
    constants: ModuleConstants,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    rows: bool = False,
    meanwhile: Callable[[], None] | None = None,
) -> list[tuple[RevisionFile, str | None]]:
    """Read files in order, each with its cache row as compact JSON when `rows` (else None).

    A large batch is split across forked helper processes when cores are idle now; each helper
    sends back what it read, and the parent reads its own share meanwhile. The first helper and
    the parent read one stretch from its two ends until they meet (chainlint.bothends), so the
    parent may first do other work (`meanwhile`, run only when the read is split).
    `$CHAINLINT_PROCESSES` sets the number of processes (1: read everything in this one)."""
    processes = _processes() if len(paths) >= _split_threshold(meanwhile) else 1
    if processes < 2:
        return _read_rows(paths, constants, max_file_size, rows)
    # The reader is imported by each process as it reads, not before the fork: this one's
    # import is then done while the helpers read.
    from chainlint.bothends import both_ends

    shares = _shares(paths, processes, rows)
    stretch = shares[0] + shares[1]
    helpers = [_start_helper(share, max_file_size, rows) for share in shares[2:]]

    def read_stretch(low: int, high: int) -> list[tuple[RevisionFile, str | None]]:
        return _read_rows(stretch[low:high], constants, max_file_size, rows)

    try:
        found = both_ends(stretch, read_stretch, _read_row_check, meanwhile)
    except BaseException:
        for helper in helpers:
            if helper is not None:
                helper.abandon()
        raise
    for share, helper in zip(shares[2:], helpers, strict=True):
        read = _finish_helper(helper, share)
        if read is None:  # the helper failed: read its share here (a bug then names its file)
            read = _read_rows(share, constants, max_file_size, rows)
        found.extend(read)
    METER.mark()  # the next decision does not count these helpers' work as load
    return found


def _shares(paths: list[Path], processes: int, rows: bool) -> list[list[Path]]:
    """The parent's share first, then one per helper: the parent's time (its files, then
    unpickling the helpers' files) equals each helper's (its files, pickled)."""
    helpers = processes - 1
    row = _ROW_COST if rows else 0.0
    parent, helper = 1.0 + row, (1.0 + row + _PICKLE_COST) / helpers
    # parent * n + _UNPICKLE_COST * (total - n) == helper * (total - n)
    own = round(len(paths) * (helper - _UNPICKLE_COST) / (parent - _UNPICKLE_COST + helper))
    rest = paths[own:]
    size = -(-len(rest) // helpers)  # the last helper's share may be shorter, or empty
    return [paths[:own], *(rest[i * size : (i + 1) * size] for i in range(helpers))]


def spread_work(
    files: list[Path], work: Callable[[int, int], list[Any]], valid: Callable[[Any], bool]
) -> list[Any]:
    """`work` over every file (`work(low, high)` does files[low:high]), split with a forked
    helper from both ends (chainlint.bothends) when, as for a read, that pays: decoding the read
    cache's entries of a tree whose findings must be made again (an edited file)."""
    meanwhile = pending_check_imports()
    if len(files) < _split_threshold(meanwhile) or _processes() < 2:
        return work(0, len(files))
    from chainlint.bothends import both_ends

    found = both_ends(files, work, lambda: valid, meanwhile)
    METER.mark()  # the next decision does not count the helper's work as load
    return found


def _read_row_check() -> Callable[[Any], bool]:
    from chainlint.handoff import is_read_row

    return is_read_row


def _split_threshold(meanwhile: Callable[[], None] | None) -> int:
    return SPLIT_THRESHOLD if meanwhile is None else SPLIT_THRESHOLD_WITH_IMPORTS


def _read_rows(
    paths: list[Path], constants: ModuleConstants, max_file_size: int, rows: bool
) -> list[tuple[RevisionFile, str | None]]:
    return [_read_row(path, constants, max_file_size, rows) for path in paths]


def _read_row(
    path: Path, constants: ModuleConstants, max_file_size: int, rows: bool
) -> tuple[RevisionFile, str | None]:
    file = _read_one(path, constants, max_file_size)
    if not rows or file.unscanned:
        return file, None
    from chainlint.cache import row_text

    return file, row_text(file)


def _processes() -> int:
    configured = os.environ.get("CHAINLINT_PROCESSES", "")
    if configured.isdigit():
        return max(int(configured), 1)
    # fork() without exec is safe only where no system library runs threads behind our back.
    if not sys.platform.startswith("linux"):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    if cores < 2:
        return 1
    # A helper wins only on a core nobody else is using: counted by what was idle while this
    # process ran up to here (this process busy on one core), each core idle 2/3 of the time.
    idle = METER.cores()
    if idle is None:  # no /proc/stat: the load average, this process included
        try:
            idle = cores - os.getloadavg()[0] - 1
        except OSError:
            idle = cores - 1
    helpers = int(idle + 1 / 3)
    return max(1, min(cores, 4, 1 + helpers))


def _start_helper(share: list[Path], max_file_size: int, rows: bool) -> Child | None:
    from chainlint.apart import fork

    def read_share(handle: IO[bytes]) -> object:
        from chainlint.constants import ModuleConstants
        from chainlint.handoff import send

        read = _read_rows(share, ModuleConstants(), max_file_size, rows)
        send(handle, share, read)
        return read

    return fork(read_share)


def _finish_helper(
    helper: Child | None, share: list[Path]
) -> list[tuple[RevisionFile, str | None]] | None:
    if helper is None:
        return None
    from chainlint.handoff import is_read_row, receive

    try:
        output = helper.finished()
        back = receive(output, share, is_read_row) if output is not None else None
        return back[1] if back is not None and back[0] == 0 else None
    finally:
        helper.close()


def _read_one(path: Path, constants: ModuleConstants, max_file_size: int) -> RevisionFile:
    from chainlint.read import read_revision_file

    try:
        return read_revision_file(path, constants, max_file_size)
    except Exception as exc:  # a bug, not bad input: name the file being processed
        raise InternalError(f"while reading {path}: {type(exc).__name__}: {exc}") from exc


# From this many revisions, the rules that replay the schema run in a forked child while this
# process runs the others (measured by bench/run.py: below it the fork costs what it saves).
RULES_APART_THRESHOLD = 1000


def check_graph(
    graph: RevisionGraph,
    settings: Settings,
    base: BaseSnapshot | None = None,
    database: DatabaseState | None = None,
    core_shared: bool = False,
) -> list[Finding]:
    """Run the selected rules on one graph; drop findings silenced by `# noqa`.

    On a large graph with a core idle now (or the one a cache writer apart has: `core_shared`),
    the rules that replay the schema (the costliest by far, one shared pass over every
    operation) run in a forked child meanwhile; the findings are the same, in the same order,
    either way."""
    from chainlint import apart
    from chainlint.rules import selected_rules
    from chainlint.rules.base import RuleContext

    ctx = RuleContext(graph, settings, base, database)
    rules = selected_rules(settings)
    # Not beside a database connection: a fork would share its socket.
    split = database is None and _rules_apart(graph, core_shared)
    elsewhere = [rule for rule in rules if rule.replays_schema] if split else []
    child = apart.start(lambda: [_run_rule(rule, ctx) for rule in elsewhere]) if elsewhere else None
    if child is None:
        elsewhere = []
    produced: dict[str, list[Finding]] = {}
    try:
        for rule in rules:
            if rule not in elsewhere:
                produced[rule.code] = _run_rule(rule, ctx)
        results = apart.result(child) if child is not None else None
    except BaseException:
        if child is not None:
            child.abandon()
        raise
    if elsewhere:
        # The child failed: the rules run here, so a bug is reported naming its rule.
        if not _findings_lists(results, len(elsewhere)):
            results = [_run_rule(rule, ctx) for rule in elsewhere]
        produced.update(zip((rule.code for rule in elsewhere), results, strict=True))
    if not any(produced.values()):
        return []
    # A finding names its file by a Path: the file's own, or a copy of it (from the schema
    # rules' child). Files are found by the Path's string, which pathlib keeps, not by the
    # Path (its first hash costs ~2 us: mapping 10k revisions by Path, ~25 ms after the rules).
    by_string = {str(file.path): file for file in graph.files}
    # A file that cannot be parsed gets one error, CL009; its recovered ids serve the graph.
    unreadable = {str(file.path) for file in graph.files if file.problem is not None}
    findings = []
    for rule in rules:
        for finding in produced[rule.code]:
            path = str(finding.path)
            file = by_string.get(path)
            if file is not None and file.is_suppressed(finding.line, finding.code):
                continue
            if path in unreadable and finding.code != "CL009":
                continue
            findings.append(finding)
    return findings


def _run_rule(rule: Rule, ctx: RuleContext) -> list[Finding]:
    try:
        return list(rule.check(ctx))
    except Exception as exc:  # a bug, not bad input: say which rule and environment
        raise InternalError(
            f"{rule.code} on {ctx.graph.environment.root}: {type(exc).__name__}: {exc}"
        ) from exc


def _rules_apart(graph: RevisionGraph, core_shared: bool = False) -> bool:
    """Whether the schema rules run in a child: on a large graph, when a core is idle now, or
    when `core_shared`: the cache writer, forked onto a core idle then, works on (it makes
    every row of a bulk read). They share its core: measured by bench/run.py at 10k, ~0.02 s
    slower than running them here, and the schema model (~5 MB) is then not added to this
    process's memory, which holds everything else."""
    if len(graph.revisions) < RULES_APART_THRESHOLD:
        return False
    return core_shared or _processes() >= 2


def _findings_lists(results: object, count: int) -> TypeGuard[list[list[Finding]]]:
    return (
        type(results) is list
        and len(results) == count
        and all(type(found) is list and all(type(f) is Finding for f in found) for found in results)
    )


def lint_environment(
    environment: Environment,
    settings: Settings,
    base_ref: str | None = None,
    reuse: bool = False,
) -> tuple[EnvironmentResult, list[Finding]]:
    """Check one environment. With `reuse` (and the cache on, and no `--base`), findings of an
    environment whose files all read as they did are taken from the result cache without
    building the graph: at once when no file's stat key changed, else after reading again the
    files whose key did (compared with the files table, else with the read cache)."""
    use_cache = settings.cache and not os.environ.get("CHAINLINT_NO_CACHE")
    if not (reuse and use_cache and base_ref is None):
        files_read = read_environment(
            environment, cache=settings.cache, max_file_size=settings.max_file_size
        )
        return _check_files(environment, settings, files_read, base_ref)
    from chainlint import cache, replay

    # Strings, not Paths, until the result cache has missed: a warm run stats and hashes only.
    strings = file_strings(environment.files)
    folder = cache.cache_folder(environment)
    keys = replay.file_stamps(strings, cache.stamp)
    results = cache.ResultCache(folder, environment.root, len(strings))
    key = cache.environment_key(environment, settings, strings, keys)
    with bulk_work():
        cached = results.load(key)
        if cached is not None:
            return _reused(environment, cached)
        from chainlint.constants import ModuleConstants

        constants = ModuleConstants()
        material = cache.environment_material(environment, settings)
        # The files read for the files table, kept for the read cache when they changed.
        early: dict[str, tuple[RevisionFile, str | None]] = {}

        def digests(indices: list[int]) -> list[str | None]:
            chosen = [Path(strings[i]) for i in indices]
            read = read_files(chosen, constants, settings.max_file_size, rows=True)
            found: list[str | None] = []
            for path, (file, text) in zip(chosen, read, strict=True):
                early[str(path)] = (file, text)
                found.append(cache.text_digest(text) if text is not None else None)
            return found

        cached = results.load_touched(key, material, strings, keys, digests)
        if cached is not None:
            return _reused(environment, cached)
        paths = list(environment.files)
        reads = cache.ReadCache(folder, environment.root, len(paths))

        def read(paths: list[Path]) -> list[tuple[RevisionFile, str | None]]:
            meanwhile = pending_check_imports()  # a graph is built unless the content matches
            todo = [path for path in paths if str(path) not in early] if early else paths
            read = iter(read_files(todo, constants, settings.max_file_size, False, meanwhile))
            # In order: each file read for the files table, else the next one read now (by
            # string: a Path's first hash costs ~2 us, 10k revisions ~20 ms).
            return [early.pop(str(path)) if str(path) in early else next(read) for path in paths]

        fresh = cache.refresh(paths, keys, reads, read)
        content = None
        bulk = len(fresh) >= BULK_READ
        if not bulk:
            # Few files read again (a touch, an edit): their rows give the content key now,
            # and findings made for that content are reused. After a bulk read (cold) the
            # rows are made by whoever writes the read cache, while the graph is built.
            table = reads.table(paths)
            content = cache.content_digest(material, paths, table[1]) if table else None
            cached = results.load_content(content)
            if cached is not None:
                # The read cache is not written: its touched entries are read again (and
                # found the same) only when a stat key misses again; writing every entry
                # costs more. The files table is: the next touch is compared with it.
                results.rekey(key, strings, table)
                reads.close()
                return _reused(environment, cached)
            del table
        changes = reads.changes
        files_read = cache.cached_files(paths, keys, reads, read, fresh, spread_work)
        if reads.changes != changes:  # an entry of an unexpected shape was read again
            content = None
        keep = {str(path) for path in paths}
        writing = functools.partial(_write_caches, reads, keep, results, material, strings)
        writer = _write_apart(writing) if len(paths) >= WRITE_APART_THRESHOLD else None
        if writer is None:
            content = writing()
        # Every entry, row text and stat key is written: not kept while the graph and rules run.
        reads.close()
        del reads, fresh, keys, writing, keep
    save = _Save(results, key, content, writer, bulk)
    return _check_files(environment, settings, files_read, None, save)


# From this many files, a check that writes the read cache does it, and the files table, in a
# forked child while this process builds the graph (measured by bench/run.py: 10k, ~0.1 s).
WRITE_APART_THRESHOLD = 1000


# From this many files read again, their rows are made only when the read cache is written.
BULK_READ = 1000


def _write_caches(
    reads: Any, keep: set[str], results: Any, material: str, strings: Sequence[str]
) -> str | None:
    """The read cache's entries, then the files table: the content key of the files (None
    when one could not be read), which the findings are saved under."""
    from chainlint.cache import content_digest

    reads.save(keep)
    table = reads.table(strings)
    if table is None:
        return None
    content = content_digest(material, strings, table[1])
    results.write_table(content, strings, table)
    return content


def _write_apart(write: Callable[[], str | None]) -> Child | None:
    """`write` (the read cache's entries and the files table) done by a forked child, when a
    core is idle now; None (nothing started) otherwise. The child hands back the CPU time it
    took."""
    if _processes() < 2:
        return None
    from chainlint.apart import start

    def write_and_time() -> tuple[str | None, float]:
        return write(), time.process_time()

    return start(write_and_time)


def _finish_writer(writer: Child) -> str | None:
    """Wait for the cache writer and count its CPU time as idle for the next decision (the
    rules apart); the content key it wrote the files table for. A writer that failed leaves
    the read cache and files table as they were: a later check reads the files again and
    writes them."""
    from chainlint.apart import result

    made = result(writer)
    if type(made) is not tuple or len(made) != 2 or type(made[1]) is not float:
        return None
    METER.credit(made[1])
    return made[0] if type(made[0]) is str else None


@record
class _Save:
    """What a check that reuses caches saves its findings with: the result cache, the stat
    key, the content key when known, the cache writer apart, and whether it makes every row."""

    results: Any
    key: str
    content: str | None
    writer: Child | None
    bulk: bool


def _reused(environment: Environment, cached: Any) -> tuple[EnvironmentResult, list[Finding]]:
    (count, heads, bases), findings = cached
    return EnvironmentResult(environment, None, GraphSummary(count, heads, bases)), findings


def _check_files(
    environment: Environment,
    settings: Settings,
    files_read: list[RevisionFile],
    base_ref: str | None,
    save: _Save | None = None,
) -> tuple[EnvironmentResult, list[Finding]]:
    from chainlint.graph import RevisionGraph

    with bulk_work():
        graph = RevisionGraph(environment, files_read)
        writer, content = (save.writer, save.content) if save is not None else (None, None)
        bulk = save is not None and save.bulk
        # A writer that copies rows made already is done by now, as a rule: waited for, its
        # core is free for the rules. One that makes every row (a bulk read) works on while
        # the rules run here.
        if writer is not None and (not bulk or writer.ready()):
            content, writer = _finish_writer(writer) or content, None
        base = None
        if base_ref is not None:
            from chainlint.git import base_snapshot

            base = base_snapshot(environment, base_ref)
        findings = check_graph(graph, settings, base, core_shared=writer is not None)
        if writer is not None:
            content = _finish_writer(writer) or content
        summary = GraphSummary(len(graph.revisions), graph.heads, graph.bases)
        if save is not None:
            results, key = save.results, save.key
            modules = {module for file in graph.files for module in file.used_modules}
            counts = (summary.revisions, summary.heads, summary.bases)
            from chainlint.rules.cl010_multiple_heads import mtime_ordered_heads

            timed = [graph.revisions[head].path for head in mtime_ordered_heads(graph)]
            results.save(key, counts, findings, modules, content, timed)
    return EnvironmentResult(environment, graph, summary), findings


def lint_paths(
    paths: Sequence[Path],
    settings: Settings | None = None,
    base_ref: str | None = None,
    reuse: bool = False,
) -> LintResult:
    settings = settings or Settings()
    if not METER.marked():  # `chainlint` marks as it starts; a caller in Python here
        METER.mark()
    results = []
    findings: list[Finding] = []
    discovery = discover(list(paths))
    for environment in discovery.environments:
        result, env_findings = lint_environment(environment, settings, base_ref, reuse)
        results.append(result)
        findings.extend(env_findings)
    findings.sort(key=lambda f: (str(f.path), f.line, f.column, f.code))
    ignored = discovery.ignored
    if settings.cache and not os.environ.get("CHAINLINT_NO_CACHE"):
        ignored += refused_cache_folders(discovery.environments)
    return LintResult(tuple(results), findings, ignored)


def refused_cache_folders(environments: Sequence[Environment]) -> tuple[Ignored, ...]:
    """The cache folders of these environments that exist but are not used, with why."""
    from chainlint.cache import cache_folder, refusal

    refused: dict[Path, Ignored] = {}
    for environment in environments:
        folder = cache_folder(environment)
        reason = refusal(folder)
        if folder is not None and reason is not None:
            refused.setdefault(folder, Ignored(folder, reason))
    return tuple(refused.values())
