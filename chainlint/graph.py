"""RevisionFiles -> RevisionGraph, with exactly the semantics of Alembic's RevisionMap.

Alembic builds its map in load order: a later file with the same id replaces the earlier one;
branch labels join the id namespace; a `depends_on` entry is looked up among ids and labels, a
`down_revision` entry among ids only (a branch label there is `KeyError: '<label>'`); a
`depends_on` that Alembic normalises to an empty value (`""`, `("",)`, `()`) is no dependency.
`heads` are revisions no other revision names as a `down_revision` (`depends_on` does not
count); `bases` are revisions whose `down_revision` is None, `()` or `[]`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import networkx as nx

from chainlint.discover import Environment
from chainlint.read import Assignment, Identifier, RevisionFile

PARENT = "parent"
DEPENDENCY = "dependency"


@dataclass(frozen=True, slots=True)
class DanglingReference:
    """A `down_revision` or `depends_on` entry that names no revision (and no branch label)."""

    revision: str
    file: RevisionFile
    field: str
    identifier: Identifier
    # For a `down_revision` that names a branch label: the revision carrying the label.
    label_holder: str | None = None


@dataclass(frozen=True, slots=True)
class LabelConflict:
    label: str
    file: RevisionFile
    # The revision that already holds the name (as a label or as its id).
    holder: str


def is_unresolved(assignment: Assignment | None) -> bool:
    """Whether the assignment is computed, or holds a value the reader could not resolve."""
    if assignment is None:
        return False
    if assignment.shape == "dynamic":
        return True
    for item in assignment.items:  # noqa: SIM110 - no generator: runs for every file
        if item.value is None:
            return True
    return False


def alembic_items(file: RevisionFile, field: str) -> tuple[Identifier, ...]:
    """The entries of `down_revision` or `depends_on` Alembic looks up. Alembic keeps
    `depends_on` as `tuple_rev_as_scalar(to_tuple(value))` and resolves it only when that is
    truthy: `""` and `("",)` are no dependency, while `("", "a")` looks up `''`."""
    assignment = file.down_revision if field == "down_revision" else file.depends_on
    if assignment is None:
        return ()
    items = assignment.items
    if field == "depends_on" and len(items) == 1 and items[0].value == "":
        return ()
    return items


class RevisionGraph:
    """One environment's revisions as a networkx DiGraph, edges pointing from parent to child."""

    def __init__(self, environment: Environment, files: Sequence[RevisionFile]) -> None:
        self.environment = environment
        self.files: tuple[RevisionFile, ...] = tuple(files)
        self.revisions: dict[str, RevisionFile] = {}
        self.duplicates: dict[str, list[RevisionFile]] = {}
        self.branch_labels: dict[str, str] = {}
        self.label_conflicts: list[LabelConflict] = []
        self.dangling: list[DanglingReference] = []
        # Every link (down_revision and depends_on), and the down_revision links alone.
        self.dag: nx.DiGraph = nx.DiGraph()
        self.parent_dag: nx.DiGraph = nx.DiGraph()
        self._build()

    # -- construction -------------------------------------------------------------------------

    def _build(self) -> None:
        for file in self.files:
            # A file that cannot be parsed still takes part with what the tolerant scan found.
            rev = file.revision_id
            if rev is None:
                continue
            if rev in self.revisions:
                self.duplicates.setdefault(rev, [self.revisions[rev]]).append(file)
            # Alembic: the later file replaces the earlier one, keeping its place in the order.
            self.revisions[rev] = file
        self.dag.add_nodes_from(self.revisions)
        self.parent_dag.add_nodes_from(self.revisions)
        for rev, file in self.revisions.items():
            for label in file.labels:
                if label in self.branch_labels:
                    self.label_conflicts.append(
                        LabelConflict(label, file, self.branch_labels[label])
                    )
                elif label in self.revisions:
                    self.label_conflicts.append(LabelConflict(label, file, label))
                else:
                    self.branch_labels[label] = rev
        for rev, file in self.revisions.items():
            self._link(rev, file, "down_revision", PARENT)
            self._link(rev, file, "depends_on", DEPENDENCY)

    def _link(self, rev: str, file: RevisionFile, field: str, kind: str) -> None:
        for identifier in alembic_items(file, field):
            if identifier.value is None:
                continue
            if kind == PARENT:
                target = identifier.value if identifier.value in self.revisions else None
            else:
                target = self.resolve(identifier.value)
            if target is None:
                holder = self.branch_labels.get(identifier.value) if kind == PARENT else None
                self.dangling.append(DanglingReference(rev, file, field, identifier, holder))
                continue
            if kind == PARENT:
                self.parent_dag.add_edge(target, rev)
                self.dag.add_edge(target, rev, kind=kind)
            elif not self.dag.has_edge(target, rev):
                self.dag.add_edge(target, rev, kind=kind)

    # -- lookups --------------------------------------------------------------------------------

    def resolve(self, name: str) -> str | None:
        """The revision an id or branch label names, as Alembic's map would look it up."""
        if name in self.revisions:
            return name
        return self.branch_labels.get(name)

    def parents(self, rev: str) -> tuple[str, ...]:
        """The `down_revision` entries as declared."""
        return self.revisions[rev].down_revisions

    def dependencies(self, rev: str) -> tuple[str, ...]:
        """The `depends_on` entries resolved to revision ids (branch labels resolved)."""
        items = alembic_items(self.revisions[rev], "depends_on")
        resolved = (self.resolve(item.value) for item in items if item.value is not None)
        return tuple(name for name in resolved if name is not None)

    def children(self, rev: str) -> tuple[str, ...]:
        return tuple(self.parent_dag.successors(rev))

    @cached_property
    def heads(self) -> tuple[str, ...]:
        out_degree = self.parent_dag.out_degree
        return tuple(rev for rev in self.revisions if out_degree(rev) == 0)

    @cached_property
    def bases(self) -> tuple[str, ...]:
        return tuple(rev for rev, file in self.revisions.items() if file.is_base)

    @cached_property
    def unresolved_fields(self) -> frozenset[str]:
        """The identifier fields that some readable file computes instead of writing a literal
        (CL008): rules never raise an error from a value nobody could resolve."""
        found: set[str] = set()
        for file in self.files:
            if file.problem is not None:
                if file.unscanned:
                    # Nothing of the file could be looked at: what it declares is unknown.
                    found.update(("revision", "down_revision"))
                elif file.revision_id and file.down_revision is None:
                    found.add("down_revision")
            if (
                file.revision is not None
                and file.revision_id is None
                and is_unresolved(file.revision)
            ):
                found.add("revision")
            if is_unresolved(file.down_revision):
                found.add("down_revision")
            if is_unresolved(file.branch_labels):
                found.add("branch_labels")
            if is_unresolved(file.depends_on):
                found.add("depends_on")
        return frozenset(found)

    @cached_property
    def merge_points(self) -> tuple[str, ...]:
        return tuple(rev for rev, file in self.revisions.items() if len(file.down_revisions) > 1)

    def ancestors(self, rev: str, *, include_dependencies: bool = False) -> set[str]:
        graph = self.dag if include_dependencies else self.parent_dag
        return set(nx.ancestors(graph, rev))

    def descendants(self, rev: str, *, include_dependencies: bool = False) -> set[str]:
        graph = self.dag if include_dependencies else self.parent_dag
        return set(nx.descendants(graph, rev))

    @cached_property
    def generation(self) -> dict[str, int] | None:
        """Each revision's longest distance from a base through `down_revision` links (None
        when they form a cycle): an ancestor always has a smaller generation."""
        try:
            order = list(nx.topological_sort(self.parent_dag))
        except nx.NetworkXUnfeasible:
            return None
        generation: dict[str, int] = {}
        for rev in order:
            parents = self.parent_dag.predecessors(rev)
            generation[rev] = max((generation[p] + 1 for p in parents), default=0)
        return generation

    def is_ancestor(self, ancestor: str, rev: str) -> bool:
        """Whether `ancestor` is reached from `rev` through `down_revision` links; the search
        stops below the ancestor's generation, so nearby merges cost little in long histories."""
        generation = self.generation
        if generation is None:
            return ancestor in self.ancestors(rev)
        floor = generation[ancestor]
        seen = {rev}
        stack = [rev]
        while stack:
            for parent in self.parent_dag.predecessors(stack.pop()):
                if parent == ancestor:
                    return True
                if parent not in seen and generation[parent] > floor:
                    seen.add(parent)
                    stack.append(parent)
        return False

    def cycles(self) -> Iterator[list[str]]:
        """Each group of revisions that reach themselves through parent/dependency links."""
        for component in nx.strongly_connected_components(self.dag):
            if len(component) > 1:
                yield sorted(component)

    def nearest_labels(self, rev: str) -> frozenset[str]:
        """The branch labels declared nearest to `rev` by ancestry: those of the labelled
        revisions among `rev` and its `down_revision` ancestors that no other of them descends
        from. Distance does not count, so a redundant merge parent (an ancestor of another
        parent) changes nothing, as in Alembic, where a label spreads to every descendant."""
        own = self.revisions[rev].labels
        if own:
            return frozenset(own)
        labelled: list[str] = []
        seen = {rev}
        stack = [rev]
        while stack:
            for parent in self.parent_dag.predecessors(stack.pop()):
                if parent in seen:
                    continue
                seen.add(parent)
                if self.revisions[parent].labels:
                    labelled.append(parent)  # the walk stops at the first label on each path
                else:
                    stack.append(parent)
        nearest = [
            r
            for r in labelled
            if not any(
                s != r and self.is_ancestor(r, s) and not self.is_ancestor(s, r) for s in labelled
            )
        ]
        return frozenset(label for r in nearest for label in self.revisions[r].labels)

    def reaching_bases(self, rev: str) -> set[str]:
        """The bases `rev` descends from through `down_revision` links (itself included)."""
        bases = set(self.bases)
        return {r for r in self.ancestors(rev) | {rev} if r in bases}
