"""`--base REF`: read migration files as they are at a git ref, never touching the working tree
or the index (`git ls-tree` and `git cat-file --batch` only)."""

from __future__ import annotations

import posixpath
import subprocess
from dataclasses import dataclass
from pathlib import Path

from chainlint.discover import ALEMBIC_LOADS, Environment
from chainlint.errors import GitError
from chainlint.graph import RevisionGraph
from chainlint.read import parse_revision_source


@dataclass(frozen=True)
class BaseSnapshot:
    """An environment as it is at REF: its graph, and each file's bytes by path."""

    ref: str
    graph: RevisionGraph
    contents: dict[Path, bytes]
    # The same files where this branch forked from REF (`git merge-base`), when git knows it:
    # what this branch changed is measured from there, not from REF's newer commits.
    fork: dict[Path, bytes] | None = None

    def before_this_branch(self, path: Path) -> bytes | None:
        """The file as it was before this branch touched it (None: it did not exist)."""
        if self.fork is not None:
            return self.fork.get(path)
        return self.contents.get(path)


def _git(args: list[str], cwd: Path, data: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, input=data, capture_output=True, check=False, timeout=300
        )
    except FileNotFoundError as exc:
        raise GitError("--base needs git, and git is not installed") from exc
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(lines[-1] if lines else f"git {' '.join(args)} failed")
    return done.stdout


def repository_root(path: Path) -> Path:
    folder = path if path.is_dir() else path.parent
    try:
        out = _git(["rev-parse", "--show-toplevel"], folder)
    except GitError as exc:
        raise GitError(f"--base needs a git repository, and {folder} is not in one") from exc
    return Path(out.decode().strip())


def resolve_ref(root: Path, ref: str) -> str:
    try:
        return (
            _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root).decode().strip()
        )
    except GitError:
        if _is_shallow(root):
            raise GitError(
                f"{ref!r} is not in this shallow clone: fetch it with enough history "
                f"(`git fetch origin {ref.split('/')[-1]}`, "
                f"or `fetch-depth: 0` in actions/checkout)"
            ) from None
        raise GitError(f"unknown git reference {ref!r}") from None


def base_snapshot(environment: Environment, ref: str) -> BaseSnapshot:
    root = repository_root(environment.root)
    commit = resolve_ref(root, ref)
    contents = _files_at(root, commit, environment)
    files = [parse_revision_source(path, data) for path, data in sorted(contents.items())]
    fork_commit = _merge_base(root, commit, ref)
    fork = None
    if fork_commit:
        fork = contents if fork_commit == commit else _files_at(root, fork_commit, environment)
    return BaseSnapshot(ref, RevisionGraph(environment, files), contents, fork)


def _merge_base(root: Path, commit: str, ref: str) -> str:
    """Where this branch forked from REF; "" for unrelated histories (measured from REF). In a
    shallow clone the fork may simply not have been fetched: guessing from REF would blame this
    branch for every revision REF gained since (a false CL203), so that is an error."""
    try:
        return _git(["merge-base", commit, "HEAD"], root).decode().strip()
    except GitError:
        if _is_shallow(root):
            raise GitError(
                f"cannot find the merge base of HEAD and {ref}: the clone is shallow; fetch more "
                f"history (git fetch --unshallow, or fetch-depth: 0 in actions/checkout)"
            ) from None
        return ""


def _is_shallow(root: Path) -> bool:
    return _git(["rev-parse", "--is-shallow-repository"], root).decode().strip() == "true"


@dataclass(frozen=True)
class _TreeEntry:
    mode: str
    kind: str
    oid: str
    name: str


_SYMLINK = "120000"
_MAX_LINK_HOPS = 40  # as the kernel's ELOOP limit


def _tree_entries(root: Path, commit: str, pathspec: str, recursive: bool) -> list[_TreeEntry]:
    """`git ls-tree -z`: NUL-separated, so any byte a path may hold (a newline) is safe."""
    args = ["--literal-pathspecs", "ls-tree", "-z", *(["-r"] if recursive else [])]
    out = _git([*args, commit, "--", pathspec], root)
    entries = []
    for record in filter(None, out.split(b"\0")):
        meta, _, name = record.partition(b"\t")
        mode, kind, oid = meta.decode("ascii").split()
        entries.append(_TreeEntry(mode, kind, oid, name.decode("utf-8", "surrogateescape")))
    return entries


def _files_at(root: Path, commit: str, environment: Environment) -> dict[Path, bytes]:
    """The environment's migration files at `commit`, keyed by their working-tree path, as
    Alembic would load them from a checkout: submodules are not files; a symlink is followed to
    the blob it names when that is inside the tree, and named by its target, as Alembic does."""
    real_root = root.resolve()
    wanted: dict[Path, str] = {}
    seen: set[str] = set()
    for location in environment.version_locations:
        try:
            relative = location.resolve().relative_to(real_root).as_posix()
        except (ValueError, OSError):
            continue  # a version location outside the repository has no history here
        for entry in _tree_entries(root, commit, relative + "/", recursive=True):
            inside = entry.name[len(relative) + 1 :]
            if (not environment.recursive and "/" in inside) or "__pycache__/" in f"/{inside}":
                continue
            if entry.kind != "blob":
                continue  # a submodule (a commit) or a tree
            target = entry
            if entry.mode == _SYMLINK:
                followed = _follow_link(root, commit, entry)
                if followed is None:
                    continue  # dangling, a folder, or outside the repository
                target = followed
            if target.name in seen:
                continue  # Alembic: "File ... loaded twice! ignoring."
            seen.add(target.name)
            if ALEMBIC_LOADS.match(target.name.rsplit("/", 1)[-1]):
                wanted[root / entry.name] = target.oid
    if not wanted:
        return {}
    blobs = _read_blobs(root, list(wanted.values()))
    return {path: blobs[oid] for path, oid in wanted.items()}


def _follow_link(root: Path, commit: str, link: _TreeEntry) -> _TreeEntry | None:
    """The blob a symlink in the tree leads to, through at most _MAX_LINK_HOPS links."""
    current = link
    for _ in range(_MAX_LINK_HOPS):
        text = _read_blobs(root, [current.oid])[current.oid].decode("utf-8", "surrogateescape")
        folder = posixpath.dirname(current.name)
        if text.startswith("/"):
            try:
                text = Path(text).relative_to(root.resolve()).as_posix()
            except ValueError:
                return None
            folder = ""
        name = posixpath.normpath(posixpath.join(folder, text))
        if name in (".", "", "..") or name.startswith("../"):
            return None
        found = [e for e in _tree_entries(root, commit, name, recursive=False) if e.name == name]
        if not found or found[0].kind != "blob":
            return None
        current = found[0]
        if current.mode != _SYMLINK:
            return current
    return None


def _read_blobs(root: Path, oids: list[str]) -> dict[str, bytes]:
    """Every blob in one `git cat-file --batch` process, asked for by object id (never by path,
    which may hold a newline)."""
    unique = list(dict.fromkeys(oids))
    out = _git(["cat-file", "--batch"], root, "".join(f"{oid}\n" for oid in unique).encode())
    blobs: dict[str, bytes] = {}
    position = 0
    for oid in unique:
        header_end = out.index(b"\n", position)
        header = out[position:header_end].split()
        if len(header) != 3:
            raise GitError(f"git cat-file cannot read object {oid} ({b' '.join(header).decode()})")
        size = int(header[2])
        start = header_end + 1
        blobs[oid] = out[start : start + size]
        position = start + size + 1
    return blobs
