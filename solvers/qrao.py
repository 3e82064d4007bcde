"""Quantum random access optimisation (QRAO; Fuller et al. 2021, arXiv:2111.03167) with
qiskit-optimization's ``algorithms.qrao``.

``QuantumRandomAccessEncoding`` packs up to 3 QUBO variables on a qubit (as the X, Y, Z
expectations of a (3,1)-QRAC; variables sharing a qubit must not interact, so dense QUBOs
compress less) and builds the relaxed Hamiltonian. VQE minimises it here with an EfficientSU2
ansatz through ``Backend.estimate`` and :func:`qbench.variational.minimize` (the comparative
study: linear entanglement, reps 5, Powell, 20 evaluations), instead of the library's
``QuantumRandomAccessOptimizer``, so the backends, counters and traces are qbench's. The optimum
is rounded with the library's schemes: ``SemideterministicRounding`` (signs of the variables'
Pauli expectations) or ``MagicRounding`` (measure every qubit in a random magic basis, read all
its variables from the outcome).

Magic rounding measures one circuit per sampled basis assignment, i.e. up to one per shot. The
library would compile and run each as a separate circuit; :class:`BatchedMagicRounding` keeps
the library's basis sampling and decoding tables but makes all bases parameter sets of a single
circuit (the basis rotation of each qubit as a U gate with parameters), compiled once and
sampled with ``Backend.sample``, and decodes and evaluates all samples as arrays (the library
does both sample by sample). Its nominal sampler is the
:class:`~qbench.backends.sampler_adapter.BackendSampler` over the same backend.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Literal

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.quantum_info import Operator, SparsePauliOp
from qiskit.synthesis import OneQubitEulerDecomposer
from qiskit.transpiler import PassManager
from qiskit_optimization import QuadraticProgram
from qiskit_optimization.algorithms import OptimizationResultStatus, SolutionSample
from qiskit_optimization.algorithms.qrao import (
    MagicRounding,
    QuantumRandomAccessEncoding,
    RoundingContext,
    RoundingResult,
    SemideterministicRounding,
)
from qiskit_optimization.exceptions import QiskitOptimizationError
from qiskit_optimization.algorithms.qrao.quantum_random_access_encoding import (
    _z_to_21p_qrac_basis_circuit,
    _z_to_31p_qrac_basis_circuit,
)

from qbench.ansatz import hardware_efficient
from qbench.backends.sampler_adapter import BackendSampler
from qbench.params import check
from qbench.qubo import Qubo
from qbench.sampling import decoded_answer, select_answer
from qbench.solver import FinalSampling, SolveContext, Solver, SolverResult
from qbench.variational import OptimizerName, OptimizerParams, minimize, variational_result


@dataclass(frozen=True)
class QraoParams(OptimizerParams):
    """``max_vars_per_qubit``: 1, 2 or 3 (the QRAC); ``reps``, ``entanglement``: the
    EfficientSU2 ansatz; ``initial_point``: ``random`` (uniform in [0, 2 pi)) or ``zeros``;
    ``rounding``: ``magic`` or ``semideterministic``; ``basis_sampling``: magic bases drawn
    ``uniform`` (the paper's guarantee) or ``weighted`` by the relaxed expectations;
    ``rounding_shots``: shots of magic rounding; optimizer settings as for every variational
    solver."""

    max_vars_per_qubit: Literal[1, 2, 3] = 3
    reps: int = 5
    entanglement: Literal["linear", "reverse_linear", "full", "circular", "sca", "pairwise"] = "linear"
    initial_point: Literal["random", "zeros"] = "random"
    rounding: Literal["magic", "semideterministic"] = "magic"
    basis_sampling: Literal["uniform", "weighted"] = "uniform"
    rounding_shots: int = 10000
    optimizer: OptimizerName = "Powell"
    maxiter: int = 20
    tol: float | None = None

    def __post_init__(self) -> None:
        check(self.reps >= 1, "reps", f"must be >= 1, got {self.reps}")
        check(self.rounding_shots >= 1, "rounding_shots", f"must be >= 1, got {self.rounding_shots}")
        super().__post_init__()


def quadratic_program(qubo: Qubo) -> QuadraticProgram:
    """The QUBO as a minimising, unconstrained qiskit-optimization program (same variable order)."""
    qp = QuadraticProgram("qubo")
    for i in range(qubo.num_variables):
        qp.binary_var(qubo.names[i] if qubo.names else f"x{i}")
    rows, cols = np.nonzero(qubo.quadratic)
    qp.minimize(
        constant=qubo.offset,
        linear=qubo.linear.tolist(),
        quadratic={(int(i), int(j)): float(qubo.quadratic[i, j]) for i, j in zip(rows, cols)},
    )
    return qp


def qrac_encoding(qubo: Qubo, max_vars_per_qubit: int) -> QuantumRandomAccessEncoding:
    """The library's QRAC encoding of ``qubo`` (its ``num_qubits`` is what QRAO runs on)."""
    encoding = QuantumRandomAccessEncoding(max_vars_per_qubit=max_vars_per_qubit)
    encoding.encode(quadratic_program(qubo))
    return encoding


def qrao_qubits(qubo: Qubo, max_vars_per_qubit: int) -> int:
    """``qrac_encoding(qubo, max_vars_per_qubit).num_qubits`` without building the encoded
    operator (minutes for the comparative study's 144-variable QUBOs): as
    ``QuantumRandomAccessEncoding.encode`` does, variables are coloured greedily (networkx's
    ``greedy_color``) on the graph of their couplings, added in the same order, and each colour
    takes ``ceil(size / max_vars_per_qubit)`` qubits."""
    import networkx as nx

    q = qubo.quadratic
    rows, cols = np.nonzero(q + q.T)
    graph = nx.Graph()
    graph.add_nodes_from(range(len(qubo.linear)))
    graph.add_edges_from((int(i), int(j)) for i, j in zip(rows, cols) if i < j)
    sizes = Counter(nx.greedy_color(graph).values())
    return sum(math.ceil(size / max_vars_per_qubit) for size in sizes.values())


def variable_operators(encoding: QuantumRandomAccessEncoding) -> list[SparsePauliOp]:
    """The Pauli operator of each variable (``encoding.var2op``) on the whole register.

    The library's qubit ``q`` of ``var2op`` is the ``q``-th tensor factor from the left, i.e.
    Qiskit qubit ``num_qubits - 1 - q``, which a Pauli label spells in that order.
    """
    n = encoding.num_qubits
    ops = []
    for var in range(encoding.num_vars):
        position, op = encoding.var2op[var]
        label = ["I"] * n
        label[position] = str(op.paulis[0])
        ops.append(SparsePauliOp("".join(label)))
    return ops


class BatchedMagicRounding(MagicRounding):
    """``MagicRounding`` whose basis measurements run as parameter sets of one circuit on a
    qbench backend (see the module docstring)."""

    def __init__(self, backend, shots: int, basis_sampling: str = "uniform", seed: int | None = None) -> None:
        super().__init__(BackendSampler(backend, shots), basis_sampling=basis_sampling, seed=seed,
                         pass_manager=PassManager())
        self.backend = backend

    @staticmethod
    def basis_angles(vars_per_qubit: int) -> np.ndarray:
        """U(theta, phi, lambda) angles of the inverse basis rotation of each magic basis index
        (the library's own basis circuits, decomposed)."""
        if vars_per_qubit == 1:
            return np.zeros((1, 3))
        builder = _z_to_31p_qrac_basis_circuit if vars_per_qubit == 3 else _z_to_21p_qrac_basis_circuit
        decomposer = OneQubitEulerDecomposer("U")
        angles = [decomposer.angles(Operator(builder([b]).inverse()).data) for b in range(2 ** (vars_per_qubit - 1))]
        return np.array(angles)[:, :3]

    def _evaluate_magic_bases(self, circuit, bases, basis_shots, vars_per_qubit):
        """Counts (bitstring -> shots) of ``circuit`` measured in each of ``bases``."""
        n = circuit.num_qubits
        angles = ParameterVector("basis", 3 * n)
        measured = circuit.copy()
        for q in range(n):
            measured.u(angles[3 * q], angles[3 * q + 1], angles[3 * q + 2], q)
        prepared = self.backend.prepare(measured)
        table = self.basis_angles(vars_per_qubit)
        # The library gives qubit i the basis bases[n - 1 - i].
        rows = table[np.asarray(bases)[:, ::-1]].reshape(len(bases), 3 * n)
        counts: list[dict[str, int] | None] = [None] * len(bases)
        by_shots: dict[int, list[int]] = defaultdict(list)
        for i, shots in enumerate(basis_shots):
            by_shots[int(shots)].append(i)
        for shots, indices in sorted(by_shots.items(), reverse=True):
            for i, samples in zip(indices, self.backend.sample(prepared, rows[indices], shots)):
                unique, freq = np.unique(samples.bits, axis=0, return_counts=True)
                counts[i] = {"".join(map(str, b[::-1].tolist())): int(c) for b, c in zip(unique, freq)}
        return counts

    def round(self, rounding_context: RoundingContext) -> RoundingResult:
        """The library's ``MagicRounding.round`` (same bases from the same generator, same
        samples in the same order), with its per-sample Python work done on arrays: every
        measured bitstring is decoded to its variables at once (the library unpacks each one
        variable by variable), and every distinct assignment's objective value comes from the
        program's coefficient arrays (the library calls ``objective.evaluate`` and
        ``is_feasible`` on each, about 1 ms apiece: 7 s for the 7 000 distinct samples of the
        default MDKP's 10 000 shots)."""
        encoding = rounding_context.encoding
        circuit = rounding_context.circuit
        vars_per_qubit = encoding.max_vars_per_qubit
        if circuit is None:
            raise ValueError("No circuit was provided in the rounding context; magic rounding needs one.")
        if self.basis_sampling == "uniform":
            bases, basis_shots = self._sample_bases_uniform(encoding.q2vars, vars_per_qubit)
        else:
            if rounding_context.expectation_values is None:
                raise ValueError("Magic rounding with weighted basis sampling needs the rounding context's "
                                 "expectation values.")
            bases, basis_shots = self._sample_bases_weighted(encoding.q2vars, rounding_context.expectation_values,
                                                             vars_per_qubit)
        basis_counts = self._evaluate_magic_bases(circuit, bases, basis_shots, vars_per_qubit)
        assignments, counts = self.decode(basis_counts, bases, encoding.var2op, vars_per_qubit)
        if counts.sum() != self._shots:
            raise QiskitOptimizationError(f"Magic rounding returned {counts.sum()} shots, not {self._shots}.")
        values, feasible = objective_values(encoding.problem, assignments)
        samples = [
            SolutionSample(x=x, fval=float(value), probability=count / self._shots,
                           status=OptimizationResultStatus.SUCCESS if ok else OptimizationResultStatus.INFEASIBLE)
            for x, value, count, ok in zip(assignments, values, counts.tolist(), feasible)
        ]
        return RoundingResult(expectation_values=rounding_context.expectation_values, samples=samples, bases=bases,
                              basis_shots=basis_shots, basis_counts=basis_counts)

    def decode(self, basis_counts: list[dict[str, int]], bases: np.ndarray, var2op: dict,
               vars_per_qubit: int) -> tuple[np.ndarray, np.ndarray]:
        """The distinct variable assignments of all measured bitstrings, in the order the library
        first meets them, and their shot counts. Variable ``v`` on qubit ``q`` with Pauli ``P``
        reads entry ``P`` of the library's ``_DECODING`` row of qubit ``q``'s basis and outcome
        (character ``q`` of the bitstring, as the library indexes it)."""
        keys = [key for counts in basis_counts for key in counts]
        shots = np.array([c for counts in basis_counts for c in counts.values()], dtype=np.int64)
        basis_of = np.repeat(np.arange(len(basis_counts)), [len(counts) for counts in basis_counts])
        n = len(keys[0]) if keys else 0
        outcomes = (np.frombuffer("".join(keys).encode(), dtype=np.uint8).reshape(len(keys), n) - ord("0"))
        table = np.array([[row[o] for o in "01"] for row in self._DECODING[vars_per_qubit]])  # (bases, 2, ops)
        variables = sorted(var2op)
        qubit = np.array([var2op[v][0] for v in variables], dtype=int)
        op = np.array([self._OP_INDICES[vars_per_qubit][str(var2op[v][1].paulis[0])] for v in variables], dtype=int)
        assignments = table[np.asarray(bases)[basis_of][:, qubit], outcomes[:, qubit], op]
        unique, first, inverse = np.unique(assignments, axis=0, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        totals = np.bincount(inverse.ravel(), weights=shots, minlength=len(unique)).astype(np.int64)
        return unique[order], totals[order]


def objective_values(problem: QuadraticProgram, assignments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``problem.objective.evaluate`` and ``problem.is_feasible`` of every row of
    ``assignments`` at once (feasibility from the variables' bounds; a program with constraints
    is checked row by row by the library)."""
    objective = problem.objective
    x = assignments.astype(float)
    values = objective.constant + x @ objective.linear.to_array() + np.einsum(
        "ri,ij,rj->r", x, objective.quadratic.to_array(), x)
    if problem.linear_constraints or problem.quadratic_constraints:
        return values, np.array([problem.is_feasible(row) for row in x], dtype=bool)
    lower = np.array([v.lowerbound for v in problem.variables])
    upper = np.array([v.upperbound for v in problem.variables])
    return values, np.all((x >= lower) & (x <= upper), axis=1)


class Qrao(Solver):
    """QRAO: VQE on the QRAC-relaxed Hamiltonian, then rounding; see the module docstring."""

    name = "qrao"
    Params = QraoParams

    def solve(self, ctx: SolveContext) -> SolverResult:
        p = self.params
        qubo = ctx.encoding().qubo
        encoding = qrac_encoding(qubo, p.max_vars_per_qubit)
        hamiltonian, offset = encoding.qubit_op, float(encoding.offset)
        observables = [hamiltonian, *variable_operators(encoding)]
        circuit = hardware_efficient(encoding.num_qubits, "efficient_su2", p.reps, p.entanglement)

        backend = ctx.backend().seeded(ctx.seed)
        prepared = backend.prepare(circuit)

        def objective(theta: np.ndarray) -> float:
            return float(backend.estimate(prepared, [hamiltonian], theta[None, :])[0, 0]) + offset

        if p.initial_point == "random":
            x0 = ctx.rng().uniform(0, 2 * np.pi, circuit.num_parameters)
        else:
            x0 = np.zeros(circuit.num_parameters)
        settings = p.optimizer_settings()
        executed_before = backend.timings["execute"]
        result = minimize(objective, x0, settings, seed=ctx.seed, progress=ctx.progress, label=self.name,
                          config_path=ctx.config_path)
        optimise_execute = backend.timings["execute"] - executed_before

        values = backend.estimate(prepared, observables, result.x[None, :])[0]
        context = RoundingContext(encoding, expectation_values=values[1:].tolist(),
                                  circuit=circuit.assign_parameters(result.x))
        if p.rounding == "magic":
            scheme = BatchedMagicRounding(backend, p.rounding_shots, p.basis_sampling, seed=ctx.seed)
        else:
            scheme = SemideterministicRounding(seed=ctx.seed)
        rounded = scheme.round(context)
        bits = np.array([s.x for s in rounded.samples], dtype=np.int8)
        probabilities = np.array([s.probability for s in rounded.samples])
        if p.rounding == "magic":
            answer = select_answer(ctx.encoding(), ctx.problem, bits, probabilities, ctx.selection)
            final_sampling = FinalSampling(ctx.encoding(), p.rounding_shots, answer)
        else:  # one assignment from the signs of the expectations: nothing sampled
            answer, final_sampling = decoded_answer(ctx.encoding(), ctx.problem, bits[0]), None
        return variational_result(
            backend, prepared, answer, result, x0, settings, optimise_execute, final_sampling=final_sampling,
            max_vars_per_qubit=p.max_vars_per_qubit, compression_ratio=encoding.compression_ratio,
            relaxed_energy=float(values[0]) + offset, rounding=p.rounding,
            basis_sampling=p.basis_sampling if p.rounding == "magic" else None,
            rounding_shots=p.rounding_shots if p.rounding == "magic" else None,
            ansatz="efficient_su2", reps=p.reps, entanglement=p.entanglement,
            variable_expectations=values[1:].tolist(),
        )
