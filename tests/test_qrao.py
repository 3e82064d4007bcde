"""QRAO: the encoding's operators and relaxed Hamiltonian against exact state vectors, batched
magic rounding against the library's own, and feasible runs on tiny instances."""

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.primitives import StatevectorSampler
from qiskit.quantum_info import Statevector
from qiskit_optimization.algorithms.qrao import MagicRounding, QuantumRandomAccessEncoding, RoundingContext

from qbench.backends.aer import AerBackend
from qbench.backends.sampler_adapter import BackendSampler
from qbench.qubo import Qubo
from qbench.solvers.qrao import BatchedMagicRounding, quadratic_program, variable_operators
from tests.helpers import run


def sparse_qubo(n=6, seed=0):
    rng = np.random.default_rng(seed)
    quadratic = np.zeros((n, n))
    for i in range(n - 1):  # a path: colourable with 2 colours, so variables share qubits
        quadratic[i, i + 1] = rng.integers(-3, 4)
    return Qubo(rng.integers(-4, 5, n).astype(float), quadratic, 2.0)


@pytest.mark.parametrize("vars_per_qubit", [1, 2, 3])
def test_encoded_states_have_the_variables_signs_and_the_qubo_energy(vars_per_qubit):
    qubo = sparse_qubo()
    encoding = QuantumRandomAccessEncoding(vars_per_qubit)
    encoding.encode(quadratic_program(qubo))
    assert (encoding.num_qubits == 6) if vars_per_qubit == 1 else (encoding.num_qubits < 6)
    ops = variable_operators(encoding)
    rng = np.random.default_rng(vars_per_qubit)
    for _ in range(4):
        x = rng.integers(0, 2, 6)
        state = Statevector(encoding.state_preparation_circuit(x.tolist()))
        signs = np.array([state.expectation_value(op).real for op in ops])
        np.testing.assert_array_equal(signs < 0, x == 1)
        relaxed = state.expectation_value(encoding.qubit_op).real + encoding.offset
        assert relaxed == pytest.approx(qubo.energy(x))


def test_backend_sampler_is_a_sampler_v2_over_the_backend():
    circuit = QuantumCircuit(2)
    circuit.x(1)
    circuit.measure_all()
    backend = AerBackend().seeded(3)
    result = BackendSampler(backend, 50).run([circuit]).result()[0]
    assert result.data.meas.get_counts() == {"10": 50}
    assert backend.shots == 50 and backend.evaluations == 1


def test_batched_magic_rounding_matches_the_library_on_exact_sampling():
    qubo = sparse_qubo(5, 4)
    encoding = QuantumRandomAccessEncoding(3)
    encoding.encode(quadratic_program(qubo))
    circuit = QuantumCircuit(encoding.num_qubits)
    rng = np.random.default_rng(0)
    for q in range(encoding.num_qubits):
        circuit.u(*rng.uniform(0, np.pi, 3), q)
    circuit.cx(0, 1)
    context = RoundingContext(encoding, expectation_values=None, circuit=circuit)
    shots = 20000

    def distribution(result):
        dist = {}
        for sample in result.samples:
            key = "".join(map(str, sample.x))
            dist[key] = dist.get(key, 0.0) + sample.probability
        return dist

    ours = distribution(BatchedMagicRounding(AerBackend().seeded(1), shots, seed=5).round(context))
    library = distribution(MagicRounding(StatevectorSampler(default_shots=shots, seed=2), seed=6).round(context))
    keys = set(ours) | set(library)
    distance = 0.5 * sum(abs(ours.get(k, 0.0) - library.get(k, 0.0)) for k in keys)
    assert sum(ours.values()) == pytest.approx(1.0)
    assert distance < 0.05


@pytest.mark.parametrize("vars_per_qubit, basis_sampling", [(1, "uniform"), (2, "weighted"), (3, "uniform"),
                                                             (3, "weighted")])
def test_vectorised_rounding_equals_the_librarys_on_the_same_measurements(vars_per_qubit, basis_sampling):
    qubo = sparse_qubo(7, vars_per_qubit)
    encoding = QuantumRandomAccessEncoding(vars_per_qubit)
    encoding.encode(quadratic_program(qubo))
    circuit = QuantumCircuit(encoding.num_qubits)
    rng = np.random.default_rng(vars_per_qubit)
    for q in range(encoding.num_qubits):
        circuit.u(*rng.uniform(0, np.pi, 3), q)
    circuit.cx(0, 1)
    ops = variable_operators(encoding)
    expectations = [Statevector(circuit).expectation_value(op).real for op in ops]
    context = RoundingContext(encoding, expectation_values=expectations, circuit=circuit)

    objective = encoding.problem.objective
    calls = []
    objective.evaluate = lambda x: calls.append(x) or type(objective).evaluate(objective, x)
    ours = BatchedMagicRounding(AerBackend().seeded(1), 3000, basis_sampling, seed=5).round(context)
    assert not calls  # evaluated on arrays, not sample by sample
    del objective.evaluate
    library = MagicRounding(BackendSampler(AerBackend().seeded(1), 3000), basis_sampling=basis_sampling, seed=5)
    # The library measures the same bases (same generator); hand it the same outcomes.
    library._evaluate_magic_bases = lambda *args: [dict(counts) for counts in ours.basis_counts]
    theirs = library.round(context)
    np.testing.assert_array_equal(ours.bases, theirs.bases)
    assert len(ours.samples) == len(theirs.samples) > 10
    for a, b in zip(ours.samples, theirs.samples):
        np.testing.assert_array_equal(a.x, b.x)
        assert a.fval == pytest.approx(b.fval, abs=1e-9) and a.fval == pytest.approx(qubo.energy(a.x), abs=1e-9)
        assert a.probability == pytest.approx(b.probability, abs=1e-12) and a.status == b.status


TINY = ("solver=qrao", "solver.rounding_shots=300", "solver.reps=2", "progress=false")


def test_qrao_on_mis_1tc8_is_feasible_on_four_qubits(instances_dir):
    record = run(*TINY, "problem=mis", "problem.instance=1tc.8")
    assert record.status == "ok", record.error
    info = record.solver_info
    assert record.qubits == 4 and record.qubo_variables == 8 and info["compression_ratio"] == 2.0
    assert record.raw_feasible  # the solver's own answer, before the run's repair
    assert info["rounding"] == "magic" and info["rounding_shots"] == 300 and info["total_shots"] == 300
    assert info["optimizer"] == "Powell" and len(info["trace"]) == info["optimizer_evaluations"] <= 25
    assert info["relaxed_energy"] == pytest.approx(min(info["trace"]), abs=1e-6)
    assert 0 < info["feasible_probability"] <= 1


@pytest.mark.parametrize("rounding", ["magic", "semideterministic"])
def test_qrao_on_the_default_mdkp_is_feasible(rounding):
    record = run(*TINY, f"solver.rounding={rounding}")
    assert record.status == "ok", record.error
    assert record.qubits == 10 < record.qubo_variables == 14
    assert record.raw_feasible  # the solver's own answer, before the run's repair
    if rounding == "semideterministic":
        assert record.solver_info["distinct_samples"] == 1 and record.solver_info["total_shots"] == 0


@pytest.mark.slow
def test_qrao_on_hp1_is_refused_before_allocating_a_state_vector(instances_dir):
    record = run("solver=qrao", "problem.instance=hp1", "progress=false")
    assert record.status == "skipped" and "38 qubits" in record.error and "backend=aer_mps" in record.error
    assert "solver=qrao" not in record.error and "solver=pce (7 qubits)" in record.error
    record = run("solver=qrao", "problem.instance=hp1", "progress=false", "force=true")  # past the estimate
    assert record.status == "error" and "38 qubits" in record.error and "backend=aer_mps" in record.error
    # Never the solver already in use; PCE's 7 qubits fit.
    assert "solver=qrao" not in record.error and "solver=pce (7 qubits)" in record.error


@pytest.mark.slow
def test_qaoa_on_hp1_is_not_told_to_use_a_qrao_that_would_not_fit_either(instances_dir):
    record = run("solver=qaoa", "problem.instance=hp1", "progress=false", "force=true")  # past the estimate
    assert record.status == "error" and "60 qubits" in record.error and "\n" not in record.error
    assert "solver=pce (7 qubits)" in record.error and "backend=aer_mps" in record.error
    assert "qrao" not in record.error  # its 38 qubits need terabytes here as well
