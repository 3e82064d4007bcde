"""Market split / market share (Cornuejols & Dawande 1999): split n retailers between two
divisions so that each division gets exactly half of every product, ``A x = b``, x in {0,1}^n.

Format: QOBLIB ``ms_MM_CCC_III.dat`` (``#`` licence lines, then ``m n``, then m rows of n
coefficients each followed by b_i) and, beside it, ``.opt.sol`` (n values 0/1, a feasible
split). Generator: Cornuejols–Dawande instances, m products, n = 10(m-1) retailers,
coefficients uniform in [0, cap], b_i = floor(sum_j a_ij / 2); most such instances have no exact
split, which is what makes them hard.

Native metric: the total violation sum_i |A_i x - b_i| is the objective (minimised); a split is
feasible iff it is 0. The canonical model is the equality system with a zero objective, so its
penalty QUBO is exactly QOBLIB's sum_i (A_i x - b_i)^2 on n qubits, without slack bits.
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


@dataclass(frozen=True, eq=False)
class Msp(Problem):
    """minimise sum_i |A_i x - b_i|  over x in {0,1}^n  (feasible iff A x = b).

    ``solution`` is a known feasible split (a QOBLIB ``.opt.sol``) when the instance has one.
    """

    name: str
    coefficients: np.ndarray
    rhs: np.ndarray
    reference: Reference = Reference.unknown()
    solution: np.ndarray | None = None

    kind = "msp"
    sense = "min"

    def __post_init__(self) -> None:
        m, n = self.coefficients.shape
        if self.rhs.shape != (m,):
            raise ValueError(f"rhs must have {m} entries, got shape {self.rhs.shape}")

    @property
    def n_products(self) -> int:
        return int(self.coefficients.shape[0])

    @property
    def n_retailers(self) -> int:
        return int(self.coefficients.shape[1])

    def describe(self) -> str:
        return f"{self.n_products} products x {self.n_retailers} retailers"

    def payload(self) -> dict:
        return {"coefficients": self.coefficients, "rhs": self.rhs}

    def to_quadratic_program(self) -> QuadraticProgram:
        qp = QuadraticProgram(f"msp_{self.name}")
        names = [f"x[{j}]" for j in range(self.n_retailers)]
        for name in names:
            qp.binary_var(name)
        qp.minimize(constant=0.0)
        for i in range(self.n_products):
            row = {name: float(a) for name, a in zip(names, self.coefficients[i]) if a != 0}
            qp.linear_constraint(row, "==", float(self.rhs[i]), f"split[{i}]")
        return qp

    def residual(self, x: np.ndarray) -> np.ndarray:
        """``A x - b`` per product."""
        x = np.asarray(x).round().astype(np.int64)
        if x.shape != (self.n_retailers,):
            raise ValueError(f"expected {self.n_retailers} values, got shape {x.shape}")
        return self.coefficients @ x - self.rhs

    def evaluate(self, x: np.ndarray) -> Evaluation:
        violation = float(np.abs(self.residual(x)).sum())
        return Evaluation(violation, violation == 0, violation)

    def build_mip(self, model):
        """The standard slack model: min sum_i (s+_i + s-_i) s.t. A_i x - s+_i + s-_i = b_i,
        continuous s+, s- >= 0 (at an optimum one of each pair is 0, so the sum is the violation)."""
        from pyscipopt import quicksum

        x = [model.addVar(f"x{j}", vtype="B") for j in range(self.n_retailers)]
        over = [model.addVar(f"over{i}", lb=0.0) for i in range(self.n_products)]
        under = [model.addVar(f"under{i}", lb=0.0) for i in range(self.n_products)]
        model.setObjective(quicksum(over) + quicksum(under), "minimize")
        for i in range(self.n_products):
            lhs = quicksum(float(a) * v for a, v in zip(self.coefficients[i], x) if a != 0)
            model.addCons(lhs - over[i] + under[i] == float(self.rhs[i]), name=f"split_{i}")
        return lambda m: np.array([round(m.getVal(v)) for v in x], dtype=np.int8)


@dataclass(frozen=True)
class Generator:
    """Cornuejols–Dawande: ``m`` products, ``n`` retailers (default 10(m-1)), coefficients
    uniform integers in [0, ``cap``], b_i = floor(row sum / 2)."""

    m: int = 2
    n: int | None = None
    cap: int = 99
    seed: int = 0

    def __post_init__(self) -> None:
        check(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        check(self.m >= 1, "m", f"must be >= 1, got {self.m}")
        check(self.n is None or self.n >= 1, "n", f"must be >= 1, got {self.n}")
        check(self.n is not None or self.m >= 2, "n", "must be set when m = 1 (the default 10(m-1) is 0)")
        check(self.cap >= 1, "cap", f"must be >= 1, got {self.cap}")

    @property
    def retailers(self) -> int:
        return self.n if self.n is not None else 10 * (self.m - 1)


@dataclass(frozen=True)
class Options:
    """Market split instances have no options."""


def generate(params: Generator, options: Options | None = None) -> Msp:
    rng = np.random.default_rng(params.seed)
    coefficients = rng.integers(0, params.cap + 1, size=(params.m, params.retailers))
    rhs = coefficients.sum(axis=1) // 2
    name = f"gen-m{params.m}-n{params.retailers}-c{params.cap}-s{params.seed}"
    return Msp(name, coefficients.astype(np.int64), rhs.astype(np.int64))


def read_dat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Coefficient matrix and right-hand sides of a QOBLIB market split file."""
    stream = NumberStream(path, comment=("#",))
    m = stream.int("number of products m", minimum=1)
    n = stream.int("number of retailers n", minimum=1)
    coefficients = np.zeros((m, n), dtype=np.int64)
    rhs = np.zeros(m, dtype=np.int64)
    for i in range(m):
        coefficients[i] = stream.ints(n, f"row {i + 1} coefficient")
        rhs[i] = stream.int(f"row {i + 1} right-hand side")
    stream.expect_end()
    return coefficients, rhs


def read_solution(path: Path, problem: Msp) -> np.ndarray:
    """A QOBLIB ``.opt.sol`` (n values 0/1); it must be an exact split of ``problem``."""
    stream = NumberStream(path, comment=("#",))
    x = np.zeros(problem.n_retailers, dtype=np.int8)
    for j in range(problem.n_retailers):
        line = stream.line
        value = stream.int(f"x[{j + 1}]")
        if value not in (0, 1):
            raise InputFileError(path, f"x[{j + 1}]: expected 0 or 1, got {value}", line)
        x[j] = value
    stream.expect_end()
    residual = problem.residual(x)
    if np.any(residual != 0):
        i = int(np.flatnonzero(residual)[0])
        raise InputFileError(path, f"not an exact split: product {i + 1} is off by {int(residual[i])}")
    return x


def load(path: Path, options: Options | None = None, entry: ManifestEntry | None = None) -> Msp:
    """Read a QOBLIB ``.dat`` and, if one lies beside it, its ``.opt.sol``.

    The reference is the manifest's for a known instance; otherwise 0 when an ``.opt.sol``
    proves a split exists (violation 0 is the least possible); otherwise unknown.
    """
    path = Path(path)
    coefficients, rhs = read_dat(path)
    problem = Msp(entry.name if entry else path.stem, coefficients, rhs)
    solution_path = path.with_suffix(".opt.sol")
    solution = read_solution(solution_path, problem) if solution_path.is_file() else None
    if entry is not None:
        reference = Reference(float(entry.reference), entry.reference_source, entry.proven)
    elif solution is not None:
        reference = Reference(0.0, f"exact split in {solution_path.name}", proven=True)
    else:
        reference = Reference.unknown()
    return Msp(problem.name, coefficients, rhs, reference, solution)


FAMILY = ProblemFamily(
    kind="msp",
    description="market split (minimise the total violation of A x = b)",
    Generator=Generator,
    Options=Options,
    generate=generate,
    load=load,
)
