"""`--base REF`: read migration files as they are at a git ref, never touching the working tree
or the index (`git ls-tree` and `git cat-file --batch` only)."""

from __future__ import annotations

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
        shallow = _git(["rev-parse", "--is-shallow-repository"], root).decode().strip() == "true"
        if shallow:
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
    fork = None
    try:
        fork_commit = _git(["merge-base", commit, "HEAD"], root).decode().strip()
    except GitError:
        fork_commit = ""  # a shallow clone or unrelated histories: measure from REF itself
    if fork_commit:
        fork = contents if fork_commit == commit else _files_at(root, fork_commit, environment)
    return BaseSnapshot(ref, RevisionGraph(environment, files), contents, fork)


def _files_at(root: Path, commit: str, environment: Environment) -> dict[Path, bytes]:
    """The environment's migration files at `commit`, keyed by their working-tree path."""
    real_root = root.resolve()
    contents: dict[Path, bytes] = {}
    for location in environment.version_locations:
        try:
            relative = location.resolve().relative_to(real_root).as_posix()
        except (ValueError, OSError):
            continue  # a version location outside the repository has no history here
        names = _git(["ls-tree", "-r", "-z", "--name-only", commit, "--", relative + "/"], root)
        for name in filter(None, names.decode("utf-8", "surrogateescape").split("\0")):
            inside = name[len(relative) + 1 :]
            if (not environment.recursive and "/" in inside) or "__pycache__/" in f"/{inside}":
                continue
            if ALEMBIC_LOADS.match(name.rsplit("/", 1)[-1]):
                contents[root / name] = b""
    if contents:
        blobs = _read_blobs(root, commit, [p.relative_to(root).as_posix() for p in contents])
        contents = dict(zip(contents, blobs, strict=True))
    return contents


def _read_blobs(root: Path, commit: str, names: list[str]) -> list[bytes]:
    """Every blob in one `git cat-file --batch` process."""
    request = "".join(f"{commit}:{name}\n" for name in names).encode("utf-8", "surrogateescape")
    out = _git(["cat-file", "--batch"], root, request)
    blobs = []
    position = 0
    for _ in names:
        header_end = out.index(b"\n", position)
        header = out[position:header_end].split()
        size = int(header[2])
        start = header_end + 1
        blobs.append(out[start : start + size])
        position = start + size + 1
    return blobs
