"""Gate circuits compiled once (sv_gates): each gate's matrix as a function of the parameters
against Qiskit's, batched evaluation against exact state vectors, the adjoint gradient against finite
differences, and batched sampling against row-by-row sampling."""

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector

from qbench.ansatz import qaoa_layout
from qbench.backends.statevector import StatevectorBackend, StatevectorParams
from qbench.backends.sv_gates import GateSequence, evolve
from qbench.qubo import Qubo
from qbench.qubo_cost import DiagonalCost

ONE_PARAMETER = ["rx", "ry", "rz", "p", "rzz", "rxx", "ryy", "rzx", "cp", "crx", "cry", "crz"]


@pytest.mark.parametrize("name", ONE_PARAMETER)
def test_every_one_parameter_gate_has_its_matrix_as_a_trigonometric_form(name):
    a, b = Parameter("a"), Parameter("b")
    circuit = QuantumCircuit(2)
    getattr(circuit, name)(2 * a - 0.4 * b + 0.3, *range(2 if name[0] in "cr" and name not in "rxryrz" else 1))
    sequence = GateSequence(circuit)
    (step,) = sequence.steps
    assert step.trigonometric and sequence.differentiable
    for x in np.random.default_rng(0).uniform(-7, 7, (4, 2)):
        expected = Operator(circuit.assign_parameters(dict(zip(circuit.parameters, x))).data[0].operation).data
        np.testing.assert_allclose(sequence.matrices(x[None, :])[0][0], expected, atol=1e-12)


def test_u_has_a_trigonometric_form_in_its_three_angles():
    a, b = Parameter("a"), Parameter("b")
    circuit = QuantumCircuit(1)
    circuit.u(a, 0.3, 2 * b - a, 0)
    sequence = GateSequence(circuit)
    assert sequence.steps[0].trigonometric and sequence.steps[0].coefficients.shape == (125, 2, 2)
    rows = np.random.default_rng(1).uniform(-7, 7, (5, 2))
    for x, matrix in zip(rows, sequence.matrices(rows)[0]):
        bound = circuit.assign_parameters(dict(zip(circuit.parameters, x)))
        np.testing.assert_allclose(matrix, Operator(bound.data[0].operation).data, atol=1e-12)


def test_non_affine_angles_are_bound_row_by_row():
    a = Parameter("a")
    circuit = QuantumCircuit(1)
    circuit.rx(a * a, 0)
    sequence = GateSequence(circuit)
    assert not sequence.differentiable and not sequence.steps[0].trigonometric
    rows = np.array([[0.2], [-0.7]])
    for x, matrix in zip(rows, sequence.matrices(rows)[0]):
        bound = circuit.assign_parameters(dict(zip(circuit.parameters, x)))
        np.testing.assert_allclose(matrix, Operator(bound.data[0].operation).data, atol=1e-12)


def mixed_circuit():
    """Four qubits, every kind of gate: fixed, one-parameter (affine angles), u, controlled."""
    theta = ParameterVector("t", 8)
    circuit = QuantumCircuit(4)
    circuit.h(range(4))
    circuit.ry(theta[0], 0)
    circuit.rz(2 * theta[1] + 0.5, 1)
    circuit.cx(0, 3)
    circuit.rzz(theta[2], 3, 1)
    circuit.crx(theta[3], 2, 0)
    circuit.u(theta[4], 0.2, theta[5], 2)
    circuit.rxx(theta[6] - theta[0], 1, 2)
    circuit.cp(theta[7], 3, 2)
    circuit.ecr(1, 0)
    circuit.sx(3)
    return circuit


OBSERVABLES = [SparsePauliOp(["XYZX", "ZIZI", "IYIY"], [0.5, -1.0, 0.25]), SparsePauliOp("IIZI"),
               SparsePauliOp(["ZZII", "IIZZ", "ZIIZ", "IZZI", "ZIZI", "IZIZ", "ZIII", "IIIZ", "IZII"],
                             [1.0, -2.0, 0.5, 1.5, -0.5, 2.0, 1.0, -1.0, 0.3])]


#: backend.engine values the tests against exact states run on: the fast engines and the reference.
ENGINES = ["auto", "reference"]


@pytest.mark.parametrize("engine", ENGINES)
def test_many_parameter_sets_at_once_equal_exact_state_vectors(engine):
    # Against Qiskit's Statevector of the bound circuits: Aer's primitives (qiskit-aer 0.18.2)
    # evaluate parametrised crx and cp wrongly when binding at run time.
    circuit = mixed_circuit()
    rows = np.random.default_rng(1).uniform(-np.pi, np.pi, (9, circuit.num_parameters))
    expected = np.array([[Statevector(circuit.assign_parameters(x)).expectation_value(op).real for op in OBSERVABLES]
                         for x in rows])
    backend = StatevectorBackend(StatevectorParams(engine=engine))
    prepared = backend.prepare(circuit)
    np.testing.assert_allclose(backend.estimate(prepared, OBSERVABLES, rows), expected, atol=1e-10)
    np.testing.assert_allclose(backend.estimate(prepared, OBSERVABLES, rows[:1]), expected[:1], atol=1e-10)
    assert backend.evaluations == 10


@pytest.mark.parametrize("engine", ENGINES)
def test_adjoint_gradient_equals_finite_differences(engine):
    theta = ParameterVector("t", 6)
    circuit = QuantumCircuit(3)
    circuit.h(range(3))
    circuit.ry(theta[0], 0)
    circuit.rz(2 * theta[1] + 0.5, 1)
    circuit.cry(theta[2], 0, 2)  # a controlled rotation: no two-term parameter-shift rule
    circuit.rzz(theta[3] - theta[0], 2, 1)
    circuit.cx(1, 0)
    circuit.p(theta[4], 2)
    circuit.rxx(3 * theta[5], 0, 1)
    observables = [SparsePauliOp(["XYZ", "ZIZ"], [0.5, -1.0]), SparsePauliOp("IYI"), SparsePauliOp("XXI")]
    weights = np.array([0.7, -1.3, 2.0])
    engine = StatevectorBackend(StatevectorParams(engine=engine))
    prepared = engine.prepare(circuit)
    x = np.random.default_rng(2).uniform(-np.pi, np.pi, circuit.num_parameters)
    gradient = engine.gradient(prepared, observables, weights, x)
    assert engine.evaluations == 1
    step = 1e-6
    shifted = engine.estimate(prepared, observables, np.vstack([x + step * np.eye(6), x - step * np.eye(6)]))
    numeric = (shifted[:6] - shifted[6:]) @ weights / (2 * step)
    np.testing.assert_allclose(gradient, numeric, atol=1e-7)


@pytest.mark.parametrize("engine", ENGINES)
def test_adjoint_gradient_of_a_circuit_with_u_gates_equals_finite_differences(engine):
    circuit = mixed_circuit()
    engine = StatevectorBackend(StatevectorParams(engine=engine))
    prepared = engine.prepare(circuit)
    x = np.random.default_rng(5).uniform(-np.pi, np.pi, circuit.num_parameters)
    weights = np.array([1.0, -0.5, 0.25])
    gradient = engine.gradient(prepared, OBSERVABLES, weights, x)
    step, eye = 1e-6, np.eye(circuit.num_parameters)
    shifted = engine.estimate(prepared, OBSERVABLES, np.vstack([x + step * eye, x - step * eye]))
    numeric = (shifted[: len(x)] - shifted[len(x):]) @ weights / (2 * step)
    np.testing.assert_allclose(gradient, numeric, atol=1e-7)


@pytest.mark.parametrize("engine", ENGINES)
def test_no_adjoint_gradient_for_non_affine_angles_or_qaoa_layouts(engine):
    engine = StatevectorBackend(StatevectorParams(engine=engine))
    a = Parameter("a")
    circuit = QuantumCircuit(2)
    circuit.rx(a * a, 0)
    circuit.cx(0, 1)
    assert engine.gradient(engine.prepare(circuit), [SparsePauliOp("ZZ")], np.ones(1), np.zeros(1)) is None
    qubo = Qubo(np.array([1.0, -2.0, 0.5]), np.triu(np.ones((3, 3)), 1), 0.0)
    layout = qaoa_layout(DiagonalCost(qubo).circuit_hamiltonian, 1)
    prepared = engine.prepare(layout.circuit, structure=layout)
    assert engine.gradient(prepared, [SparsePauliOp("ZZI")], np.ones(1), np.zeros(2)) is None


def test_batched_sampling_draws_what_row_by_row_sampling_draws():
    circuit = mixed_circuit()
    rows = np.random.default_rng(3).uniform(-np.pi, np.pi, (6, circuit.num_parameters))
    batched = StatevectorBackend().seeded(4)
    together = batched.sample(batched.prepare(circuit), rows, 300)
    single = StatevectorBackend().seeded(4)
    prepared = single.prepare(circuit)
    for samples, row in zip(together, rows):
        (alone,) = single.sample(prepared, row[None, :], 300)
        np.testing.assert_array_equal(samples.bits, alone.bits)


def test_rows_differing_only_in_final_rotations_share_the_evolved_prefix():
    # Magic rounding's circuits: one bound ansatz, then per-row basis rotations (u gates).
    angles = ParameterVector("b", 9)
    circuit = QuantumCircuit(3)
    circuit.h(range(3))
    circuit.rzz(0.7, 0, 2)
    circuit.cx(2, 1)
    circuit.ry(0.4, 1)
    for q in range(3):
        circuit.u(angles[3 * q], angles[3 * q + 1], angles[3 * q + 2], q)
    rows = np.random.default_rng(6).uniform(0, np.pi, (5, 9))
    states = evolve(GateSequence(circuit), rows)
    for state, x in zip(states, rows):
        np.testing.assert_allclose(state, Statevector(circuit.assign_parameters(x)).data, atol=1e-12)
