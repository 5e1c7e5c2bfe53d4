"""RevisionFiles -> RevisionGraph, with exactly the semantics of Alembic's RevisionMap.

Alembic builds its map in load order: a later file with the same id replaces the earlier one;
branch labels join the id namespace; a `depends_on` entry is looked up among ids and labels, a
`down_revision` entry among ids only (a branch label there is `KeyError: '<label>'`); a
`depends_on` that Alembic normalises to an empty value (`""`, `("",)`, `()`) is no dependency.
`heads` are revisions no other revision names as a `down_revision` (`depends_on` does not
count); `bases` are revisions whose `down_revision` is None, `()` or `[]`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from chainlint.discover import Environment
from chainlint.read import Assignment, Identifier, RevisionFile
from chainlint.records import record

if TYPE_CHECKING:
    # Imported when a graph is built, not when a module merely names the class.
    import networkx as nx

PARENT = "parent"
DEPENDENCY = "dependency"
_DEPENDENCY = {"kind": DEPENDENCY}


@record
class DanglingReference:
    """A `down_revision` or `depends_on` entry that names no revision (and no branch label)."""

    revision: str
    file: RevisionFile
    field: str
    identifier: Identifier
    # For a `down_revision` that names a branch label: the revision carrying the label.
    label_holder: str | None = None


@record
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


def topological_order(
    links_in: Mapping[str, Sequence[str]], links_out: Mapping[str, Sequence[str]]
) -> list[str] | None:
    """networkx's `topological_sort` of the DiGraph with this adjacency (nodes in the order of
    `links_in`, each node's successors in the order of `links_out`), or None where it raises
    NetworkXUnfeasible (a cycle). networkx yields its `topological_generations` one after
    another: a first-in, first-out walk from the nodes without links into them, each node taken
    once its last link in is, gives that same order (tests/test_graph.py checks it against
    networkx), without building the DiGraph or paying its per-generation cost."""
    indegree = {node: len(parents) for node, parents in links_in.items()}
    order = [node for node, count in indegree.items() if count == 0]
    for node in order:  # grows as it is walked
        for child in links_out[node]:
            count = indegree[child] - 1
            indegree[child] = count
            if count == 0:
                order.append(child)
    return order if len(order) == len(indegree) else None


# What every node of the graphs, and every edge of `parent_dag`, holds as attributes: nothing,
# in one shared dict (networkx's own "low memory graph" subclassing pattern) instead of an
# empty dict per node and per edge (10k revisions: ~1.5 MB). Nothing sets an attribute on
# them; a depends_on edge's `kind` lives in a `dag` of its own (nx.DiGraph, a dict per edge).
_NO_ATTRIBUTES: dict[str, object] = {}


def _no_attributes() -> dict[str, object]:
    return _NO_ATTRIBUTES


_THIN_GRAPH: type[nx.DiGraph] | None = None


def _thin_graph() -> nx.DiGraph:
    """An empty DiGraph whose nodes and edges share one empty attribute dict."""
    global _THIN_GRAPH
    if _THIN_GRAPH is None:
        import networkx as nx

        class ThinDiGraph(nx.DiGraph):  # type: ignore[misc]
            node_attr_dict_factory = staticmethod(_no_attributes)
            edge_attr_dict_factory = staticmethod(_no_attributes)

        _THIN_GRAPH = ThinDiGraph
    return _THIN_GRAPH()


def longest_distances(
    order: Sequence[str], links_in: Mapping[str, Sequence[str]]
) -> dict[str, int]:
    """Each node's longest distance from a node without parents, along a topological order
    (networkx's), with each node's parents as read from the DiGraph."""
    generation: dict[str, int] = {}
    for node in order:
        distance = 0
        for parent in links_in[node]:
            if generation[parent] >= distance:
                distance = generation[parent] + 1
        generation[node] = distance
    return generation


class RevisionGraph:
    """One environment's revisions as networkx DiGraphs, edges pointing from parent to child.

    Their adjacency is also kept as tuples per revision (`parent_links`, `child_links`,
    `links_in`, `links_out`), for the walks over every revision that would otherwise pay
    networkx's per-call cost thousands of times. The DiGraphs are made when first asked for;
    the topological order (networkx's, see `topological_order`) is computed once, from the
    tuples."""

    def __init__(self, environment: Environment, files: Sequence[RevisionFile]) -> None:
        # networkx is imported when a DiGraph is first made (by _thin_graph), not at module
        # import: warm runs never build a graph.
        self.environment = environment
        self.files: tuple[RevisionFile, ...] = tuple(files)
        self.revisions: dict[str, RevisionFile] = {}
        self.duplicates: dict[str, list[RevisionFile]] = {}
        self.branch_labels: dict[str, str] = {}
        self.label_conflicts: list[LabelConflict] = []
        self.dangling: list[DanglingReference] = []
        # The revisions that declare branch labels, with their labels.
        self.labelled: dict[str, tuple[str, ...]] = {}
        # Whether some depends_on entry links two revisions that no down_revision links.
        self.dependency_links = False
        # Every link (down_revision and depends_on), and the down_revision links alone, per
        # revision: its parents and children in `parent_dag`, every link into it and out of it
        # in `dag` (the networkx DiGraphs, made from these when first asked for: the schema
        # rules' child process never needs them).
        self.parent_links: dict[str, tuple[str, ...]] = {}
        self.child_links: dict[str, tuple[str, ...]] = {}
        self.links_in: dict[str, tuple[str, ...]] = {}
        self.links_out: dict[str, tuple[str, ...]] = {}
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
        revisions = self.revisions
        for rev, file in revisions.items():
            labels = file.labels
            if labels:
                self.labelled[rev] = labels
            for label in labels:
                if label in self.branch_labels:
                    self.label_conflicts.append(
                        LabelConflict(label, file, self.branch_labels[label])
                    )
                elif label in revisions:
                    self.label_conflicts.append(LabelConflict(label, file, label))
                else:
                    self.branch_labels[label] = rev
        # Each revision's links in the order its entries name them, a repeated one once:
        # down_revision parents first, then depends_on targets that are not parents (the
        # edges the graphs get, in the order they always got them).
        parent_links: dict[str, tuple[str, ...]] = {}
        links_in: dict[str, tuple[str, ...]] = {}
        for rev, file in revisions.items():
            found: list[str] = []
            down = file.down_revision
            for identifier in down.items if down is not None else ():
                value = identifier.value
                if value is None:
                    continue
                if value in revisions:
                    if value not in found:
                        found.append(value)
                    continue
                holder = self.branch_labels.get(value)
                self.dangling.append(
                    DanglingReference(rev, file, "down_revision", identifier, holder)
                )
            parents = parent_links[rev] = tuple(found)
            for identifier in alembic_items(file, "depends_on"):
                value = identifier.value
                if value is None:
                    continue
                target = self.resolve(value)
                if target is None:
                    self.dangling.append(DanglingReference(rev, file, "depends_on", identifier))
                elif target not in found:
                    found.append(target)
            if len(found) == len(parents):
                links_in[rev] = parents
            else:
                links_in[rev] = tuple(found)
                self.dependency_links = True
        # The same adjacency as tuples per revision, for the walks over every revision: the
        # lists the DiGraphs' edges are made from, and their inversion (equal to the DiGraphs'
        # pred and succ in order: tests/test_graph.py; reading those views back costs 20 ms
        # each at 10k). Kept as tuples (a list per revision costs 40 bytes more), `()` shared by
        # the heads.
        children: dict[str, list[str]] = {rev: [] for rev in revisions}
        for rev, parents in parent_links.items():
            for parent in parents:
                children[parent].append(rev)
        child_links = {rev: tuple(found) if found else () for rev, found in children.items()}
        links_out = child_links  # without a depends_on link, dag has parent_dag's edges
        if self.dependency_links:
            children = {rev: [] for rev in revisions}
            for rev, linked in links_in.items():
                for parent in linked:
                    children[parent].append(rev)
            links_out = {rev: tuple(found) if found else () for rev, found in children.items()}
        del children
        self.parent_links, self.links_in = parent_links, links_in
        self.child_links, self.links_out = child_links, links_out

    @cached_property
    def parent_dag(self) -> nx.DiGraph:
        """The `down_revision` links as a networkx DiGraph, edges from parent to child."""
        graph = _thin_graph()
        graph.add_nodes_from(self.revisions)
        # The edges in bulk, in the order of the old one-by-one construction (each revision's
        # links in turn), so every networkx view iterates as it did.
        graph.add_edges_from(
            (parent, rev) for rev, parents in self.parent_links.items() for parent in parents
        )
        return graph

    @cached_property
    def dag(self) -> nx.DiGraph:
        """Every link (down_revision and depends_on); an edge's `kind` is DEPENDENCY for a
        depends_on link, and a down_revision link (PARENT) has no attribute."""
        if not self.dependency_links:
            # The same links: one graph, not two copies of it (10k revisions: ~6 MB each).
            return self.parent_dag
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from(self.revisions)
        parent_links = self.parent_links
        # A parent link carries no attribute (an attribute dict per edge costs 120 bytes).
        graph.add_edges_from(
            (parent, rev) if index < len(parent_links[rev]) else (parent, rev, _DEPENDENCY)
            for rev, linked in self.links_in.items()
            for index, parent in enumerate(linked)
        )
        return graph

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
        return self.child_links[rev]

    @cached_property
    def heads(self) -> tuple[str, ...]:
        children = self.child_links
        return tuple(rev for rev in self.revisions if not children[rev])

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
        return tuple(
            rev
            for rev, file in self.revisions.items()
            # `items` first: most revisions have one entry, and building `down_revisions` costs
            if file.down_revision is not None
            and len(file.down_revision.items) > 1
            and len(file.down_revisions) > 1
        )

    def ancestors(self, rev: str, *, include_dependencies: bool = False) -> set[str]:
        import networkx as nx

        graph = self.dag if include_dependencies else self.parent_dag
        return set(nx.ancestors(graph, rev))

    def descendants(self, rev: str, *, include_dependencies: bool = False) -> set[str]:
        import networkx as nx

        graph = self.dag if include_dependencies else self.parent_dag
        return set(nx.descendants(graph, rev))

    @cached_property
    def link_order(self) -> list[str] | None:
        """networkx's topological order of `dag` (parents and dependencies first), computed
        once for the schema replay and CL004; None when the links form a cycle."""
        return topological_order(self.links_in, self.links_out)

    @cached_property
    def generation(self) -> dict[str, int] | None:
        """Each revision's longest distance from a base through `down_revision` links (None
        when they form a cycle): an ancestor always has a smaller generation."""
        # Without a depends_on link, dag has the edges of parent_dag: the same order.
        order = (
            self.link_order
            if not self.dependency_links
            else topological_order(self.parent_links, self.child_links)
        )
        if order is None:
            return None
        return longest_distances(order, self.parent_links)

    @cached_property
    def link_generation(self) -> dict[str, int]:
        """Each revision's longest distance from a revision without links into it, through
        every link (empty when they form a cycle)."""
        if not self.dependency_links and self.generation is not None:
            return self.generation
        return longest_distances(self.link_order or [], self.links_in)

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
            for parent in self.parent_links[stack.pop()]:
                if parent == ancestor:
                    return True
                if parent not in seen and generation[parent] > floor:
                    seen.add(parent)
                    stack.append(parent)
        return False

    def cycles(self) -> Iterator[list[str]]:
        """Each group of revisions that reach themselves through parent/dependency links."""
        if self.link_order is not None:
            return  # in an order where every link points forward, nothing reaches itself
        import networkx as nx

        for component in nx.strongly_connected_components(self.dag):
            if len(component) > 1:
                yield sorted(component)

    def nearest_labels(self, rev: str) -> frozenset[str]:
        """The branch labels declared nearest to `rev` by ancestry: those of the labelled
        revisions among `rev` and its `down_revision` ancestors that no other of them descends
        from. Distance does not count, so a redundant merge parent (an ancestor of another
        parent) changes nothing, as in Alembic, where a label spreads to every descendant."""
        labelled_revisions = self.labelled
        own = labelled_revisions.get(rev)
        if own:
            return frozenset(own)
        labelled: list[str] = []
        seen = {rev}
        stack = [rev]
        while stack:
            for parent in self.parent_links[stack.pop()]:
                if parent in seen:
                    continue
                seen.add(parent)
                if parent in labelled_revisions:
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
