"""States below sv_kernel_sets.NUMPY_BELOW qubits run on NumPy: the twins of the kernels against
brute force, the backend's results on that path against Aer, and a small QAOA run that compiles
no numba kernel at all (numba's dispatchers are inspected in a fresh interpreter)."""

import json
import subprocess
import sys
from functools import reduce

import numpy as np
import pytest
from qiskit.quantum_info import SparsePauliOp, Statevector

from qbench.ansatz import hardware_efficient, qaoa_layout
from qbench.backends import sv_kernel_sets, sv_numpy
from qbench.backends.aer import AerBackend
from qbench.backends.statevector import StatevectorBackend, StatevectorParams
from qbench.backends.sv_diagonal import ising_arrays
from qbench.qubo_cost import DiagonalCost, cvar, normalisation
from tests.helpers import repo_root
from tests.test_statevector import aer_probabilities, layout_for, random_qubo

RNG = np.random.default_rng(7)


def random_state(n):
    psi = RNG.normal(size=2**n) + 1j * RNG.normal(size=2**n)
    return psi / np.linalg.norm(psi)


def random_unitary(d):
    q, _ = np.linalg.qr(RNG.normal(size=(d, d)) + 1j * RNG.normal(size=(d, d)))
    return q


def full_operator(n, gate, qubits):
    """The 2^n matrix of ``gate`` on ``qubits`` (matrix index bit k = qubit qubits[k]), by columns."""
    dim = 2**n
    out = np.zeros((dim, dim), dtype=complex)
    for z in range(dim):
        local = sum(((z >> q) & 1) << k for k, q in enumerate(qubits))
        rest = z & ~sum(1 << q for q in qubits)
        for row in range(gate.shape[0]):
            target = rest | sum(((row >> k) & 1) << q for k, q in enumerate(qubits))
            out[target, z] += gate[row, local]
    return out


@pytest.mark.parametrize("q0, q1", [(0, 1), (1, 0), (0, 4), (4, 2), (3, 1)])
def test_gates_match_their_matrices(q0, q1):
    n = 5
    psi = random_state(n)
    u2 = random_unitary(4)
    got = psi.copy()
    sv_numpy.apply_2q(got, q0, q1, u2)
    np.testing.assert_allclose(got, full_operator(n, u2, [q0, q1]) @ psi, atol=1e-12)
    d = np.exp(1j * RNG.uniform(0, 2 * np.pi, 4))
    got = psi.copy()
    sv_numpy.apply_diagonal_2q(got, q0, q1, d)
    np.testing.assert_allclose(got, full_operator(n, np.diag(d), [q0, q1]) @ psi, atol=1e-12)
    u1 = random_unitary(2)
    got = psi.copy()
    sv_numpy.apply_1q(got, q1, u1)
    np.testing.assert_allclose(got, full_operator(n, u1, [q1]) @ psi, atol=1e-12)


def test_pauli_expectation_matches_qiskit():
    n = 5
    psi = random_state(n)
    for label in ("IXZYI", "ZZIIZ", "XIIIX", "YYYYY", "IIIII"):
        bits = np.array(list(reversed(label)))
        xmask = sum(1 << q for q in range(n) if bits[q] in "XY")
        zmask = sum(1 << q for q in range(n) if bits[q] in "ZY")
        value = sv_numpy.pauli_expectation(psi, np.int64(xmask), np.int64(zmask)) * 1j ** int((bits == "Y").sum())
        assert value == pytest.approx(Statevector(psi).expectation_value(SparsePauliOp(label)), abs=1e-12)


@pytest.mark.parametrize("integer", [True, False])
def test_ising_diagonal_levels_and_tables(integer):
    n = 6
    qubo = random_qubo(n, 3, integer)
    op, constant = qubo.to_ising()
    from qbench.ansatz import ising_terms

    terms = ising_terms(op)
    h, J = ising_arrays(terms, n, np.array([t.coeff for t in terms]))
    out = np.empty(2**n, dtype=np.int32 if integer else np.float64)
    if integer:
        h, J = h * 4, J * 4  # the Ising coefficients of an integer QUBO are quarters
    sv_numpy.ising_diagonal(h, J, 3, out)
    expected = (qubo.all_energies() - constant) * (4 if integer else 1)
    np.testing.assert_allclose(out, np.rint(expected) if integer else expected, atol=1e-9)
    if not integer:
        return
    levels, position = sv_numpy.distinct_levels(out, int(out.min()), int(out.max()))
    index = np.empty(out.shape[0], dtype=np.uint16)
    sv_numpy.remap(out, int(out.min()), position, index)
    np.testing.assert_array_equal(levels, np.unique(out))
    np.testing.assert_array_equal(levels[index], out)
    table = np.empty((len(levels), 2))
    sv_numpy.phase_table(levels, 0.37, table)
    np.testing.assert_allclose(table[:, 0] + 1j * table[:, 1], np.exp(-0.37j * levels), atol=1e-12)


def test_compact_sorted_and_cvar():
    values = np.sort(np.concatenate([RNG.normal(size=50), [1.5, 1.5, -2.0, -2.0, 0.0, -0.0]]))
    rank = np.empty(values.shape[0], dtype=np.uint32)
    ordered = values.copy()
    count = sv_numpy.compact_sorted(ordered, rank)
    np.testing.assert_array_equal(ordered[:count], np.unique(values))
    np.testing.assert_array_equal(ordered[:count][rank], values)
    masses = RNG.random(count)
    for alpha in (0.01, 0.3, 1.0):
        assert sv_numpy.cvar_ascending(ordered[:count], 0.5, 2.0, masses, alpha) == pytest.approx(
            cvar(0.5 * ordered[:count] + 2.0, masses, alpha), abs=1e-12)


def test_reductions_read_a_padded_chunk_layout():
    """Chunks of 2^L values ``pitch`` apart (the QAOA state's layout): the padding is never read."""
    n, L, pitch = 6, 3, 11
    psi = random_state(n)
    re = np.full((2**n >> L) * pitch, np.nan)
    im = re.copy()
    for c in range(2**n >> L):
        re[c * pitch:c * pitch + 2**L] = psi.real[c << L:(c + 1) << L]
        im[c * pitch:c * pitch + 2**L] = psi.imag[c << L:(c + 1) << L]
    p = np.abs(psi) ** 2
    out = np.empty(2**n)
    sv_numpy.probabilities_into(re, im, out, L, pitch)
    np.testing.assert_allclose(out, p, atol=1e-15)
    index = RNG.integers(0, 5, 2**n).astype(np.uint16)
    values = RNG.normal(size=5)
    assert sv_numpy.expect_table(re, im, index, values, L, pitch) == pytest.approx(p @ values[index], abs=1e-12)
    dense = RNG.normal(size=2**n)
    assert sv_numpy.expect_dense(re, im, dense, L, pitch) == pytest.approx(p @ dense, abs=1e-12)
    masses = np.empty(5)
    sv_numpy.level_probabilities(re, im, index, masses, L, pitch)
    np.testing.assert_allclose(masses, np.bincount(index, weights=p, minlength=5), atol=1e-15)


@pytest.mark.parametrize("alpha", [1.0, 0.3])
@pytest.mark.parametrize("variant", ["standard", "float", "multi_angle", "warm_start"])
def test_small_qaoa_on_numpy_matches_aer(variant, alpha):
    """A 7-qubit QAOA runs on NumPy (no numba kernel), with Aer's energy (or CVaR of Aer's
    probabilities) and every probability."""
    assert 7 < sv_kernel_sets.NUMPY_BELOW
    qubo = random_qubo(7, 1, integer=variant != "float")
    cost = DiagonalCost(qubo, alpha=alpha, scale=normalisation(qubo))
    layout = layout_for(cost, "standard" if variant == "float" else variant)
    x = np.random.default_rng(2).uniform(0, np.pi, layout.num_parameters)
    engine = StatevectorBackend(StatevectorParams(device="cpu"))
    prepared = engine.prepare(layout.circuit, structure=layout)
    assert prepared.extra["engine"] is engine.engines.small
    probabilities = aer_probabilities(layout.circuit, x)
    expected = cvar(qubo.all_energies(), probabilities, alpha)
    assert engine.cost(prepared, cost, x)[0] == pytest.approx(expected, abs=1e-9)
    assert np.max(np.abs(np.abs(engine.state(prepared, x)) ** 2 - probabilities)) < 1e-12


def test_small_gate_circuit_on_numpy_matches_aer():
    """VQE's ansatz on 6 qubits: energy and Pauli observables as Aer's EstimatorV2."""
    qubo = random_qubo(6, 5)
    cost = DiagonalCost(qubo)
    circuit = hardware_efficient(6, reps=2)
    points = np.random.default_rng(4).uniform(0, 2 * np.pi, (3, circuit.num_parameters))
    observables = [cost.hamiltonian, SparsePauliOp(["XYIZZI", "IIXXII"], [0.7, -0.2])]
    engine = StatevectorBackend()
    prepared = engine.prepare(circuit)
    assert prepared.extra["engine"] is engine.engines.cpu  # a gate circuit: the NumPy twins of the gate kernels
    aer = AerBackend()
    expected = aer.estimate(aer.prepare(circuit), observables, points)
    np.testing.assert_allclose(engine.estimate(prepared, observables, points), expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(engine.cost(prepared, cost, points), expected[:, 0] + cost.constant, rtol=0, atol=1e-9)


NO_COMPILATION = """
import json, numba
from qbench import compilation
from tests.helpers import run
record = run("problem=mis", "problem.generator.n=6", "solver=qaoa", "solver.maxiter=15", "progress=false")
from qbench.backends import sv_kernels
dispatchers = [v for v in vars(sv_kernels).values() if isinstance(v, numba.core.dispatcher.Dispatcher)]
dispatchers += list(vars(sv_kernels.SERIAL).values())
used = sorted(d.py_func.__name__ for d in dispatchers if d.signatures)
print(json.dumps({"status": record.status, "qubits": record.qubits, "kernels": len(dispatchers),
                  "used": used, "announced": compilation.announced(), "compiling": compilation.seconds()}))
"""


@pytest.mark.slow
def test_a_small_qaoa_run_loads_and_compiles_no_numba_kernel(tmp_path):
    """Whatever the numba cache holds: in a fresh interpreter, a 6-qubit QAOA run leaves every
    kernel dispatcher without a signature (neither compiled nor loaded from the cache)."""
    done = subprocess.run([sys.executable, "-c", NO_COMPILATION], capture_output=True, text=True,
                          cwd=repo_root(), env={**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path)},
                          timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["status"] == "ok" and found["qubits"] == 6
    assert found["kernels"] > 20 and found["used"] == []
    assert not found["announced"] and found["compiling"] == 0.0
    assert "compiling the state-vector kernels" not in done.stderr
