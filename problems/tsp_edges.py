"""Travelling salesman, edge model: one binary per undirected edge, degree 2, no subtours.

The decision vector holds ``e[i,j] = 1`` iff the tour uses edge ``{i, j}``, one entry per edge
``i < j`` in lexicographic order ``(0,1), (0,2), ..., (0,n-1), (1,2), ...`` (n(n-1)/2 variables;
see :class:`EdgeLayout`). The constrained model (Dantzig, Fulkerson & Johnson) is

* ``degree[i]``: ``sum_{e in delta(i)} e = 2`` for every city,
* ``subtour[S]``: ``sum_{e in E(S)} e <= |S| - 1`` for the subsets ``S`` that :func:`subtour_sets`
  lists (named by their cities, e.g. ``subtour[0,1,2]``),

with objective ``sum_e d_e e``. The subtour rows are inequalities, so a penalty QUBO needs slack
bits for them; slack-free methods (Lagrangian, unbalanced penalization) need none, which is the
comparison this model exists for (the assignment model of :mod:`problems.tsp` has equalities only).

Which subsets: ``subtours="nonredundant"`` (default) keeps ``3 <= |S| <= n/2`` and, when
``|S| = n/2``, only the sets holding city 0. For 0/1 vectors meeting the degree rows nothing is
lost: ``|S| = 2`` reads ``e <= 1``, which binaries satisfy anyway, and ``S`` and its complement
give equivalent rows (``e(E(S)) = |S| - e(delta(S))/2``). Every kept row is needed: the two
cycles on ``S`` and on its complement break that row and its complement's only. So 4 and 5
cities need no subtour row at all. ``subtours="all"`` lists every ``S`` with
``2 <= |S| <= n - 2``, the textbook enumeration (2^n - 2n - 2 rows), for comparison with
models written that way.

SCIP solves both TSP models through :func:`add_edge_model`: the same variables with the subtour
rows separated lazily by :class:`SubtourElimination`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations
from typing import Literal

import numpy as np
from pyscipopt import SCIP_RESULT, Conshdlr, quicksum
from qiskit_optimization import QuadraticProgram

from qbench.errors import ResourceLimitError
from qbench.problem import Evaluation, Problem, Reference

Subtours = Literal["nonredundant", "all"]

#: Most subtour rows :meth:`TspEdges.to_quadratic_program` writes out: 12 cities, nonredundant
#: (1969 rows; their penalty QUBO has 5258 variables and takes ~16 s to build on 2 cores), or 10
#: cities, all. Beyond it the explicit model is refused; SCIP never needs it (lazy cuts).
MAX_SUBTOUR_ROWS = 2000


class CityDistances:
    """What both TSP models share: the distance matrix of n >= 3 cities, checked on creation."""

    distances: np.ndarray

    def __post_init__(self) -> None:
        n = self.distances.shape[0]
        if self.distances.shape != (n, n) or n < 3:
            raise ValueError(f"distances must be square with >= 3 cities, got {self.distances.shape}")

    @property
    def n(self) -> int:
        return int(self.distances.shape[0])

    def objective_is_integral(self) -> bool:
        """A tour's length is integral when every distance is (TSPLIB's rounded distances); read
        from the data, not from the model (the edge model can be too large to write out)."""
        return bool(np.all(np.mod(self.distances, 1) == 0))


def closed_tour_length(distances: np.ndarray, tour: np.ndarray) -> float:
    """Length of the closed tour visiting ``tour`` (0-based cities) in order."""
    tour = np.asarray(tour)
    return float(distances[tour, np.roll(tour, -1)].sum())


def subtour_sets(n: int, subtours: Subtours) -> Iterator[tuple[int, ...]]:
    """The city sets ``S`` of the subtour rows, by size, then lexicographically (see the module
    docstring for the two choices)."""
    if subtours == "all":
        for size in range(2, n - 1):
            yield from combinations(range(n), size)
        return
    for size in range(3, n // 2 + 1):
        if 2 * size == n:
            yield from ((0, *rest) for rest in combinations(range(1, n), size - 1))
        else:
            yield from combinations(range(n), size)


def count_subtour_sets(n: int, subtours: Subtours) -> int:
    """``len(list(subtour_sets(n, subtours)))`` without listing them."""
    from math import comb

    if subtours == "all":
        return sum(comb(n, k) for k in range(2, n - 1))
    return sum(comb(n - 1, k - 1) if 2 * k == n else comb(n, k) for k in range(3, n // 2 + 1))


@dataclass(frozen=True)
class EdgeLayout:
    """The edges of the complete graph on ``n`` cities in decision-vector order."""

    n: int

    @cached_property
    def edges(self) -> list[tuple[int, int]]:
        return list(combinations(range(self.n), 2))

    @cached_property
    def _index(self) -> np.ndarray:
        """``index[i, j]`` = position of edge ``{i, j}`` (-1 on the diagonal)."""
        index = np.full((self.n, self.n), -1, dtype=int)
        for k, (i, j) in enumerate(self.edges):
            index[i, j] = index[j, i] = k
        return index

    @property
    def num_variables(self) -> int:
        return len(self.edges)

    def names(self) -> list[str]:
        return [f"e[{i},{j}]" for i, j in self.edges]

    def index(self, i: int, j: int) -> int:
        return int(self._index[i, j])

    def check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x).ravel()
        if x.shape != (self.num_variables,):
            raise ValueError(f"expected {self.num_variables} values, got shape {x.shape}")
        return x

    @cached_property
    def _ends(self) -> tuple[np.ndarray, np.ndarray]:
        """The two cities of every edge, in decision-vector order."""
        ends = np.array(self.edges, dtype=int).reshape(-1, 2)
        return ends[:, 0], ends[:, 1]

    def chosen(self, x: np.ndarray) -> list[tuple[int, int]]:
        """The edges set to 1 (values rounded)."""
        x = self.check(x)
        return [self.edges[k] for k in np.flatnonzero(np.round(x) == 1)]

    def degrees(self, x: np.ndarray) -> np.ndarray:
        """Chosen edges at every city (values rounded)."""
        on = np.round(self.check(x)) == 1
        first, second = self._ends
        return np.bincount(first[on], minlength=self.n) + np.bincount(second[on], minlength=self.n)

    def components(self, x: np.ndarray) -> np.ndarray:
        """The connected component of every city under the chosen edges (labels 0, 1, ...)."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        on = np.round(self.check(x)) == 1
        first, second = self._ends
        graph = coo_matrix((np.ones(int(on.sum())), (first[on], second[on])), shape=(self.n, self.n))
        return connected_components(graph, directed=False)[1]

    def violation(self, x: np.ndarray) -> float:
        """``sum_i |deg(i) - 2|`` plus, when the chosen edges fall apart into several
        components, each component's excess ``e(E(C)) - (|C| - 1)`` over its subtour bound
        (positive iff the component holds a cycle).

        0 iff ``x`` is a tour: degrees of 2 make every component a cycle, and cycles form one
        component only when it spans all cities. A tour split into k subtours has violation k.
        """
        on = np.round(self.check(x)) == 1
        violation = float(np.abs(self.degrees(x) - 2).sum())
        label = self.components(x)
        pieces = int(label.max()) + 1
        if pieces > 1:
            inside = np.bincount(label[self._ends[0][on]], minlength=pieces)
            violation += float(np.maximum(0, inside - (np.bincount(label, minlength=pieces) - 1)).sum())
        return violation

    def tour(self, x: np.ndarray) -> np.ndarray | None:
        """The cities in tour order from city 0 towards its smaller neighbour when the chosen
        edges form one Hamiltonian cycle, else ``None``."""
        x = self.check(x)
        if np.any((x != 0) & (x != 1)) or np.any(self.degrees(x) != 2):
            return None
        neighbours: dict[int, list[int]] = {k: [] for k in range(self.n)}
        for i, j in self.chosen(x):
            neighbours[i].append(j)
            neighbours[j].append(i)
        tour = [0, min(neighbours[0])]
        while len(tour) < self.n:
            a, b = neighbours[tour[-1]]
            nxt = a if a != tour[-2] else b
            if nxt == 0:  # closed a cycle shorter than n: a subtour
                return None
            tour.append(nxt)
        return np.array(tour)

    def from_tour(self, tour: np.ndarray) -> np.ndarray:
        """The decision vector of the closed tour visiting ``tour`` in order."""
        tour = np.asarray(tour)
        x = np.zeros(self.num_variables, dtype=np.int8)
        x[self._index[tour, np.roll(tour, -1)]] = 1
        return x

    def from_edges(self, edges: Iterable[tuple[int, int]]) -> np.ndarray:
        """The decision vector with exactly ``edges`` (pairs of cities, either order) set."""
        x = np.zeros(self.num_variables, dtype=np.int8)
        for i, j in edges:
            x[self.index(i, j)] = 1
        return x


@dataclass(frozen=True, eq=False)
class TspEdges(CityDistances, Problem):
    """minimise the length of a closed tour visiting every city once, over edge variables.

    :meth:`forbids_tie` keeps the default (no rule): any two edges lie on a common tour, so
    setting two edge variables to 1 together never forces a violation by itself.
    """

    name: str
    distances: np.ndarray
    subtours: Subtours = "nonredundant"
    reference: Reference = Reference.unknown()
    #: Map positions of the cities for drawing tours (see :class:`problems.tsp.Tsp`).
    coordinates: np.ndarray | None = None

    kind = "tsp"
    sense = "min"
    #: Which TSP model the decision vector belongs to (``problem.model`` in the config).
    model = "edge"

    @cached_property
    def layout(self) -> EdgeLayout:
        return EdgeLayout(self.n)

    @cached_property
    def _lengths(self) -> np.ndarray:
        """``d_e`` in decision-vector order."""
        return np.array([self.distances[i, j] for i, j in self.layout.edges], dtype=float)

    @property
    def num_subtour_rows(self) -> int:
        return count_subtour_sets(self.n, self.subtours)

    def describe(self) -> str:
        return f"{self.n} cities, edge model, {self.num_subtour_rows} subtour rows ({self.subtours})"

    def payload(self) -> dict:
        return {"distances": self.distances}

    def size(self) -> dict[str, int]:
        """Counted, not built: the explicit model is exponential in n (see :data:`MAX_SUBTOUR_ROWS`)."""
        return {"variables": self.layout.num_variables, "constraints": self.n + self.num_subtour_rows}

    def tour_length(self, tour: np.ndarray) -> float:
        return closed_tour_length(self.distances, tour)

    def tour(self, x: np.ndarray) -> np.ndarray | None:
        """The tour ``x`` encodes (cities in order from city 0), or ``None`` when it is none."""
        return self.layout.tour(x)

    def to_quadratic_program(self) -> QuadraticProgram:
        rows = self.num_subtour_rows
        if rows > MAX_SUBTOUR_ROWS:
            raise ResourceLimitError(
                f"tsp edge model: {self.n} cities need {rows} subtour rows ({self.subtours}), more "
                f"than the {MAX_SUBTOUR_ROWS} written out explicitly; use problem.model=position, "
                "or solver=scip (which adds subtour cuts lazily)"
            )
        qp = QuadraticProgram(f"tsp_edges_{self.name}")
        names = self.layout.names()
        for name in names:
            qp.binary_var(name)
        for k in range(self.n):
            terms = {names[self.layout.index(k, m)]: 1 for m in range(self.n) if m != k}
            qp.linear_constraint(terms, "==", 2, f"degree[{k}]")
        for s in subtour_sets(self.n, self.subtours):
            terms = {names[self.layout.index(i, j)]: 1 for i, j in combinations(s, 2)}
            qp.linear_constraint(terms, "<=", len(s) - 1, f"subtour[{','.join(map(str, s))}]")
        qp.minimize(linear=dict(zip(names, self._lengths.tolist())))
        return qp

    def evaluate(self, x: np.ndarray) -> Evaluation:
        """Feasible iff the chosen edges form one Hamiltonian cycle; the objective is the sum of
        the chosen edges' lengths (the tour length when feasible, the QP objective always); the
        violation is :meth:`EdgeLayout.violation`."""
        x = self.layout.check(np.asarray(x, dtype=float))
        violation = self.layout.violation(x)
        return Evaluation(float(self._lengths @ x), violation == 0, violation)

    def build_mip(self, model):
        """The edge model with lazily separated subtour cuts (:func:`add_edge_model`); the
        extractor returns the edge vector of SCIP's tour."""
        edge = add_edge_model(model, self.distances)

        def extract(m) -> np.ndarray:
            return self.layout.from_edges(e for e, v in edge.items() if m.getVal(v) > 0.5)

        return extract

    def repair(self, x: np.ndarray) -> np.ndarray:
        """A tour that keeps ``x``'s edges where it can, by greedy edge insertion.

        Edges are taken shortest first, the chosen ones of ``x`` before all others, and an edge
        is kept when both its cities have fewer than two kept edges and it closes no cycle; the
        result is a Hamiltonian path, closed into a tour by the edge joining its two ends. A tour
        comes back unchanged (its edges but one are kept first, and the last one closes it);
        deterministic (ties broken by edge order). Written here because networkx's TSP
        heuristics start from scratch rather than from a partial edge set.
        """
        from networkx.utils import UnionFind

        x = self.layout.check(x)
        chosen = np.round(x) == 1
        # Stable sort: the chosen edges first, each group by length, then by edge order.
        order = np.lexsort((self._lengths, ~chosen))
        degree = np.zeros(self.n, dtype=int)
        pieces = UnionFind(range(self.n))
        kept: list[tuple[int, int]] = []
        for k in order:
            if len(kept) == self.n - 1:
                break
            i, j = self.layout.edges[k]
            if degree[i] < 2 and degree[j] < 2 and pieces[i] != pieces[j]:
                kept.append((i, j))
                degree[i] += 1
                degree[j] += 1
                pieces.union(i, j)
        ends = np.flatnonzero(degree < 2)
        kept.append((int(ends[0]), int(ends[1])))
        return self.layout.from_edges(kept)


def add_edge_model(model, distances: np.ndarray) -> dict[tuple[int, int], object]:
    """The edge model with subtour elimination constraints (Dantzig, Fulkerson & Johnson) in
    SCIP: binaries ``e[i,j]`` (i < j), degree 2 at every city, and ``e(delta(S)) >= 2`` for every
    proper subset S, added lazily by :class:`SubtourElimination` (integer solutions: connected
    components; LP solutions: a global minimum cut, so the root bound is the subtour bound).
    Returns the edge variables by ``(i, j)``.
    """
    n, d = distances.shape[0], distances
    edge = {(i, j): model.addVar(f"e_{i}_{j}", vtype="B") for i in range(n) for j in range(i + 1, n)}
    for k in range(n):
        model.addCons(quicksum(v for (i, j), v in edge.items() if k in (i, j)) == 2, name=f"degree_{k}")
    model.setObjective(quicksum(float(d[i, j]) * v for (i, j), v in edge.items()), "minimize")
    handler = SubtourElimination(n, edge)
    model.includeConshdlr(
        handler, "subtour", "subtour elimination", sepapriority=1, enfopriority=-1,
        chckpriority=-1, sepafreq=1,
    )
    model.addPyCons(model.createCons(handler, "subtours"))
    return edge


#: How far below 2 a cut must be to count as violated.
CUT_TOLERANCE = 1e-4


class SubtourElimination(Conshdlr):
    """SCIP constraint handler for ``e(delta(S)) >= 2``: checks, enforces and separates them.

    A solution violates some such cut iff the graph of its edge values is disconnected or has a
    cut of weight < 2; networkx's Stoer–Wagner global minimum cut finds one (n is small here).
    """

    def __init__(self, n: int, edge: dict) -> None:
        super().__init__()
        self.n, self.edge = n, edge

    def _violated_sets(self, solution=None) -> list[set[int]]:
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(range(self.n))
        for (i, j), v in self.edge.items():
            value = self.model.getSolVal(solution, v)
            if value > 1e-6:
                graph.add_edge(i, j, weight=value)
        components = list(nx.connected_components(graph))
        if len(components) > 1:
            return components
        weight, (side, _) = nx.stoer_wagner(graph)
        # A cut violated by less than SCIP's tolerances could be "added" forever without
        # changing the LP; integral solutions violate a cut by at least 1.
        return [set(side)] if weight < 2 - CUT_TOLERANCE else []

    def _add_cuts(self, solution=None) -> bool:
        sets = self._violated_sets(solution)
        for s in sets:
            crossing = [v for (i, j), v in self.edge.items() if (i in s) != (j in s)]
            self.model.addCons(quicksum(crossing) >= 2, removable=True, name=f"subtour_{len(s)}")
        return bool(sets)

    def conscheck(self, constraints, solution, checkintegrality, checklprows, printreason, completely):
        return {"result": SCIP_RESULT.INFEASIBLE if self._violated_sets(solution) else SCIP_RESULT.FEASIBLE}

    def consenfolp(self, constraints, nusefulconss, solinfeasible):
        return {"result": SCIP_RESULT.CONSADDED if self._add_cuts() else SCIP_RESULT.FEASIBLE}

    def consenfops(self, constraints, nusefulconss, solinfeasible, objinfeasible):
        return {"result": SCIP_RESULT.INFEASIBLE if self._violated_sets() else SCIP_RESULT.FEASIBLE}

    def conssepalp(self, constraints, nusefulconss):
        return {"result": SCIP_RESULT.CONSADDED if self._add_cuts() else SCIP_RESULT.DIDNOTFIND}

    def conslock(self, constraint, locktype, nlockspos, nlocksneg):
        # A cut ">= 2" with positive coefficients can only be broken by decreasing a variable.
        for v in self.edge.values():
            self.model.addVarLocksType(v, locktype, nlockspos, nlocksneg)
