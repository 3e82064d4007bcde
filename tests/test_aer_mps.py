"""backend=aer_mps: the chain order is undone on samples and observables, an uncapped MPS gives
the state vector's energies and distribution, and records state what truncation did."""

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector

from qbench.ansatz import qaoa_layout
from qbench.backends.aer import AerBackend, AerParams
from qbench.backends.mps import chain_positions, truncation_of_log
from qbench.qubo import Qubo
from qbench.qubo_cost import DiagonalCost, normalisation
from tests.helpers import run


def mps_backend(**params) -> AerBackend:
    return AerBackend(AerParams(method="matrix_product_state", **params))


def z_observables(n):
    return [SparsePauliOp.from_sparse_list([("Z", [q], 1.0)], n) for q in range(n)]


def scrambled_path_circuit():
    """Basis state with qubits 0, 2, 5 set with ZZ phases along the path 0-4-2-5-1-3."""
    circuit = QuantumCircuit(6)
    circuit.x([0, 2, 5])
    for a, b in [(0, 4), (4, 2), (2, 5), (5, 1), (1, 3)]:
        circuit.rzz(0.7, a, b)
    return circuit


def test_chain_order_is_undone_on_samples_and_observables():
    circuit = scrambled_path_circuit()
    positions = chain_positions(circuit, "rcm")
    assert sorted(positions.tolist()) == list(range(6)) and positions.tolist() != list(range(6))
    # Along the chain, the path's neighbours sit next to each other.
    assert all(abs(positions[a] - positions[b]) == 1 for a, b in [(0, 4), (4, 2), (2, 5), (5, 1), (1, 3)])

    backend = mps_backend().seeded(3)
    prepared = backend.prepare(circuit)
    assert backend.chain == positions.tolist() and prepared.isa.layout is not None
    (samples,) = backend.sample(prepared, np.zeros((1, 0)), 50)
    np.testing.assert_array_equal(samples.bits, np.tile([1, 0, 1, 0, 0, 1], (50, 1)))
    values = backend.estimate(prepared, z_observables(6), np.zeros((1, 0)))[0]
    np.testing.assert_allclose(values, [-1, 1, -1, 1, 1, -1], atol=1e-12)


def test_circuits_wider_than_aers_declared_63_qubits_are_lowered_and_sampled():
    # Aer's MPS target says 63 qubits; a 102-qubit penalty QUBO's ansatz must still run.
    n = 70
    circuit = QuantumCircuit(n)
    circuit.ry(np.pi, range(0, n, 3))  # |1> on every third qubit
    circuit.cx(0, 1)  # qubit 1 follows qubit 0 into |1>
    backend = mps_backend().seeded(1)
    prepared = backend.prepare(circuit)
    (samples,) = backend.sample(prepared, np.zeros((1, 0)), 20)
    expected = np.zeros(n, dtype=samples.bits.dtype)
    expected[0::3] = 1
    expected[1] = 1
    np.testing.assert_array_equal(samples.bits, np.tile(expected, (20, 1)))


def random_qubo(n, seed):
    rng = np.random.default_rng(seed)
    quadratic = np.triu(rng.integers(-5, 6, (n, n)), 1) * (rng.random((n, n)) < 0.6)
    return Qubo(rng.integers(-5, 6, n).astype(float), quadratic.astype(float), 1.0)


def test_mps_with_chain_order_equals_the_state_vector_on_a_9_qubit_qaoa():
    qubo = random_qubo(9, 4)
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = qaoa_layout(cost.circuit_hamiltonian, 2)
    x = layout.pack(np.array([0.4, 0.7]), np.array([0.6, 0.3]))

    mps = mps_backend(mps_max_bond_dimension=0, mps_truncation_threshold=1e-16).seeded(1)
    prepared = mps.prepare(layout.circuit)
    assert mps.chain != list(range(9))
    exact = Statevector(layout.circuit.assign_parameters(x))
    assert mps.cost(prepared, cost, x[None, :])[0] == pytest.approx(
        exact.expectation_value(cost.hamiltonian).real + cost.constant, abs=1e-8)
    np.testing.assert_allclose(mps.estimate(prepared, z_observables(9), x[None, :])[0],
                               [exact.expectation_value(op).real for op in z_observables(9)], atol=1e-8)
    plain = mps_backend(mps_max_bond_dimension=0, mps_truncation_threshold=1e-16, mps_qubit_order="none")
    plain_prepared = plain.prepare(layout.circuit)
    assert plain.chain == list(range(9)) and plain_prepared.isa.layout is None
    assert plain.cost(plain_prepared, cost, x[None, :])[0] == pytest.approx(mps.cost(prepared, cost, x[None, :])[0],
                                                                         abs=1e-9)

    shots = 40000
    (samples,) = mps.sample(prepared, x[None, :], shots)
    probabilities = exact.probabilities()
    states = np.arange(2**9)
    marginals = np.array([probabilities @ ((states >> q) & 1) for q in range(9)])
    assert np.ptp(marginals) > 0.1  # a permuted decoding would show
    np.testing.assert_allclose(samples.bits.mean(axis=0), marginals, atol=5 * 0.5 / np.sqrt(shots))
    keys = samples.bits @ (1 << np.arange(9))
    empirical = np.bincount(keys, minlength=2**9) / shots
    top = np.argsort(probabilities)[-10:]  # the likeliest states, each within 5 sigma
    sigma = np.sqrt(probabilities[top] * (1 - probabilities[top]) / shots)
    assert np.all(np.abs(empirical[top] - probabilities[top]) < 5 * sigma)

    info = mps.info()
    assert info["mps_approximate"] is False and info["mps_truncations"] == 0
    assert info["mps_fidelity_estimate"] == 1.0 and info["mps_bond_dimension_reached"] <= 16
    assert info["mps_chain_positions"] == mps.chain

    # The defaults (cap 16 = 2^(9 // 2), threshold 1e-10) cut nothing that matters here.
    bounded = mps_backend()
    assert bounded.cost(bounded.prepare(layout.circuit), cost, x[None, :])[0] == pytest.approx(
        exact.expectation_value(cost.hamiltonian).real + cost.constant, rel=1e-7)
    assert bounded.info()["mps_approximate"] is False


def test_truncation_facts_are_read_from_aers_log():
    log = ("I0:rzz on qubits 0,1, BD=[2 1 1],  internal_swap on qubits 2,1, BD=[2 4 1],  "
           "discarded_value=0.001, I1:rx on qubits 1, BD=[2 4 3],  discarded_value=0.002, ")
    facts = truncation_of_log(log)
    assert facts.max_bond_dimension == 4 and facts.truncations == 2
    assert facts.discarded_weight == pytest.approx(0.003) and facts.largest_discard == 0.002
    assert facts.fidelity_estimate == pytest.approx(0.999 * 0.998)
    # Only a discard of at least the threshold comes from the cap; no cap, no capping.
    assert facts.capped(4, 1e-10) and not facts.capped(4, 0.01) and not facts.capped(0, 1e-10)


def test_each_diagnosis_reads_only_its_own_run_of_aers_process_wide_log():
    # Aer appends every logged run to one buffer: a later, smaller cap must still show.
    qubo = random_qubo(12, 7)
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = qaoa_layout(cost.circuit_hamiltonian, 1)
    x = layout.pack(np.array([0.8]), np.array([0.4]))
    reached = []
    for cap in (16, 2, 16):
        backend = mps_backend(mps_max_bond_dimension=cap).seeded(0)
        backend.sample(backend.prepare(layout.circuit), x[None, :], 10)
        reached.append(backend.info()["mps_bond_dimension_reached"])
    assert reached[1] == 2 and reached[0] == reached[2] > 2


MDKP_QAOA = ("solver=qaoa", "backend=aer_mps", "solver.reps=1", "solver.maxiter=3", "solver.shots=200",
             "solver.final_shots=200", "progress=false")


@pytest.mark.parametrize("cap, approximate", [(2, True), (128, False)])
def test_the_record_says_whether_the_cap_truncated_the_state(cap, approximate):
    # The default MDKP: 14 qubits, so at most 2^7 = 128 across the middle bond.
    record = run(*MDKP_QAOA, f"backend.mps_max_bond_dimension={cap}")
    assert record.status == "ok", record.error
    info = record.solver_info
    assert info["backend"] == "aer_mps" and info["matrix_product_state_max_bond_dimension"] == cap
    assert info["mps_qubit_order"] == "rcm" and sorted(info["mps_chain_positions"]) == list(range(14))
    assert info["mps_approximate"] is approximate
    if approximate:
        assert info["mps_bond_dimension_reached"] == 2 and info["mps_truncations"] > 0
        assert 0 < info["mps_fidelity_estimate"] < 1 and info["mps_discarded_weight"] > 0
    else:
        assert info["mps_bond_dimension_reached"] <= 128
        assert info["mps_fidelity_estimate"] == pytest.approx(1.0, abs=1e-6)
