"""backend.engine: which engine runs a circuit (auto: NumPy arrays for small QAOA layouts, the
numba kernels otherwise; reference: plain NumPy for everything), the reference engine against
the fast ones (energies, CVaR, probabilities, samples with the same seed, Pauli observables,
gradients)."""


import numpy as np
import pytest
from qiskit.quantum_info import SparsePauliOp

from qbench.ansatz import hardware_efficient, qaoa_layout
from qbench.backends.statevector import StatevectorBackend, StatevectorParams
from qbench.backends.sv_cpu import KernelEngine
from qbench.backends.sv_gpu import ArrayQaoaEngine
from qbench.backends.sv_reference import ReferenceEngine, apply_gate, ising_diagonal
from qbench.errors import ConfigError
from qbench.qubo_cost import DiagonalCost, normalisation
from tests.test_statevector import random_qubo


def qaoa_case(n, variant="standard", integer=True, reps=2, seed=1):
    qubo = random_qubo(n, seed, integer)
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    warm = np.linspace(0.4, 2.6, n) if variant == "warm_start" else None
    layout = qaoa_layout(cost.circuit_hamiltonian, reps, multi_angle=variant == "multi_angle", warm_angles=warm)
    points = np.random.default_rng(seed).uniform(0, np.pi, (2, layout.num_parameters))
    return qubo, cost, layout, points


def test_auto_picks_numpy_arrays_below_16_qubits_and_the_kernels_from_16():
    backend = StatevectorBackend(StatevectorParams(device="cpu"))
    for n, expected in ((10, ArrayQaoaEngine), (15, ArrayQaoaEngine), (16, KernelEngine), (17, KernelEngine)):
        _, _, layout, _ = qaoa_case(n, reps=1)
        engine = backend.engines.engine_for(n, qaoa=True)
        assert type(engine) is expected and engine is not backend.engines.reference
        if n == 10:
            assert backend.prepare(layout.circuit, structure=layout).extra["engine"] is backend.engines.small
    assert backend.engines.engine_for(17, qaoa=False) is backend.engines.cpu
    assert backend.prepare(hardware_efficient(5, reps=1)).extra["engine"] is backend.engines.cpu
    reference = StatevectorBackend(StatevectorParams(engine="reference"))
    assert isinstance(reference.engines.engine_for(17, qaoa=True), ReferenceEngine)
    assert reference.engines.cpu is None and reference.engines.gpu is None
    assert reference.info()["engine"] == "reference" and backend.info()["engine"] == "auto"
    assert reference.memory_required(20) > backend.memory_required(20) == 40 * 2**20


def test_engine_is_validated():
    with pytest.raises(ConfigError, match="engine: must be auto or reference"):
        StatevectorParams(engine="numba")
    with pytest.raises(ConfigError, match="engine: reference runs on the CPU"):
        StatevectorParams(engine="reference", device="gpu")


def evaluate(engine, case, shots=2000, seed=7):
    """Energies, CVaR, every probability, seeded samples and Z/Pauli observables of ``case``."""
    qubo, cost, layout, points = case
    backend = StatevectorBackend(StatevectorParams(engine=engine)).seeded(seed)
    prepared = backend.prepare(layout.circuit, structure=layout)
    n = layout.circuit.num_qubits
    observables = [cost.hamiltonian, SparsePauliOp(["X" + "I" * (n - 2) + "Z", "Y" * n], [0.5, -0.3])]
    return (backend.cost(prepared, cost, points), backend.cost(prepared, DiagonalCost(qubo, 0.25, cost.scale), points),
            np.abs(backend.state(prepared, points[0])) ** 2, [s.bits for s in backend.sample(prepared, points, shots)],
            backend.estimate(prepared, observables, points))


def assert_same(reference, fast, tolerance=1e-9):
    (energy, cvar, probabilities, samples, estimates), (f_energy, f_cvar, f_probabilities, f_samples, f_estimates) = \
        reference, fast
    np.testing.assert_allclose(energy, f_energy, rtol=0, atol=tolerance * max(1.0, np.abs(f_energy).max()))
    np.testing.assert_allclose(cvar, f_cvar, rtol=0, atol=tolerance * max(1.0, np.abs(f_cvar).max()))
    np.testing.assert_allclose(probabilities, f_probabilities, rtol=0, atol=1e-12)
    for bits, f_bits in zip(samples, f_samples):
        np.testing.assert_array_equal(bits, f_bits)  # same seeds, same draws
    np.testing.assert_allclose(estimates, f_estimates, rtol=0, atol=tolerance * max(1.0, np.abs(f_estimates).max()))


@pytest.mark.parametrize("variant", ["standard", "float", "multi_angle", "warm_start"])
def test_reference_equals_numpy_arrays_on_a_12_qubit_qaoa(variant):
    case = qaoa_case(12, "standard" if variant == "float" else variant, integer=variant != "float", seed=3)
    assert_same(evaluate("reference", case), evaluate("auto", case))


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["standard", "float", "multi_angle"])
def test_reference_equals_the_kernels_on_a_17_qubit_qaoa(variant):
    """17 qubits: the serial numba kernels, a 12-qubit low block and a 5-qubit high pass (the
    energy fused into it for integer costs)."""
    case = qaoa_case(17, "standard" if variant == "float" else variant, integer=variant != "float", seed=4)
    assert_same(evaluate("reference", case, shots=500), evaluate("auto", case, shots=500))


@pytest.mark.parametrize("n", [10, pytest.param(16, marks=pytest.mark.slow)])
def test_reference_equals_the_kernels_on_a_gate_circuit(n):
    """VQE's ansatz: Pauli observables (several rows: batched for n = 10), energies, CVaR,
    samples with the same seed, and the adjoint gradient."""
    qubo = random_qubo(n, 5)
    cost = DiagonalCost(qubo)
    circuit = hardware_efficient(n, reps=1)
    points = np.random.default_rng(6).uniform(0, 2 * np.pi, (3, circuit.num_parameters))
    observables = [cost.hamiltonian, SparsePauliOp(["XY" + "I" * (n - 3) + "Z", "Z" * n], [0.7, -0.2])]
    results = []
    for engine in ("reference", "auto"):
        backend = StatevectorBackend(StatevectorParams(engine=engine)).seeded(2)
        prepared = backend.prepare(circuit)
        results.append([backend.estimate(prepared, observables, points), backend.cost(prepared, cost, points),
                        backend.cost(prepared, DiagonalCost(qubo, 0.3), points[:1]),
                        [s.bits for s in backend.sample(prepared, points[:2], 300)],
                        backend.gradient(prepared, observables, np.array([1.0, 0.5]), points[0])])
    for got, expected in zip(*results):
        if isinstance(got, list):
            for bits, expected_bits in zip(got, expected):
                np.testing.assert_array_equal(bits, expected_bits)
        else:
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9 * max(1.0, np.abs(expected).max()))


def test_reference_gate_and_diagonal_are_the_textbook_ones():
    """apply_gate against a Kronecker-product operator, ising_diagonal against brute force."""
    rng = np.random.default_rng(2)
    n = 5
    psi = rng.normal(size=1 << n) + 1j * rng.normal(size=1 << n)
    u = np.linalg.qr(rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4)))[0]
    got = psi.copy()
    apply_gate(got, (1, 3), u)  # matrix index = bit(q1) + 2 bit(q3)
    full = np.zeros((1 << n, 1 << n), dtype=complex)
    for z in range(1 << n):
        local = ((z >> 1) & 1) + 2 * ((z >> 3) & 1)
        rest = z & ~0b1010
        for row in range(4):
            full[rest | ((row & 1) << 1) | ((row >> 1) << 3), z] += u[row, local]
    np.testing.assert_allclose(got, full @ psi, atol=1e-12)
    h, J = rng.normal(size=n), np.triu(rng.normal(size=(n, n)), 1)
    spins = 1 - 2 * ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1)
    np.testing.assert_allclose(ising_diagonal(h, J), spins @ h + np.einsum("zq,qr,zr->z", spins, J, spins), atol=1e-12)
