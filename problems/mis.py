"""Maximum independent set (MIS): the largest set of pairwise non-adjacent vertices of a graph.

Formats: DIMACS edge files (``p edge N M``, then ``e u v`` with 1-based vertices, ``c`` comment
lines; Sloane's ``.txt`` graphs and QOBLIB's ``.gph``), and QOBLIB's ``.opt.sol`` beside a
``.gph`` (``#`` comment lines, one of them ``# Objective value = k``, then one vertex a line),
read as a known optimal solution. Generators (networkx, seeded): G(n, p), random d-regular, and
named graphs. Vertices are numbered from 0 inside the harness; decision variable ``x[v]`` is 1
when vertex ``v`` is in the set.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import networkx as nx
import numpy as np
from qiskit_optimization import QuadraticProgram

from qbench.errors import InputFileError
from qbench.instances import ManifestEntry
from qbench.params import check
from qbench.parsing import check_memory, lines, parse_int, split_fields
from qbench.problem import Evaluation, Problem, ProblemFamily, Reference


@dataclass(frozen=True, eq=False)
class Mis(Problem):
    """maximise sum_v x_v  s.t.  x_u + x_v <= 1 for every edge {u, v},  x in {0,1}^n.

    ``edges`` holds each edge once as ``(u, v)`` with ``u < v``, sorted. ``solution`` is a known
    optimal set (a QOBLIB ``.opt.sol``) as a decision vector, when the instance comes with one.
    """

    name: str
    n_vertices: int
    edges: tuple[tuple[int, int], ...]
    reference: Reference = Reference.unknown()
    solution: np.ndarray | None = None

    kind = "mis"
    sense = "max"

    def __post_init__(self) -> None:
        if self.n_vertices < 1:
            raise ValueError(f"a graph needs at least one vertex, got {self.n_vertices}")
        for u, v in self.edges:
            if not 0 <= u < v < self.n_vertices:
                raise ValueError(f"edge ({u}, {v}) is not (u, v) with 0 <= u < v < {self.n_vertices}")
        if len(set(self.edges)) != len(self.edges):
            raise ValueError("duplicate edges")

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    @cached_property
    def _edge_array(self) -> np.ndarray:
        return np.array(self.edges, dtype=np.int64).reshape(-1, 2)

    @cached_property
    def _edge_set(self) -> frozenset[tuple[int, int]]:
        return frozenset(self.edges)

    def graph(self) -> nx.Graph:
        """The instance as a networkx graph on vertices ``0..n-1``."""
        g = nx.Graph()
        g.add_nodes_from(range(self.n_vertices))
        g.add_edges_from(self.edges)
        return g

    def describe(self) -> str:
        return f"{self.n_vertices} vertices, {self.n_edges} edges"

    def payload(self) -> dict:
        return {"n_vertices": self.n_vertices, "edges": [list(e) for e in self.edges]}

    def to_quadratic_program(self) -> QuadraticProgram:
        qp = QuadraticProgram(f"mis_{self.name}")
        names = [f"x[{v}]" for v in range(self.n_vertices)]
        for name in names:
            qp.binary_var(name)
        qp.maximize(linear={name: 1.0 for name in names})
        for u, v in self.edges:
            # Named edge[u,v] so the penalty formulation sees one constraint group, "edge";
            # qiskit-optimization penalises x_u + x_v <= 1 as P x_u x_v, with no slack bit.
            qp.linear_constraint({names[u]: 1.0, names[v]: 1.0}, "<=", 1.0, f"edge[{u},{v}]")
        return qp

    def evaluate(self, x: np.ndarray) -> Evaluation:
        x = self._vector(x)
        ends = self._edge_array
        violated = int(np.count_nonzero(x[ends[:, 0]] & x[ends[:, 1]])) if self.n_edges else 0
        return Evaluation(float(x.sum()), violated == 0, float(violated))

    def _vector(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x).round().astype(np.int64)
        if x.shape != (self.n_vertices,):
            raise ValueError(f"expected {self.n_vertices} values, got shape {x.shape}")
        return x

    def build_mip(self, model):
        """Clique formulation: one ``sum_{v in C} x_v <= 1`` per clique ``C`` of an edge clique
        cover. Every edge lies in some clique, so the model is exact, and its LP relaxation is at
        least as tight as the edge formulation's (a triangle allows 3/2 with edge constraints,
        1 with its clique constraint)."""
        from pyscipopt import quicksum

        x = [model.addVar(f"x{v}", vtype="B") for v in range(self.n_vertices)]
        model.setObjective(quicksum(x), "maximize")
        for k, clique in enumerate(clique_cover(self.graph())):
            model.addCons(quicksum(x[v] for v in clique) <= 1, name=f"clique_{k}")
        return lambda m: np.array([round(m.getVal(v)) for v in x], dtype=np.int8)

    def repair(self, x: np.ndarray) -> np.ndarray:
        """A maximal independent set from ``x``: drop the vertex with the most neighbours in the
        set (lowest index on ties) until no edge is inside it, then add the free vertex of lowest
        degree (lowest index on ties) while one remains."""
        chosen = self._vector(x).astype(bool)
        g = self.graph()
        conflicts = np.array([sum(chosen[w] for w in g[v]) if chosen[v] else 0 for v in g], dtype=np.int64)
        while conflicts.max(initial=0) > 0:
            v = int(np.argmax(conflicts))
            chosen[v], conflicts[v] = False, 0
            for w in g[v]:
                if chosen[w]:
                    conflicts[w] -= 1
        degree = np.array([g.degree(v) for v in g], dtype=np.int64)
        for v in np.argsort(degree, kind="stable"):
            if not chosen[v] and not any(chosen[w] for w in g[v]):
                chosen[v] = True
        return chosen.astype(np.int8)

    def forbids_tie(self, i: int, j: int, same: bool) -> bool:
        """Equating the variables of two adjacent vertices puts both in the set or neither."""
        return same and (min(i, j), max(i, j)) in self._edge_set


def clique_cover(graph: nx.Graph) -> list[list[int]]:
    """An edge clique cover built greedily: each still uncovered edge (in sorted order) grows
    into a maximal clique, preferring at every step the candidate vertex that covers the most
    uncovered edges (lowest label on ties).

    networkx offers maximal-clique enumeration (``find_cliques``) but no cover, and enumeration
    is exponential in the worst case; this greedy is O(m n^2) and deterministic.
    """
    uncovered = {(min(u, v), max(u, v)) for u, v in graph.edges}
    cliques = []
    for u, v in sorted(uncovered):
        if (u, v) not in uncovered:
            continue
        clique = [u, v]
        candidates = set(graph[u]) & set(graph[v])
        while candidates:
            def gain(w: int) -> tuple[int, int]:
                new = sum((min(w, c), max(w, c)) in uncovered for c in clique)
                return (new, -w)

            best = max(candidates, key=gain)
            clique.append(best)
            candidates &= set(graph[best])
        for a in clique:
            for b in clique:
                uncovered.discard((a, b))
        cliques.append(sorted(clique))
    return cliques


#: Named graphs the generator offers; those taking ``n`` use ``problem.generator.n``.
NAMED_GRAPHS: dict[str, Callable[[int], nx.Graph]] = {
    "petersen": lambda n: nx.petersen_graph(),
    "cubical": lambda n: nx.cubical_graph(),
    "octahedral": lambda n: nx.octahedral_graph(),
    "dodecahedral": lambda n: nx.dodecahedral_graph(),
    "icosahedral": lambda n: nx.icosahedral_graph(),
    "heawood": lambda n: nx.heawood_graph(),
    "frucht": lambda n: nx.frucht_graph(),
    "karate": lambda n: nx.karate_club_graph(),
    "florentine": lambda n: nx.florentine_families_graph(),
    "cycle": nx.cycle_graph,
    "path": nx.path_graph,
    "complete": nx.complete_graph,
    "star": lambda n: nx.star_graph(n - 1),
    "wheel": nx.wheel_graph,
    "ladder": lambda n: nx.ladder_graph(n // 2),
}
_SIZED = {"cycle", "path", "complete", "star", "wheel", "ladder"}


@dataclass(frozen=True)
class Generator:
    """``graph``: ``gnp`` (Erdos-Renyi G(n, p)), ``regular`` (uniform random ``degree``-regular
    graph on n vertices) or ``named`` (``graph_name``, one of :data:`NAMED_GRAPHS`; the sized
    ones use n). ``seed`` drives the random graphs."""

    graph: Literal["gnp", "regular", "named"] = "gnp"
    n: int = 10
    p: float = 0.3
    degree: int = 3
    graph_name: str = "petersen"
    seed: int = 0

    def __post_init__(self) -> None:
        check(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        check(self.n >= 1, "n", f"must be >= 1, got {self.n}")
        check(0 <= self.p <= 1, "p", f"must be in [0, 1], got {self.p}")
        check(self.degree >= 0, "degree", f"must be >= 0, got {self.degree}")
        if self.graph == "regular":
            check(self.degree < self.n, "degree", f"must be < n={self.n} for a regular graph, got {self.degree}")
            check(self.degree * self.n % 2 == 0, "degree", f"degree * n must be even, got {self.degree} * {self.n}")
        check(
            self.graph_name in NAMED_GRAPHS,
            "graph_name",
            f"unknown graph {self.graph_name!r}; choose one of {', '.join(sorted(NAMED_GRAPHS))}",
        )
        if self.graph == "named" and self.graph_name in ("ladder", "star", "wheel"):
            check(self.n >= 2, "n", f"must be >= 2 for a {self.graph_name} graph, got {self.n}")


@dataclass(frozen=True)
class Options:
    """MIS instances have no options."""


def generate(params: Generator, options: Options | None = None) -> Mis:
    if params.graph == "gnp":
        g = nx.gnp_random_graph(params.n, params.p, seed=params.seed)
        name = f"gen-gnp-n{params.n}-p{params.p:g}-s{params.seed}"
    elif params.graph == "regular":
        g = nx.random_regular_graph(params.degree, params.n, seed=params.seed)
        name = f"gen-regular-n{params.n}-d{params.degree}-s{params.seed}"
    else:
        g = NAMED_GRAPHS[params.graph_name](params.n)
        name = f"{params.graph_name}-n{params.n}" if params.graph_name in _SIZED else params.graph_name
    return from_graph(name, g)


def from_graph(name: str, graph: nx.Graph, reference: Reference = Reference.unknown()) -> Mis:
    """An instance from any networkx graph (nodes relabelled 0..n-1 in their order)."""
    g = nx.convert_node_labels_to_integers(graph)
    edges = sorted({(min(u, v), max(u, v)) for u, v in g.edges if u != v})
    return Mis(name, g.number_of_nodes(), tuple(edges), reference)


#: Memory a vertex costs the harness's models (measured: about 340 bytes in a qiskit
#: QuadraticProgram, 220 in a networkx graph), for refusing a vertex count N up front: a
#: DIMACS file may declare isolated vertices, so its edges do not bound N.
BYTES_PER_VERTEX = 1024


def read_dimacs(path: Path) -> tuple[int, list[tuple[int, int]]]:
    """Vertex count and 0-based edges ``(u, v)``, ``u < v``, of a DIMACS edge file.

    Checks the ``p`` line comes first and once, N fits in memory, vertices are in 1..N, there
    are no self loops, and the number of ``e`` lines equals the declared M (a truncated file is
    caught). An edge listed twice (in either direction) is kept once. DIMACS lines are tagged
    (``c``/``p``/``e``), so the file is read line by line (:func:`qbench.parsing.lines`), not as
    a plain NumberStream.
    """
    n = declared = header_line = None
    count = 0
    edges: set[tuple[int, int]] = set()
    for number, line in lines(path):
        tokens = split_fields(line)
        tag = tokens[0]
        if tag == "c":
            continue
        if tag == "p":
            if header_line is not None:
                raise InputFileError(path, f"second 'p' line (the first is line {header_line})", number)
            if len(tokens) != 4 or tokens[1] not in ("edge", "col"):
                raise InputFileError(path, f"expected 'p edge N M', got {line!r}", number)
            n = parse_int(path, tokens[2], number, "vertex count N", minimum=1)
            declared = parse_int(path, tokens[3], number, "edge count M", minimum=0)
            check_memory(path, number, f"N={n} vertices", n * BYTES_PER_VERTEX)
            header_line = number
        elif tag == "e":
            if n is None:
                raise InputFileError(path, "edge line before the 'p edge N M' line", number)
            if len(tokens) != 3:
                raise InputFileError(path, f"expected 'e u v', got {line!r}", number)
            u, v = (parse_int(path, t, number, "vertex", minimum=1) for t in tokens[1:])
            for w in (u, v):
                if w > n:
                    raise InputFileError(path, f"vertex {w} out of range 1..{n}", number)
            if u == v:
                raise InputFileError(path, f"self loop on vertex {u}", number)
            edges.add((min(u, v) - 1, max(u, v) - 1))
            count += 1
        else:
            raise InputFileError(path, f"unknown line type {tag!r}; expected c, p or e", number)
    if n is None:
        raise InputFileError(path, "no 'p edge N M' line")
    if count != declared:
        raise InputFileError(path, f"'p' line declares {declared} edges but the file has {count}", header_line)
    return n, sorted(edges)


_OBJECTIVE = re.compile(r"objective value\s*=\s*(\S+)", re.IGNORECASE)


def read_solution(path: Path, problem: Mis) -> np.ndarray:
    """A QOBLIB ``.opt.sol`` (1-based vertices, one a line) as a decision vector of ``problem``.

    The set must be independent and, when the file states ``Objective value = k``, of size k.
    """
    x = np.zeros(problem.n_vertices, dtype=np.int8)
    listed_on: dict[int, int] = {}
    stated = stated_line = None
    for number, line in lines(path):
        if line.startswith("#"):
            match = _OBJECTIVE.search(line)
            if match:
                stated = parse_int(path, match.group(1), number, "objective value", minimum=0)
                stated_line = number
            continue
        v = parse_int(path, line, number, "vertex", minimum=1)
        if v > problem.n_vertices:
            raise InputFileError(path, f"vertex {v} out of range 1..{problem.n_vertices}", number)
        if x[v - 1]:
            raise InputFileError(path, f"vertex {v} listed twice", number)
        x[v - 1] = 1
        listed_on[v - 1] = number
    if stated is not None and stated != int(x.sum()):
        raise InputFileError(path, f"states objective {stated} but lists {int(x.sum())} vertices", stated_line)
    inside = [(u, v) for u, v in problem.edges if x[u] and x[v]]
    if inside:
        u, v = inside[0]
        raise InputFileError(
            path, f"not an independent set: {len(inside)} edge(s) inside it, the first {u + 1}-{v + 1}",
            max(listed_on[u], listed_on[v]),
        )
    return x


def load(path: Path, options: Options | None = None, entry: ManifestEntry | None = None) -> Mis:
    """Read a DIMACS edge file and, if one lies beside it, its ``.opt.sol``.

    The reference is the manifest's for a known instance; otherwise the size of the ``.opt.sol``
    set (a claimed optimum, not verified here); otherwise unknown.
    """
    path = Path(path)
    n, edges = read_dimacs(path)
    problem = Mis(entry.name if entry else path.stem, n, tuple(edges))
    solution_path = path.with_suffix(".opt.sol")
    solution = read_solution(solution_path, problem) if solution_path.is_file() else None
    if entry is not None:
        reference = Reference(float(entry.reference), entry.reference_source, entry.proven)
        if solution is not None and int(solution.sum()) != entry.reference:
            raise InputFileError(
                solution_path, f"holds a set of size {int(solution.sum())}, the manifest says {entry.reference}"
            )
    elif solution is not None:
        reference = Reference(float(solution.sum()), solution_path.name, proven=False)
    else:
        reference = Reference.unknown()
    return Mis(problem.name, n, tuple(edges), reference, solution)


FAMILY = ProblemFamily(
    kind="mis",
    description="maximum independent set (maximise the set size)",
    Generator=Generator,
    Options=Options,
    generate=generate,
    load=load,
)
