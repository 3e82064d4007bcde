"""QUBO -> weighted Max-Cut on n + 1 nodes: energy = offset - cut for every assignment."""

import itertools

import numpy as np
import pytest

from qbench.localsearch import local_search
from qbench.maxcut import bits_to_cut, cut_to_bits, qubo_to_maxcut
from qbench.qubo import Qubo


def random_qubo(n, seed):
    rng = np.random.default_rng(seed)
    quadratic = np.triu(rng.integers(-6, 7, (n, n)), 1).astype(float)
    quadratic[rng.random((n, n)) < 0.3] = 0.0  # some missing edges
    return Qubo(rng.integers(-5, 6, n).astype(float), quadratic, float(rng.integers(-3, 4)))


@pytest.mark.parametrize("n, seed", [(1, 0), (2, 1), (4, 2), (6, 3), (7, 4)])
def test_every_cut_is_an_assignment_with_energy_offset_minus_cut(n, seed):
    qubo = random_qubo(n, seed)
    maxcut = qubo_to_maxcut(qubo)
    assert maxcut.num_nodes == n + 1 and maxcut.anchor == n
    assert np.array_equal(maxcut.weights, maxcut.weights.T) and not np.any(np.diag(maxcut.weights))
    sides = np.array(list(itertools.product([0, 1], repeat=n + 1)), dtype=np.int8)
    energies = qubo.energies(cut_to_bits(sides))
    np.testing.assert_allclose(energies, maxcut.offset - maxcut.cut_values(sides), atol=1e-9)
    # Both sides of a cut are the same assignment; a cut by hand agrees with the vectorised one.
    np.testing.assert_array_equal(cut_to_bits(sides), cut_to_bits(1 - sides))
    side = sides[len(sides) // 3]
    by_hand = sum(maxcut.weights[i, j] for i in range(n + 1) for j in range(i + 1, n + 1) if side[i] != side[j])
    assert maxcut.cut_value(side) == pytest.approx(by_hand)


def test_bits_to_cut_inverts_cut_to_bits_and_maximum_cut_is_the_ground_state():
    qubo = random_qubo(6, 9)
    maxcut = qubo_to_maxcut(qubo)
    bits = np.array(list(itertools.product([0, 1], repeat=6)), dtype=np.int8)
    np.testing.assert_array_equal(cut_to_bits(bits_to_cut(bits)), bits)
    cuts = maxcut.cut_values(bits_to_cut(bits))
    assert np.argmax(cuts) == np.argmin(qubo.energies(bits))
    graph = maxcut.graph()
    assert graph.number_of_nodes() == 7
    assert graph.size(weight="weight") == pytest.approx(np.triu(maxcut.weights, 1).sum())


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_local_search_ends_where_no_flip_of_up_to_depth_bits_improves(depth):
    n = 7
    qubo = random_qubo(n, 20 + depth)
    rng = np.random.default_rng(depth)
    for _ in range(5):
        start = rng.integers(0, 2, n).astype(np.int8)
        result = local_search(qubo, start, depth)
        assert result.energy == pytest.approx(qubo.energy(result.bits)) and result.energy <= qubo.energy(start)
        for size in range(1, depth + 1):
            for flip in itertools.combinations(range(n), size):
                neighbour = result.bits.copy()
                neighbour[list(flip)] ^= 1
                assert qubo.energy(neighbour) >= result.energy - 1e-9


def test_local_search_depth_zero_keeps_the_bits():
    qubo = random_qubo(5, 1)
    start = np.array([1, 0, 1, 1, 0], dtype=np.int8)
    result = local_search(qubo, start, 0)
    assert result.moves == 0 and np.array_equal(result.bits, start)
