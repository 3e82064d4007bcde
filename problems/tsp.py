"""Travelling salesman (symmetric TSP): the shortest closed tour through n cities.

Format: TSPLIB ``.tsp`` (read by :mod:`problems.tsplib` with TSPLIB's distance rules) with an
optional ``NAME.opt.tour`` beside it. Generator: random integer points on a grid, EUC_2D distances.

The canonical model is the assignment (position) form QUBOs need: ``x[u,t] = 1`` iff city ``u``
is visited at step ``t``, one-hot rows (``row[u]``: each city once) and columns (``col[t]``: one
city per step), objective ``sum_t sum_{u,v} d[u,v] x[u,t] x[v,t+1 mod n]``. With the option
``fix_first_city`` (default) city 0 is fixed at step 0, which removes the n-fold rotational
symmetry and leaves (n-1)^2 variables (4 cities: 9 qubits). The decision vector is that model's
variable vector. SCIP gets a different, much stronger model: edges with lazily separated
subtour elimination constraints (see :meth:`Tsp.build_mip`).

The option ``model: edge`` makes the instance a :class:`problems.tsp_edges.TspEdges` instead:
one binary per undirected edge, degree equalities and subtour inequalities, the model whose
inequalities a penalty QUBO needs slack bits for. The decision vector (and a record's
``solution``) is then the edge vector.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from qiskit_optimization import QuadraticProgram

from qbench.problems import tsplib
from qbench.problems.assignment import AssignmentLayout, AssignmentProblem, add_objective
from qbench.problems.tsp_edges import (
    CityDistances, EdgeLayout, Subtours, TspEdges, add_edge_model, closed_tour_length,
)
from qbench.instances import ManifestEntry
from qbench.params import check
from qbench.problem import Evaluation, ProblemFamily, Reference


@dataclass(frozen=True, eq=False)
class Tsp(CityDistances, AssignmentProblem):
    """minimise the length of a closed tour visiting every city once (distances symmetric)."""

    name: str
    distances: np.ndarray
    fix_first_city: bool = True
    reference: Reference = Reference.unknown()
    #: Map positions of the cities for drawing tours (x, y; longitude, latitude for GEO files),
    #: when the instance has them; not part of the instance data (the distances are).
    coordinates: np.ndarray | None = None

    kind = "tsp"
    sense = "min"
    #: Which TSP model the decision vector belongs to (``problem.model`` in the config).
    model = "position"

    @cached_property
    def layout(self) -> AssignmentLayout:
        if self.fix_first_city:
            return AssignmentLayout.with_fixed_ones(self.n, [(0, 0)])
        return AssignmentLayout(self.n)

    @cached_property
    def _cycle(self) -> np.ndarray:
        """``B[t, t+1 mod n] = 1``: the step-to-next-step structure of the objective."""
        return np.roll(np.eye(self.n), 1, axis=1)

    @cached_property
    def _objective_form(self) -> tuple[float, np.ndarray, np.ndarray]:
        """The QP objective as ``(constant, linear, upper)``, built once (n^2 x n^2)."""
        return self.layout.quadratic_form(self.distances, self._cycle)

    def describe(self) -> str:
        fixed = ", city 0 fixed at step 0" if self.fix_first_city else ""
        return f"{self.n} cities{fixed}"

    def payload(self) -> dict:
        return {"distances": self.distances}

    def tour_length(self, tour: np.ndarray) -> float:
        """Length of the closed tour visiting ``tour`` (0-based cities) in order."""
        return closed_tour_length(self.distances, tour)

    def tour(self, x: np.ndarray) -> np.ndarray | None:
        """The tour ``x`` encodes (cities in visiting order), or ``None`` when it is none."""
        step = self.layout.permutation(x)
        return None if step is None else np.argsort(step)

    def to_quadratic_program(self) -> QuadraticProgram:
        qp = QuadraticProgram(f"tsp_{self.name}")
        self.layout.add_to_program(qp)
        add_objective(qp, self.layout, self.distances, self._cycle)
        return qp

    def evaluate(self, x: np.ndarray) -> Evaluation:
        """Feasible iff ``x`` is a permutation (city x step); the objective is the tour length,
        which for an infeasible ``x`` is the value of the QP's quadratic objective at ``x``."""
        x = np.asarray(x, dtype=float)
        step = self.layout.permutation(x)
        if step is not None:
            return Evaluation(self.tour_length(np.argsort(step)), True, 0.0)
        constant, linear, upper = self._objective_form
        return Evaluation(float(constant + linear @ x + x @ upper @ x), False, self.layout.violation(x))

    def build_mip(self, model):
        """Edge model with subtour elimination constraints (:func:`problems.tsp_edges.add_edge_model`).

        This is the standard exact model for the symmetric TSP. The compact Miller–Tucker–Zemlin
        arc model was measured here first: its weak LP bound left ulysses22 unproven after 60 s
        and took 39 s on ulysses16. The position model of the QUBO would be a straw man. The
        extractor returns the QUBO model's decision vector of the tour followed from city 0.
        """
        edge = add_edge_model(model, self.distances)
        edges = EdgeLayout(self.n)

        def extract(m) -> np.ndarray:
            tour = edges.tour(edges.from_edges(e for e, v in edge.items() if m.getVal(v) > 0.5))
            step = np.empty(self.n, dtype=int)
            step[tour] = np.arange(self.n)
            return self.layout.from_permutation(step)

        return extract


@dataclass(frozen=True)
class Generator:
    """n cities at distinct random integer points of {0..grid}^2; EUC_2D (rounded) distances."""

    n: int = 4
    grid: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        check(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        check(self.n >= 3, "n", f"must be >= 3 (a tour needs 3 cities), got {self.n}")
        check(self.grid >= 1, "grid", f"must be >= 1, got {self.grid}")
        check((self.grid + 1) ** 2 >= self.n, "grid", f"{self.grid} has fewer than n={self.n} points")


@dataclass(frozen=True)
class Options:
    """``model``: ``position`` (the assignment model, :class:`Tsp`) or ``edge`` (edge
    variables, :class:`problems.tsp_edges.TspEdges`). ``fix_first_city`` (position model): fix
    city 0 at step 0 ((n-1)^2 instead of n^2 variables; every tour has such a rotation, so no
    optimum is lost). ``subtours`` (edge model): which subtour rows the model lists,
    ``nonredundant`` or ``all`` (see :mod:`problems.tsp_edges`)."""

    model: Literal["position", "edge"] = "position"
    fix_first_city: bool = True
    subtours: Subtours = "nonredundant"


def make_instance(name: str, distances: np.ndarray, options: Options, coordinates: np.ndarray | None) -> Tsp | TspEdges:
    """The instance in the model ``options`` asks for."""
    if options.model == "edge":
        return TspEdges(name, distances, options.subtours, coordinates=coordinates)
    return Tsp(name, distances, options.fix_first_city, coordinates=coordinates)


def generate(params: Generator, options: Options | None = None) -> Tsp | TspEdges:
    options = options or Options()
    rng = np.random.default_rng(params.seed)
    side = params.grid + 1
    cells = rng.choice(side * side, size=params.n, replace=False)
    points = np.stack([cells // side, cells % side], axis=1)
    name = f"gen-n{params.n}-g{params.grid}-s{params.seed}"
    return make_instance(name, tsplib.euc_2d(points).astype(float), options, points.astype(float))


def map_positions(data: tsplib.TsplibFile) -> np.ndarray | None:
    """Where to draw the cities: display data if given, else node coordinates (GEO's
    latitude/longitude as longitude, latitude so north is up), else none."""
    if data.display is not None:
        return np.asarray(data.display, dtype=float)
    if data.coords is None:
        return None
    coords = np.asarray(data.coords, dtype=float)
    return coords[:, ::-1].copy() if data.edge_weight_type == "GEO" else coords


def load(path: Path, options: Options | None = None, entry: ManifestEntry | None = None) -> Tsp | TspEdges:
    """Read a TSPLIB ``.tsp`` file and, when present, the ``.opt.tour`` beside it.

    A known instance takes its reference from the manifest; otherwise the tour's length,
    evaluated against the data, is the reference (best known: the file is not vouched for).
    """
    options = options or Options()
    path = Path(path)
    data = tsplib.read_problem(path)
    problem = make_instance(entry.name if entry else path.stem, data.distances, options, map_positions(data))
    if entry is not None:
        if entry.reference is None:
            return problem
        reference = Reference(float(entry.reference), entry.reference_source, entry.proven)
        return dataclasses.replace(problem, reference=reference)
    tour_path = path.with_suffix(".opt.tour")
    if not tour_path.is_file():
        return problem
    length = problem.tour_length(tsplib.read_tour(tour_path, problem.n))
    reference = Reference(length, f"{tour_path.name} evaluated against the data")
    return dataclasses.replace(problem, reference=reference)


FAMILY = ProblemFamily(
    kind="tsp",
    description="travelling salesman (minimise tour length)",
    Generator=Generator,
    Options=Options,
    generate=generate,
    load=load,
)
