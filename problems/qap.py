"""Quadratic assignment (QAP): place n facilities on n locations, minimising flow x distance.

``minimise sum_{i,j} A[i,j] * B[p(i), p(j)]`` over permutations ``p`` (facility ``i`` at location
``p(i)``), with ``A`` the flows and ``B`` the distances. Format: QAPLIB ``.dat`` (``n``, then ``A``
and ``B``, n x n each, whitespace arbitrary) with an optional ``.sln`` beside it (``n opt``, then
the optimal permutation, 1-based). Generator: integer flows and rounded Euclidean distances
between random grid points.

The canonical model has binaries ``x[i,p]`` (facility i at location p) with one-hot rows and
columns (constraint groups ``row``, ``col``) and the quadratic objective; see
:mod:`problems.assignment`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations
from pathlib import Path
from typing import Literal

import numpy as np
from qiskit_optimization import QuadraticProgram

from qbench.problems.assignment import AssignmentLayout, AssignmentProblem, add_objective
from qbench.errors import ConfigError, InputFileError
from qbench.instances import ManifestEntry
from qbench.params import check
from qbench.parsing import NumberStream
from qbench.problem import Evaluation, Reference, ProblemFamily


#: SCIP models: ``adams_johnson`` (strong, large LP), ``kaufman_broeckx`` (compact, weak bound).
MipModel = Literal["auto", "adams_johnson", "kaufman_broeckx"]
#: Largest n for which ``auto`` picks Adams–Johnson (its root LP stalls beyond, measured here).
AJ_MAX_N = 10


@dataclass(frozen=True, eq=False)
class Qap(AssignmentProblem):
    """minimise sum_ij flow[i,j] distance[p(i),p(j)] over permutations p."""

    name: str
    flow: np.ndarray
    distance: np.ndarray
    mip: MipModel = "auto"
    reference: Reference = Reference.unknown()

    kind = "qap"
    sense = "min"

    def __post_init__(self) -> None:
        n = self.flow.shape[0]
        if self.flow.shape != (n, n) or self.distance.shape != (n, n):
            raise ValueError(f"flow and distance must be square of one size, got {self.flow.shape}, {self.distance.shape}")

    @property
    def n(self) -> int:
        return int(self.flow.shape[0])

    @cached_property
    def layout(self) -> AssignmentLayout:
        return AssignmentLayout(self.n)

    @cached_property
    def _objective_form(self) -> tuple[float, np.ndarray, np.ndarray]:
        """The QP objective as ``(constant, linear, upper)``, built once (n^2 x n^2)."""
        return self.layout.quadratic_form(self.flow, self.distance)

    def describe(self) -> str:
        return f"{self.n} facilities x {self.n} locations"

    def payload(self) -> dict:
        return {"flow": self.flow, "distance": self.distance}

    def cost(self, perm: np.ndarray) -> float:
        """``sum_ij A[i,j] B[perm[i], perm[j]]`` of a permutation (0-based)."""
        perm = np.asarray(perm)
        return float((self.flow * self.distance[np.ix_(perm, perm)]).sum())

    def to_quadratic_program(self) -> QuadraticProgram:
        qp = QuadraticProgram(f"qap_{self.name}")
        self.layout.add_to_program(qp)
        add_objective(qp, self.layout, self.flow, self.distance)
        return qp

    def evaluate(self, x: np.ndarray) -> Evaluation:
        """Feasible iff ``x`` is a permutation matrix; the objective is the QAP cost, which for
        an infeasible ``x`` is the value of the QP's quadratic objective at ``x``."""
        x = np.asarray(x, dtype=float)
        perm = self.layout.permutation(x)
        if perm is not None:
            return Evaluation(self.cost(perm), True, 0.0)
        constant, linear, upper = self._objective_form
        return Evaluation(float(constant + linear @ x + x @ upper @ x), False, self.layout.violation(x))

    def mip_model(self) -> str:
        """The linearisation :meth:`build_mip` writes: ``mip``, or for ``auto`` Adams–Johnson up
        to n = 10 and Kaufman–Broeckx above (when the data allow it)."""
        if self.mip != "auto":
            return self.mip
        nonnegative = bool(np.all(self.flow >= 0) and np.all(self.distance >= 0))
        return "adams_johnson" if self.n <= AJ_MAX_N or not nonnegative else "kaufman_broeckx"

    def build_mip(self, model):
        """One of the two standard linearisations (``problem.mip``; see :meth:`mip_model`).

        Adams–Johnson (1994, the first RLT level) is the strong one: its LP bound dominates
        Gilmore–Lawler. It proves generated n = 8 at the root in about 3 s here and ends n = 10
        at a 1.6% gap after 60 s, but its LP is large (n^2 (n-1)^2 / 2 continuous variables,
        8712 at n = 12) and highly degenerate: at n = 12 (nug12) SCIP had not finished the root
        LP after 60 s, leaving dual bound 0 and only the first heuristic solution (724 vs 578).
        Kaufman–Broeckx (1978) is compact (n^2 extra variables) with a bound near 0, but SCIP
        searches it quickly (nug12: 634 within 20 s), so ``auto`` uses it above n = 10. Neither
        proves n = 12 in minutes; such runs end with status ``time_limit`` and SCIP's bound.
        """
        from pyscipopt import quicksum

        n = self.n
        x = [[model.addVar(f"x_{i}_{p}", vtype="B") for p in range(n)] for i in range(n)]
        for i in range(n):
            model.addCons(quicksum(x[i]) == 1, name=f"row_{i}")
        for p in range(n):
            model.addCons(quicksum(x[i][p] for i in range(n)) == 1, name=f"col_{p}")
        if self.mip_model() == "adams_johnson":
            objective = self._adams_johnson(model, x)
        else:
            objective = self._kaufman_broeckx(model, x)
        model.setObjective(objective, "minimize")

        def extract(m) -> np.ndarray:
            return np.array([round(m.getVal(x[i][p])) for i, p in self.layout.cells], dtype=np.int8)

        return extract

    def _adams_johnson(self, model, x):
        """``y[i,p,j,q] = x[i,p] x[j,q]`` for i != j, p != q (``y[i,p,j,q] = y[j,q,i,p]``
        identified), ``sum_{q != p} y[i,p,j,q] = x[i,p]`` for every j != i and
        ``sum_{j != i} y[i,p,j,q] = x[i,p]`` for every q != p. With x a permutation matrix these
        force y to be exactly the products. Returns the objective."""
        from pyscipopt import quicksum

        n, a, b = self.n, self.flow, self.distance
        y: dict[tuple[int, int, int, int], object] = {}
        terms = []
        for i, j in combinations(range(n), 2):
            for p in range(n):
                for q in range(n):
                    if p == q:
                        continue
                    var = model.addVar(f"y_{i}_{p}_{j}_{q}", vtype="C", lb=0.0, ub=1.0)
                    y[i, p, j, q] = y[j, q, i, p] = var
                    weight = a[i, j] * b[p, q] + a[j, i] * b[q, p]
                    if weight:
                        terms.append(float(weight) * var)
        for i in range(n):
            for p in range(n):
                if a[i, i] * b[p, p]:
                    terms.append(float(a[i, i] * b[p, p]) * x[i][p])
                for j in range(n):
                    if j != i:
                        model.addCons(quicksum(y[i, p, j, q] for q in range(n) if q != p) == x[i][p])
                for q in range(n):
                    if q != p:
                        model.addCons(quicksum(y[i, p, j, q] for j in range(n) if j != i) == x[i][p])
        return quicksum(terms)

    def _kaufman_broeckx(self, model, x):
        """``w[i,p] >= sum_{j,q} a_ij b_pq x[j,q] - c_ip (1 - x[i,p])`` with ``c_ip = sum_{j,q}
        a_ij b_pq``: w[i,p] is facility i's share of the cost when it sits at p, else 0 (valid
        for non-negative data, which :meth:`mip_model` and :class:`Options` ensure). Returns the
        objective ``sum w``."""
        from pyscipopt import quicksum

        n, a, b = self.n, self.flow, self.distance
        if np.any(a < 0) or np.any(b < 0):
            raise ConfigError("problem.mip: kaufman_broeckx needs non-negative flows and distances")
        w = [[model.addVar(f"w_{i}_{p}", vtype="C", lb=0.0) for p in range(n)] for i in range(n)]
        for i in range(n):
            for p in range(n):
                share = np.outer(a[i], b[p])
                c = float(share.sum())
                cost = quicksum(float(share[j, q]) * x[j][q] for j in range(n) for q in range(n) if share[j, q])
                model.addCons(c * x[i][p] + cost - w[i][p] <= c, name=f"kb_{i}_{p}")
        return quicksum(w[i][p] for i in range(n) for p in range(n))


@dataclass(frozen=True)
class Generator:
    """Random QAP: flows symmetric integers in [0, max_flow] (zero diagonal); distances the
    rounded Euclidean distances between n distinct random points of the grid {0..grid}^2."""

    n: int = 3
    max_flow: int = 10
    grid: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        check(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        check(self.n >= 2, "n", f"must be >= 2, got {self.n}")
        check(self.max_flow >= 1, "max_flow", f"must be >= 1, got {self.max_flow}")
        check(self.grid >= 1, "grid", f"must be >= 1, got {self.grid}")
        check((self.grid + 1) ** 2 >= self.n, "grid", f"{self.grid} has fewer than n={self.n} points")


@dataclass(frozen=True)
class Options:
    """``mip``: the linearisation SCIP solves (see :meth:`Qap.build_mip`); ``auto`` chooses by n."""

    mip: MipModel = "auto"


def generate(params: Generator, options: Options | None = None) -> Qap:
    rng = np.random.default_rng(params.seed)
    n = params.n
    flow = np.triu(rng.integers(0, params.max_flow + 1, size=(n, n)), 1)
    flow = flow + flow.T
    side = params.grid + 1
    cells = rng.choice(side * side, size=n, replace=False)
    points = np.stack([cells // side, cells % side], axis=1).astype(float)
    distance = np.floor(np.linalg.norm(points[:, None] - points[None, :], axis=2) + 0.5)
    name = f"gen-n{n}-f{params.max_flow}-g{params.grid}-s{params.seed}"
    return Qap(name, flow.astype(float), distance, (options or Options()).mip)


def read_dat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The flow and distance matrices of a QAPLIB ``.dat`` file."""
    stream = NumberStream(path)
    line = stream.line
    n = stream.int("size n", minimum=1)
    stream.require(2 * n * n, f"size n={n}: two {n} x {n} matrices", line)
    flow = np.array([stream.floats(n, f"matrix A row {i + 1}") for i in range(n)])
    distance = np.array([stream.floats(n, f"matrix B row {i + 1}") for i in range(n)])
    stream.expect_end()
    return flow, distance


def read_sln(path: Path, n: int) -> tuple[float, np.ndarray]:
    """``(opt, perm)`` of a QAPLIB ``.sln`` file, ``perm`` 0-based."""
    stream = NumberStream(path)
    line = stream.line
    size = stream.int("size n", minimum=1)
    if size != n:
        raise InputFileError(path, f"size {size} does not match the instance's n={n}", line)
    opt = stream.float("optimal value")
    line = stream.line
    perm = stream.ints(n, "permutation", minimum=1, maximum=n) - 1
    stream.expect_end()
    if len(set(perm.tolist())) != n:
        raise InputFileError(path, f"the solution is not a permutation of 1..{n}", line)
    return opt, perm


def load(path: Path, options: Options | None = None, entry: ManifestEntry | None = None) -> Qap:
    """Read a QAPLIB ``.dat`` file and, when present, the ``.sln`` beside it.

    A known instance takes its reference from the manifest. Otherwise the ``.sln`` permutation,
    evaluated against the data, is the reference (a best-known value: the file is not vouched
    for); its header value must agree with that evaluation.
    """
    path = Path(path)
    flow, distance = read_dat(path)
    problem = Qap(entry.name if entry else path.stem, flow, distance, (options or Options()).mip)
    if entry is not None:
        reference = (
            Reference(float(entry.reference), entry.reference_source, entry.proven)
            if entry.reference is not None
            else Reference.unknown()
        )
        return dataclasses.replace(problem, reference=reference)
    sln = path.with_suffix(".sln")
    if not sln.is_file():
        return problem
    opt, perm = read_sln(sln, problem.n)
    value = problem.cost(perm)
    if value != opt:
        raise InputFileError(sln, f"the permutation costs {value:g} but the header says {opt:g}", 1)
    reference = Reference(value, f"{sln.name} permutation evaluated against the data")
    return dataclasses.replace(problem, reference=reference)


FAMILY = ProblemFamily(
    kind="qap",
    description="quadratic assignment (minimise flow x distance)",
    Generator=Generator,
    Options=Options,
    generate=generate,
    load=load,
)
