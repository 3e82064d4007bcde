"""Pauli correlation encoding (PCE; Sciorilli et al. 2024, "Towards large-scale quantum
optimization solvers with few qubits", arXiv:2401.09421).

``m`` binary variables live on ``N`` qubits as the signs of k-body Pauli correlators: the
strings ``X^k``, ``Y^k`` and ``Z^k`` on every k-subset of the qubits (``m <= 3 C(N, k)``), node
``i`` encoded as ``x_i = sign <Pi_i>``. As in the comparative study (Sharma & Lau 2025), the QUBO
is first written as a weighted Max-Cut on ``n + 1`` nodes (:mod:`qbench.maxcut`), so
``m = n + 1`` and the bits are read relative to the anchor node; ``form: qubo`` encodes the QUBO's
``n`` variables directly instead.

The loss is the problem energy over the relaxed spins ``t_i = tanh(alpha <Pi_i>)`` plus the
paper's regulariser ``L_reg = beta * nu * [(1/m) sum_i t_i^2]^2`` (its Eq. for L^(reg), with
``nu = w(G)/2 + w(T_min)/4``, the Poljak-Turzik bound, and ``beta = 1/2``, ``alpha = 1.5 N^{floor(k/2)}``).
The paper's Max-Cut loss is ``sum_{ij} w_ij t_i t_j + L_reg``; here it is halved and shifted
by a constant so that the reported loss is the relaxed QUBO energy (``E = offset - W/2 +
(1/2) sum w_ij t_i t_j``) plus ``L_reg / 2``: the same minimiser and balance, in energy units.
As in the authors' code, negative edge weights count as 0 in ``nu``.

The correlators are estimated with ``Backend.estimate`` (each Pauli family is just another
observable; a sampling backend groups them into measurement bases itself). The gradient for
SLSQP / L-BFGS-B is the backend's exact one where it has it (``backend=statevector``: the
adjoint method, about three evaluations' work), else the parameter-shift rule batched in one
estimate call (two evaluations per parameter); the record names the rule used.
The decoded bits are optionally improved by a 1/2/3-bit-flip descent on the QUBO energy
(:mod:`qbench.localsearch`); the answer is the natively better of the raw decoded and the
searched bits (``local_search_kept``), and the raw decoded answer is recorded next to it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import combinations
from math import comb
from typing import Literal

import networkx as nx
import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.quantum_info import SparsePauliOp

from qbench.errors import ConfigError
from qbench.localsearch import DEPTHS, local_search
from qbench.maxcut import MaxCut, cut_to_bits, qubo_to_maxcut
from qbench.params import check
from qbench.qubo import Qubo
from qbench.repair import better
from qbench.sampling import decoded_answer
from qbench.solver import SolveContext, Solver, SolverResult
from qbench.variational import (
    OptimizationResult,
    OptimizerName,
    OptimizerParams,
    minimize,
    variational_result,
)

FAMILIES = ("X", "Y", "Z")


@dataclass(frozen=True)
class PceParams(OptimizerParams):
    """``num_qubits``: ``null`` = the fewest with ``3 C(N, k) >= m``; ``k``: body of the
    correlators; ``alpha``: tanh sharpness (``null`` = ``1.5 N^{floor(k/2)}``); ``beta``:
    regulariser weight (0 = none); ``form``: ``maxcut`` (n + 1 nodes, the study) or ``qubo``
    (n nodes); ``layers``: brickwork layers (``null`` = 2 N); ``local_search``: post-processing
    flips (``none``, ``single``, ``double``, ``triple``); ``restarts``: optimisations from
    independent random starts (the best decoded energy is kept); optimizer settings as for every
    variational solver."""

    num_qubits: int | None = None
    k: int = 2
    alpha: float | None = None
    beta: float = 0.5
    form: Literal["maxcut", "qubo"] = "maxcut"
    layers: int | None = None
    local_search: Literal["none", "single", "double", "triple"] = "triple"
    restarts: int = 1
    optimizer: OptimizerName = "SLSQP"
    maxiter: int = 100
    tol: float | None = None

    def __post_init__(self) -> None:
        check(self.restarts >= 1, "restarts", f"must be >= 1, got {self.restarts}")
        check(1 <= self.k <= 3, "k", f"must be 1, 2 or 3, got {self.k}")
        check(self.num_qubits is None or self.num_qubits >= self.k, "num_qubits",
              f"must be >= k ({self.k}), got {self.num_qubits}")
        check(self.alpha is None or self.alpha > 0, "alpha", f"must be positive, got {self.alpha}")
        check(self.beta >= 0, "beta", f"must be >= 0, got {self.beta}")
        check(self.layers is None or self.layers >= 1, "layers", f"must be >= 1, got {self.layers}")
        super().__post_init__()


def qubits_needed(nodes: int, k: int) -> int:
    """The fewest qubits ``N >= k`` whose ``3 C(N, k)`` correlators cover ``nodes``."""
    n = k
    while 3 * comb(n, k) < nodes:
        n += 1
    return n


def pce_qubits(qubo: Qubo, params: PceParams) -> int:
    """Qubits PCE with ``params`` runs ``qubo`` on (the Max-Cut form has one node more)."""
    nodes = qubo.num_variables + 1 if params.form == "maxcut" else qubo.num_variables
    return params.num_qubits if params.num_qubits is not None else qubits_needed(nodes, params.k)


def correlators(num_qubits: int, k: int, count: int) -> list[SparsePauliOp]:
    """The first ``count`` k-body correlators: every k-subset in X, then Y, then Z."""
    subsets = list(combinations(range(num_qubits), k))
    if count > len(FAMILIES) * len(subsets):
        raise ValueError(f"{num_qubits} qubits hold {3 * len(subsets)} {k}-body correlators, {count} wanted")
    ops = []
    for family in FAMILIES:
        for subset in subsets:
            ops.append(SparsePauliOp.from_sparse_list([(family * k, list(subset), 1.0)], num_qubits))
    return ops[:count]


def brickwork(num_qubits: int, layers: int) -> QuantumCircuit:
    """Hardware-efficient brickwork: ``RY RZ`` on every qubit, then CZ on the pairs (0,1), (2,3), ...
    in even layers and (1,2), (3,4), ... in odd ones, and a final rotation layer.

    Every parameter is the angle of one Pauli rotation, which the parameter-shift gradient needs.
    """
    theta = ParameterVector("t", 2 * num_qubits * (layers + 1))
    circuit = QuantumCircuit(num_qubits, name="pce_brickwork")
    angles = iter(theta)

    def rotations() -> None:
        for q in range(num_qubits):
            circuit.ry(next(angles), q)
            circuit.rz(next(angles), q)

    for layer in range(layers):
        rotations()
        for q in range(layer % 2, num_qubits - 1, 2):
            circuit.cz(q, q + 1)
    rotations()
    return circuit


def regulariser_scale(maxcut: MaxCut) -> float:
    """``nu = w(G)/2 + w(T_min)/4`` (Poljak & Turzik 1982) over the graph with negative
    weights counted as 0, as in the authors' code."""
    graph = maxcut.graph()
    for _, _, data in graph.edges(data=True):
        data["weight"] = max(data["weight"], 0.0)
    tree = nx.minimum_spanning_tree(graph, weight="weight")
    return graph.size(weight="weight") / 2 + tree.size(weight="weight") / 4


@dataclass(frozen=True, eq=False)
class PceLoss:
    """The PCE loss and its gradient with respect to the correlator values ``E`` (rows)."""

    qubo: Qubo
    maxcut: MaxCut
    form: str
    alpha: float
    beta: float
    nu: float

    def spins(self, values: np.ndarray) -> np.ndarray:
        return np.tanh(self.alpha * np.asarray(values, dtype=float))

    def relaxed_energy(self, t: np.ndarray) -> np.ndarray:
        """The QUBO energy of relaxed spins (rows), in QUBO units."""
        if self.form == "maxcut":
            w = self.maxcut.weights
            total = np.triu(w, 1).sum()
            return self.maxcut.offset - total / 2 + np.einsum("ki,ij,kj->k", t, w, t) / 4
        return self.qubo.energies((1.0 - t) / 2)

    def regulariser(self, t: np.ndarray) -> np.ndarray:
        return 0.5 * self.beta * self.nu * np.mean(t**2, axis=1) ** 2

    def __call__(self, values: np.ndarray) -> np.ndarray:
        t = self.spins(np.atleast_2d(values))
        return self.relaxed_energy(t) + self.regulariser(t)

    def gradient(self, values: np.ndarray) -> np.ndarray:
        """d loss / d E for one row of correlator values."""
        t = self.spins(values)
        if self.form == "maxcut":
            d_energy = self.maxcut.weights @ t / 2
        else:
            symmetric = self.qubo.quadratic + self.qubo.quadratic.T
            d_energy = -(self.qubo.linear + symmetric @ ((1.0 - t) / 2)) / 2
        d_reg = 2 * self.beta * self.nu * np.mean(t**2) * t / len(t)
        return (d_energy + d_reg) * self.alpha * (1.0 - t**2)

    def decode(self, values: np.ndarray) -> np.ndarray:
        """QUBO bits from the signs of the correlators (a zero counts as +)."""
        sides = (np.asarray(values) < 0).astype(np.int8)
        return cut_to_bits(sides) if self.form == "maxcut" else sides


def merged(best: OptimizationResult, runs: list[OptimizationResult], scale: float) -> OptimizationResult:
    """The kept run's optimum with every run's evaluations, traced in QUBO energy units
    (the optimizer saw the loss divided by ``scale``)."""
    return OptimizationResult(
        x=best.x, fun=best.fun * scale, evaluations=sum(r.evaluations for r in runs),
        iterations=sum(r.iterations or 0 for r in runs), trace=[v * scale for r in runs for v in r.trace],
        seconds=sum(r.seconds for r in runs), message=best.message, success=best.success,
    )


class Pce(Solver):
    """PCE: a few qubits, many variables; see the module docstring."""

    name = "pce"
    Params = PceParams

    def solve(self, ctx: SolveContext) -> SolverResult:
        p = self.params
        qubo = ctx.encoding().qubo
        maxcut = qubo_to_maxcut(qubo)
        nodes = maxcut.num_nodes if p.form == "maxcut" else qubo.num_variables
        fewest = qubits_needed(nodes, p.k)
        num_qubits = fewest if p.num_qubits is None else p.num_qubits
        if num_qubits < fewest:
            raise ConfigError(
                f"solver.num_qubits: {num_qubits} qubits hold {3 * comb(num_qubits, p.k)} {p.k}-body "
                f"correlators but this QUBO needs {nodes}; use >= {fewest} or null"
            )
        alpha = p.alpha if p.alpha is not None else 1.5 * num_qubits ** (p.k // 2)
        layers = p.layers if p.layers is not None else 2 * num_qubits
        loss = PceLoss(qubo, maxcut, p.form, alpha, p.beta, regulariser_scale(maxcut))
        observables = correlators(num_qubits, p.k, nodes)
        circuit = brickwork(num_qubits, layers)

        backend = ctx.backend().seeded(ctx.seed)
        prepared = backend.prepare(circuit)
        cache: dict[bytes, np.ndarray] = {}

        def correlations(theta: np.ndarray) -> np.ndarray:
            key = theta.tobytes()
            if key not in cache:
                cache.clear()
                cache[key] = backend.estimate(prepared, observables, theta[None, :])[0]
            return cache[key]

        # The optimizer sees the loss over the largest edge weight: penalty QUBOs have weights in
        # the thousands, and SLSQP's first step is the raw gradient.
        scale = float(np.abs(maxcut.weights).max()) or 1.0

        def objective(theta: np.ndarray) -> float:
            return float(loss(correlations(theta))[0]) / scale

        rules: set[str] = set()

        def gradient(theta: np.ndarray) -> np.ndarray:
            # d loss / d theta = sum_i (d loss / d <Pi_i>) d<Pi_i>/d theta: the backend's exact
            # gradient of that weighted sum where it has one (adjoint, about three evaluations),
            # else parameter shift: d<Pi>/d theta_j = (<Pi>(theta + pi/2 e_j) - <Pi>(theta - pi/2 e_j)) / 2.
            weights = loss.gradient(correlations(theta))
            exact = backend.gradient(prepared, observables, weights, theta)
            if exact is not None:
                rules.add("adjoint")
                return exact / scale
            rules.add("parameter_shift")
            shifts = np.pi / 2 * np.eye(len(theta))
            shifted = backend.estimate(prepared, observables, np.vstack([theta + shifts, theta - shifts]))
            jacobian = (shifted[: len(theta)] - shifted[len(theta):]) / 2
            return jacobian @ weights / scale

        # Independent starts (uniform in [-pi, pi), as the authors' code). Each decoded answer is
        # post-processed; the run with the lowest final energy is kept (then the lowest raw
        # energy, then the earliest), and every run's trace is recorded, one after another.
        rng = ctx.rng()
        settings = p.optimizer_settings()
        executed_before = backend.timings["execute"]
        searched_seconds = 0.0
        runs = []
        for restart in range(p.restarts):
            x0 = rng.uniform(-np.pi, np.pi, circuit.num_parameters)
            label = self.name if p.restarts == 1 else f"{self.name} {restart + 1}/{p.restarts}"
            run = minimize(objective, x0, settings, seed=ctx.seed, progress=ctx.progress, label=label, jac=gradient,
                           config_path=ctx.config_path)
            values = backend.estimate(prepared, observables, run.x[None, :])[0]
            raw_bits = loss.decode(values)
            start = time.perf_counter()
            searched = local_search(qubo, raw_bits, DEPTHS[p.local_search])
            searched_seconds += time.perf_counter() - start
            runs.append(((searched.energy, qubo.energy(raw_bits), restart), x0, run, values, raw_bits, searched))
        optimise_execute = backend.timings["execute"] - executed_before
        rank, x0, result, values, raw_bits, searched = min(runs, key=lambda r: r[0])
        result = merged(result, [r[2] for r in runs], scale)
        encoding = ctx.encoding()
        raw = ctx.problem.evaluate(encoding.decode(raw_bits))
        # The search lowers the QUBO energy, which can cost native quality (an item dropped to
        # match the slack bits): the raw decode is kept where it is natively better.
        keep_raw = ctx.selection == "native" and better(
            raw, ctx.problem.evaluate(encoding.decode(searched.bits)), ctx.problem.sense)
        answer = decoded_answer(encoding, ctx.problem, raw_bits if keep_raw else searched.bits)
        t = loss.spins(values[None, :])
        solver_result = variational_result(
            backend, prepared, answer, result, x0, settings, optimise_execute,
            k=p.k, form=p.form, encoded_nodes=nodes, compression_ratio=qubo.num_variables / num_qubits,
            layers=layers, tanh_alpha=alpha, beta=p.beta, nu=loss.nu, gradient=",".join(sorted(rules)) or None,
            correlators=values.tolist(),
            relaxed_energy=float(loss.relaxed_energy(t)[0]), regulariser=float(loss.regulariser(t)[0]),
            raw_bitstring="".join(map(str, raw_bits[::-1].tolist())),
            raw_energy=qubo.energy(raw_bits), raw_objective=raw.objective, raw_feasible=raw.feasible,
            raw_violation=raw.violation, local_search=p.local_search, local_search_moves=searched.moves,
            local_search_kept=not keep_raw,
            restarts=p.restarts, best_restart=rank[2], loss_scale=scale,
        )
        solver_result.timings["local_search"] = searched_seconds
        return solver_result
