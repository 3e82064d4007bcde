"""Market split / market share (Cornuejols & Dawande 1999): split n retailers between two
divisions so that each division gets exactly half of every product, ``A x = b``, x in {0,1}^n.

Format: QOBLIB ``ms_MM_CCC_III.dat`` (``#`` licence lines, then ``m n``, then m rows of n
coefficients each followed by b_i) and, beside it, ``.opt.sol`` (n values 0/1, a feasible
split). Generator: Cornuejols–Dawande instances, m products, n = 10(m-1) retailers,
coefficients uniform in [0, cap], b_i = floor(sum_j a_ij / 2); most such instances have no exact
split, which is what makes them hard.

Objective: QOBLIB's, the squared violation sum_i (A_i x - b_i)^2, minimised over every x in
{0,1}^n (QOBLIB's ``binary_unconstrained`` model; its checker accepts a split, objective 0).
The canonical model is that unconstrained quadratic program, so the penalty QUBO is the objective
itself on n qubits, the Lagrangian has nothing to dualise, and SCIP minimises the same function.
An answer is *feasible* when it is an exact split; its *violation* is sum_i |A_i x - b_i|.
(Absolute and squared violation have different minimisers: one objective for all is QOBLIB's.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qiskit_optimization import QuadraticProgram

from qbench.errors import InputFileError
from qbench.instances import ManifestEntry
from qbench.params import check
from qbench.parsing import MAX_MAGNITUDE, NumberStream
from qbench.problem import Evaluation, Problem, ProblemFamily, Reference


@dataclass(frozen=True, eq=False)
class Msp(Problem):
    """minimise sum_i (A_i x - b_i)^2  over x in {0,1}^n  (feasible iff A x = b).

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
        """``min sum_i (A_i x - b_i)^2``, expanded: ``x^T A^T A x - 2 b^T A x + b^T b``."""
        qp = QuadraticProgram(f"msp_{self.name}")
        names = [f"x[{j}]" for j in range(self.n_retailers)]
        for name in names:
            qp.binary_var(name)
        a = self.coefficients.astype(np.int64)
        gram = a.T @ a
        linear = -2 * (self.rhs @ a)
        quadratic = {(names[i], names[j]): float(gram[i, j] if i == j else 2 * gram[i, j])
                     for i in range(self.n_retailers) for j in range(i, self.n_retailers) if gram[i, j]}
        qp.minimize(constant=float(self.rhs @ self.rhs),
                    linear={name: float(c) for name, c in zip(names, linear) if c},
                    quadratic=quadratic)
        return qp

    def residual(self, x: np.ndarray) -> np.ndarray:
        """``A x - b`` per product."""
        x = np.asarray(x).round().astype(np.int64)
        if x.shape != (self.n_retailers,):
            raise ValueError(f"expected {self.n_retailers} values, got shape {x.shape}")
        return self.coefficients @ x - self.rhs

    def evaluate(self, x: np.ndarray) -> Evaluation:
        residual = self.residual(x)
        return Evaluation(float(residual @ residual), bool(np.all(residual == 0)), float(np.abs(residual).sum()))

    def repair(self, x: np.ndarray) -> np.ndarray:
        """Steepest descent on the total violation ``sum_i |A_i x - b_i|``: flip the retailer
        whose flip lowers it most (lowest index on ties) while one does. The violation never
        rises, but the result is an exact split only if descent reaches 0, which a local
        search need not (market split is hard because few exact splits exist).

        Written here because the library descents at hand (dwave-samplers'
        ``SteepestDescentSolver``) minimise a quadratic model, i.e. the squared residual, whose
        steps may raise the absolute violation this problem is judged by."""
        x = np.asarray(x).round().astype(np.int64)
        residual = self.residual(x)
        violation = np.abs(residual).sum()
        while violation > 0:
            step = 1 - 2 * x  # +1 adds retailer j, -1 removes it
            after = np.abs(residual[:, None] + self.coefficients * step[None, :]).sum(axis=0)
            j = int(np.argmin(after))
            if after[j] >= violation:
                break
            residual = residual + step[j] * self.coefficients[:, j]
            x[j] ^= 1
            violation = after[j]
        return x.astype(np.int8)

    def build_mip(self, model):
        """``min t`` s.t. ``r_i = A_i x - b_i`` (integer), ``t >= sum_i r_i^2`` (convex, SCIP's
        outer approximation), ``t`` integer: the squared violation, in the native units."""
        from pyscipopt import quicksum

        x = [model.addVar(f"x{j}", vtype="B") for j in range(self.n_retailers)]
        residual = [model.addVar(f"r{i}", lb=None, vtype="I") for i in range(self.n_products)]
        total = model.addVar("squared_violation", lb=0.0, vtype="I")
        for i in range(self.n_products):
            lhs = quicksum(float(a) * v for a, v in zip(self.coefficients[i], x) if a != 0)
            model.addCons(lhs - residual[i] == float(self.rhs[i]), name=f"split_{i}")
        model.addCons(total >= quicksum(r * r for r in residual), name="squared_violation")
        model.setObjective(total, "minimize")
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
    """Coefficient matrix and right-hand sides of a QOBLIB market split file.

    Every row's ``sum_j |a_ij| + |b_i|`` stays within 2^53, so no residual overflows and the
    float models (QP, SCIP) hold every row exactly."""
    stream = NumberStream(path, comment=("#",))
    line = stream.line
    m = stream.int("number of products m", minimum=1)
    n = stream.int("number of retailers n", minimum=1)
    stream.require(m * (n + 1), f"m={m} products and n={n} retailers", line)
    coefficients = np.zeros((m, n), dtype=np.int64)
    rhs = np.zeros(m, dtype=np.int64)
    for i in range(m):
        row_line = stream.line
        coefficients[i] = stream.ints(n, f"row {i + 1} coefficient")
        rhs[i] = stream.int(f"row {i + 1} right-hand side")
        size = sum(abs(int(a)) for a in coefficients[i]) + abs(int(rhs[i]))
        if size > MAX_MAGNITUDE:
            raise InputFileError(path, f"row {i + 1}: sum of |coefficients| and |right-hand side| "
                                 f"exceeds 2^53 = {MAX_MAGNITUDE}", row_line)
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
    proves a split exists (0 is the least squared violation); otherwise unknown.
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
    description="market split (minimise the squared violation sum_i (A_i x - b_i)^2)",
    Generator=Generator,
    Options=Options,
    generate=generate,
    load=load,
)
