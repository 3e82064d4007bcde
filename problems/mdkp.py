"""Multi-dimensional knapsack (MDKP): choose items maximising profit within m capacities.

Formats: SAC-94 ``.dat`` (one instance: ``n m opt``, profits, the m x n weights row by row,
capacities) and OR-Library ``mknap1.txt`` (a count K, then K such instances; pick one with
``problem.index``). Generator: Chu & Beasley (1998) correlated instances.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qiskit_optimization import QuadraticProgram

from qbench.errors import InputFileError
from qbench.instances import ManifestEntry
from qbench.params import check
from qbench.parsing import NumberStream
from qbench.problem import Evaluation, Problem, ProblemFamily, Reference

TOLERANCE = 1e-9


@dataclass(frozen=True, eq=False)
class Mdkp(Problem):
    """maximise p.x  s.t.  W x <= c,  x in {0,1}^n."""

    name: str
    profits: np.ndarray
    weights: np.ndarray
    capacities: np.ndarray
    reference: Reference = Reference.unknown()

    kind = "mdkp"
    sense = "max"

    def __post_init__(self) -> None:
        n, m = self.profits.shape[0], self.capacities.shape[0]
        if self.weights.shape != (m, n):
            raise ValueError(f"weights must be {m}x{n}, got {self.weights.shape}")

    @property
    def n_items(self) -> int:
        return int(self.profits.shape[0])

    @property
    def n_constraints(self) -> int:
        return int(self.capacities.shape[0])

    def describe(self) -> str:
        return f"{self.n_items} items x {self.n_constraints} constraints"

    def payload(self) -> dict:
        return {"profits": self.profits, "weights": self.weights, "capacities": self.capacities}

    def to_quadratic_program(self) -> QuadraticProgram:
        qp = QuadraticProgram(f"mdkp_{self.name}")
        names = [f"x[{j}]" for j in range(self.n_items)]
        for name in names:
            qp.binary_var(name)
        qp.maximize(linear=dict(zip(names, self.profits.tolist())))
        for i in range(self.n_constraints):
            qp.linear_constraint(
                dict(zip(names, self.weights[i].tolist())), "<=", float(self.capacities[i]), f"capacity[{i}]"
            )
        return qp

    def evaluate(self, x: np.ndarray) -> Evaluation:
        x = np.asarray(x, dtype=float)
        excess = np.maximum(self.weights @ x - self.capacities, 0.0)
        violation = float(excess.sum())
        return Evaluation(float(self.profits @ x), violation <= TOLERANCE, violation)

    def build_mip(self, model):
        from pyscipopt import quicksum

        x = [model.addVar(f"x{j}", vtype="B") for j in range(self.n_items)]
        model.setObjective(quicksum(float(p) * v for p, v in zip(self.profits, x)), "maximize")
        for i in range(self.n_constraints):
            model.addCons(
                quicksum(float(w) * v for w, v in zip(self.weights[i], x)) <= float(self.capacities[i]),
                name=f"capacity_{i}",
            )
        return lambda m: np.array([round(m.getVal(v)) for v in x], dtype=np.int8)

    def forbids_tie(self, i: int, j: int, same: bool) -> bool:
        """Tying ``x_i = x_j`` forces a violation (when both are 1) if items ``i`` and ``j``
        together exceed some capacity; an opposite tie never puts both in the knapsack."""
        if not same:
            return False
        return bool(np.any(self.weights[:, i] + self.weights[:, j] > self.capacities + TOLERANCE))

    def repair(self, x: np.ndarray) -> np.ndarray:
        """Drop the items of lowest profit per unit of (normalised) weight until feasible,
        then add items greedily in the reverse order while they fit."""
        x = np.asarray(x, dtype=np.int8).copy()
        scale = np.where(self.capacities > 0, self.capacities, 1.0)
        density = self.profits / np.maximum((self.weights / scale[:, None]).sum(axis=0), 1e-12)
        order = np.argsort(density, kind="stable")
        for j in order:
            if self.evaluate(x).feasible:
                break
            x[j] = 0
        load = self.weights @ x
        for j in order[::-1]:
            if x[j] == 0 and np.all(load + self.weights[:, j] <= self.capacities + TOLERANCE):
                x[j] = 1
                load = load + self.weights[:, j]
        return x


@dataclass(frozen=True)
class Generator:
    """Chu–Beasley instance: weights uniform in [1, max_weight], capacity_i = tightness *
    sum_j w_ij, profit_j = sum_i w_ij / m + max_weight/2 * u_j with u_j uniform in [0, 1)."""

    n_items: int = 6
    n_constraints: int = 2
    tightness: float = 0.5
    max_weight: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        check(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        check(self.n_items >= 1, "n_items", f"must be >= 1, got {self.n_items}")
        check(self.n_constraints >= 1, "n_constraints", f"must be >= 1, got {self.n_constraints}")
        check(0 < self.tightness < 1, "tightness", f"must be in (0, 1), got {self.tightness}")
        check(self.max_weight >= 1, "max_weight", f"must be >= 1, got {self.max_weight}")


@dataclass(frozen=True)
class Options:
    """``index``: 1-based instance number inside a multi-instance file."""

    index: int | None = None

    def __post_init__(self) -> None:
        check(self.index is None or self.index >= 1, "index", f"must be >= 1, got {self.index}")


def generate(params: Generator, options: Options | None = None) -> Mdkp:
    rng = np.random.default_rng(params.seed)
    weights = rng.integers(1, params.max_weight + 1, size=(params.n_constraints, params.n_items))
    capacities = np.floor(params.tightness * weights.sum(axis=1))
    profits = np.round(weights.sum(axis=0) / params.n_constraints + params.max_weight / 2 * rng.random(params.n_items))
    name = f"gen-n{params.n_items}-m{params.n_constraints}-t{params.tightness:g}-s{params.seed}"
    return Mdkp(name, profits.astype(float), weights.astype(float), capacities.astype(float))


def _read_one(stream: NumberStream, label: str) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, float]:
    n = stream.int(f"{label} number of items", minimum=1)
    m = stream.int(f"{label} number of constraints", minimum=1)
    opt = stream.float(f"{label} optimum")
    profits = stream.floats(n, f"{label} profit")
    weights = np.array([stream.floats(n, f"{label} weight row {i + 1}") for i in range(m)])
    line = stream.line
    capacities = stream.floats(m, f"{label} capacity")
    if np.any(capacities < 0):
        raise InputFileError(stream.path, "capacities must be non-negative", line)
    if np.any(weights < 0):
        raise InputFileError(stream.path, "weights must be non-negative")
    return n, profits, weights, capacities, opt


def load(path: Path, options: Options | None = None, entry: ManifestEntry | None = None) -> Mdkp:
    """Read a SAC-94 single-instance file or an OR-Library multi-instance file."""
    options = options or Options()
    index = options.index if options.index is not None else (entry.options.get("index") if entry else None)
    stream = NumberStream(path)
    # A multi-instance file starts with a lone count K; a single instance with "n m opt".
    if _is_multi(NumberStream(path)):
        count = stream.int("instance count", minimum=1)
        if index is None:
            raise InputFileError(path, f"holds {count} instances; choose one with problem.index=1..{count}")
        if index > count:
            raise InputFileError(path, f"problem.index={index} but the file holds {count} instances")
        for k in range(1, index):
            _read_one(stream, f"instance {k}")
        _, profits, weights, capacities, opt = _read_one(stream, f"instance {index}")
        name = f"{Path(path).stem}-{index}"
    else:
        _, profits, weights, capacities, opt = _read_one(stream, "instance")
        stream.expect_end()
        name = Path(path).stem
    if entry is not None:
        name = entry.name
        reference = Reference(float(entry.reference), entry.reference_source, entry.proven)
    else:
        reference = Reference(opt, f"{Path(path).name} header", proven=False) if opt > 0 else Reference.unknown()
    return Mdkp(name, profits, weights, capacities, reference)


def _is_multi(stream: NumberStream) -> bool:
    """True when the first line holds a single number (the instance count)."""
    first_line = stream.line
    stream.float("header")
    return stream.line != first_line


FAMILY = ProblemFamily(
    kind="mdkp",
    description="multi-dimensional knapsack (maximise profit)",
    Generator=Generator,
    Options=Options,
    generate=generate,
    load=load,
)
