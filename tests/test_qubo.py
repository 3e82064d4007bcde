"""The QUBO: energies, exhaustive enumeration and the Ising form agree with brute force."""

import itertools

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from qbench.errors import ResourceLimitError
from qbench.qubo import Qubo


def random_qubo(n: int, seed: int, density: float = 0.6) -> Qubo:
    rng = np.random.default_rng(seed)
    q = np.triu(rng.normal(size=(n, n)) * (rng.random((n, n)) < density), 1)
    return Qubo(rng.normal(size=n), q, float(rng.normal()))


def brute_force(qubo: Qubo) -> np.ndarray:
    n = qubo.num_variables
    out = np.empty(2**n)
    for index in range(2**n):
        x = np.array([(index >> i) & 1 for i in range(n)], dtype=float)
        out[index] = qubo.offset + qubo.linear @ x + x @ qubo.quadratic @ x
    return out


@pytest.mark.parametrize("n,seed", [(1, 0), (3, 1), (7, 2), (10, 3)])
def test_all_energies_match_brute_force(n, seed):
    qubo = random_qubo(n, seed)
    np.testing.assert_allclose(qubo.all_energies(), brute_force(qubo), atol=1e-12)


def test_batch_energies_match_single():
    qubo = random_qubo(6, 4)
    xs = np.array(list(itertools.product([0, 1], repeat=6)))
    np.testing.assert_allclose(qubo.energies(xs), [qubo.energy(x) for x in xs])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ising_diagonal_equals_energies(seed):
    qubo = random_qubo(5, seed)
    op, constant = qubo.to_ising()
    diagonal = np.real(np.diag(op.to_matrix())) + constant
    np.testing.assert_allclose(diagonal, qubo.all_energies(), atol=1e-12)
    # A basis state |k> measured by Qiskit prints bin(k): same index convention.
    k = 0b10110
    state = Statevector.from_int(k, 2**5)
    assert state.expectation_value(op).real + constant == pytest.approx(qubo.all_energies()[k])


def test_from_quadratic_program_handles_maximisation_and_diagonal():
    from qiskit_optimization import QuadraticProgram

    qp = QuadraticProgram()
    for name in "abc":
        qp.binary_var(name)
    qp.maximize(constant=2, linear={"a": 1, "c": -3}, quadratic={("a", "a"): 4, ("b", "a"): 5, ("c", "b"): -1})
    qubo = Qubo.from_quadratic_program(qp)
    for bits in itertools.product([0, 1], repeat=3):
        x = np.array(bits)
        assert qubo.energy(x) == pytest.approx(-qp.objective.evaluate(x))


def test_enumeration_refuses_above_limit():
    qubo = random_qubo(12, 0)
    with pytest.raises(ResourceLimitError, match="12 variables"):
        qubo.all_energies(max_variables=10)


def test_rejects_lower_triangular_input():
    with pytest.raises(ValueError, match="upper triangular"):
        Qubo(np.zeros(2), np.array([[0.0, 0.0], [1.0, 0.0]]))
