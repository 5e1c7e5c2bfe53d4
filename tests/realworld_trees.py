"""Real migration trees shipped in PyPI wheels: catalogue, download, extraction, Alembic oracle.

Downloads go to a cache outside the repository (`~/.cache/chainlint-realworld`, or
`$CHAINLINT_REALWORLD_CACHE`); only the migration folders (and the few project modules their
identifiers import) are extracted. Nothing downloaded is ever committed.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import os
import subprocess
import sys
import types
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Tree:
    package: str
    version: str
    # The versions folder inside the wheel (read recursively, as OpenStack's release folders are).
    versions: str
    # Extra files or folder prefixes to extract: modules the migrations take constants from.
    extra: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.package}-{self.version}"

    @property
    def script_dir(self) -> str:
        return self.versions.rsplit("/", 1)[0]


CATALOGUE: tuple[Tree, ...] = (
    Tree("apache-airflow-core", "3.3.2", "airflow/migrations/versions"),
    Tree("apache-superset", "6.1.0", "superset/migrations/versions"),
    Tree("ckan", "2.12.0", "ckan/migration/versions"),
    Tree("dagster", "1.13.29", "dagster/_core/storage/alembic/versions"),
    Tree("indico", "3.2.9", "indico/migrations/versions"),
    Tree("ironic", "39.0.0", "ironic/db/sqlalchemy/alembic/versions"),
    Tree(
        "keystone",
        "30.0.0",
        "keystone/common/sql/migrations/versions",
        ("keystone/__init__.py", "keystone/common/__init__.py", "keystone/common/sql/"),
    ),
    Tree("mlflow-skinny", "3.17.2", "mlflow/store/db_migrations/versions"),
    Tree(
        "neutron",
        "29.0.0",
        "neutron/db/migration/alembic_migrations/versions",
        ("neutron/__init__.py", "neutron/db/__init__.py", "neutron/db/migration/"),
    ),
    Tree("octavia", "19.0.0", "octavia/db/migration/alembic_migrations/versions"),
    Tree("zenml", "0.98.0", "zenml/zen_stores/migrations/versions"),
)


def cache_root() -> Path:
    default = Path.home() / ".cache" / "chainlint-realworld"
    return Path(os.environ.get("CHAINLINT_REALWORLD_CACHE", default))


class Unavailable(Exception):
    """The wheel could not be downloaded (offline, registry unreachable)."""


def fetch(tree: Tree) -> Path:
    """The extracted tree's root folder, downloading and extracting it once."""
    root = cache_root() / "trees" / tree.name
    marker = root / ".complete"
    if marker.exists():
        return root
    downloads = cache_root() / "wheels"
    downloads.mkdir(parents=True, exist_ok=True)
    wheel = _find_wheel(downloads, tree)
    if wheel is None:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                f"{tree.package}=={tree.version}",
                "-d",
                str(downloads),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        wheel = _find_wheel(downloads, tree)
        if done.returncode != 0 or wheel is None:
            raise Unavailable(f"pip download {tree.name} failed: {done.stderr.strip()[-300:]}")
    prefixes = (tree.script_dir + "/", *tree.extra)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith(prefixes) and not member.endswith("/"):
                archive.extract(member, root)
    marker.write_text("ok\n", encoding="utf-8")
    return root


def _find_wheel(folder: Path, tree: Tree) -> Path | None:
    stem = tree.package.replace("-", "_")
    matches = sorted(folder.glob(f"{stem}-{tree.version}-*.whl"))
    return matches[0] if matches else None


# -- the Alembic oracle, for these trees only --------------------------------------------------


class _Anything:
    """A permissive stand-in for whatever an application module would have provided."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return args[0]  # used as a decorator
        return _Anything()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Anything()

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        return (object,)

    def __getitem__(self, key: Any) -> Any:
        return _Anything()

    def __or__(self, other: Any) -> Any:
        return _Anything()

    __ror__ = __or__


class _StubModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Anything()


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Consulted last: fabricates a module for any import that nothing else can satisfy."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: Any) -> types.ModuleType:
        module = _StubModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def _tolerant_load(directory: Any, filename: str) -> types.ModuleType:
    """Execute a migration statement by statement, skipping statements that fail for want of
    the application (a CheckConstraint over a stubbed model): its identifiers are plain
    assignments, and they still get Python's own values."""
    path = Path(directory) / filename
    source = path.read_bytes()
    module = types.ModuleType(f"_oracle_{abs(hash(str(path)))}")
    module.__file__ = str(path)
    tree = ast.parse(source, str(path))
    for statement in tree.body:
        code = compile(ast.Module([statement], type_ignores=[]), str(path), "exec")
        try:
            exec(code, module.__dict__)
        except Exception:
            continue
    return module


@contextmanager
def _stubbed_imports(root: Path) -> Iterator[None]:
    from alembic.script import base

    before = set(sys.modules)
    finder = _StubFinder()
    sys.path.insert(0, str(root))
    sys.meta_path.append(finder)
    original = base.util.load_python_file
    base.util.load_python_file = _tolerant_load
    try:
        yield
    finally:
        base.util.load_python_file = original
        sys.meta_path.remove(finder)
        sys.path.remove(str(root))
        for name in set(sys.modules) - before:
            del sys.modules[name]


@dataclass(frozen=True)
class AlembicFacts:
    revisions: frozenset[str]
    heads: frozenset[str]
    bases: frozenset[str]
    merges: int
    labelled: int
    depends: int


def alembic_facts(root: Path, tree: Tree) -> AlembicFacts:
    """Alembic's own view of the extracted tree (it imports the files: oracle only)."""
    from alembic.script import ScriptDirectory

    versions = root / tree.versions
    scripts = ScriptDirectory(
        str(versions.parent), version_locations=[str(versions)], recursive_version_locations=True
    )
    with _stubbed_imports(root), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        revision_map = scripts.revision_map
        revision_map.heads  # noqa: B018 - building the map is the point
        revisions = [
            s for k, s in revision_map._revision_map.items() if s is not None and k == s.revision
        ]
        return AlembicFacts(
            revisions=frozenset(s.revision for s in revisions),
            heads=frozenset(revision_map.heads),
            bases=frozenset(revision_map.bases),
            merges=sum(1 for s in revisions if s.is_merge_point),
            labelled=sum(1 for s in revisions if s._orig_branch_labels),
            depends=sum(1 for s in revisions if s.dependencies),
        )


def versions_folder(root: Path, tree: Tree) -> Path:
    return root / tree.versions


def select(names: Sequence[str] | None) -> list[Tree]:
    if not names:
        return list(CATALOGUE)
    return [t for t in CATALOGUE if t.package in names or t.name in names]
