"""Penalty QUBO: slack sizes, decoding, and per-group penalties."""

import itertools

import numpy as np
import pytest
from qiskit_optimization import QuadraticProgram

from qbench.errors import ConfigError
from qbench.formulations.penalty import PenaltyParams, PenaltyQubo
from qbench.problem import Evaluation, Problem, Reference
from qbench.registry import build_problem
from qbench.problems.mdkp import Generator, Mdkp, generate


def test_hp1_has_the_papers_60_qubo_variables(instances_dir):
    problem = build_problem({"name": "mdkp", "instance": "hp1", "index": None})
    encoding = PenaltyQubo().encode(problem)
    assert encoding.qubits == 60  # 28 items + 32 slack bits, as in the comparative study
    assert encoding.slack_variables == 32


def test_decode_drops_slack_and_ground_state_is_optimal():
    problem = generate(Generator(n_items=5, n_constraints=1, max_weight=6, seed=3))
    encoding = PenaltyQubo().encode(problem)
    energies = encoding.qubo.all_energies()
    bits = np.array([(int(np.argmin(energies)) >> i) & 1 for i in range(encoding.qubits)])
    x = encoding.decode(bits)
    assert x.shape == (5,)
    best = max(
        (problem.evaluate(np.array(c)).objective for c in itertools.product([0, 1], repeat=5)
         if problem.evaluate(np.array(c)).feasible)
    )
    assert problem.evaluate(x).feasible and problem.evaluate(x).objective == best


def test_qubo_energy_of_feasible_points_is_minus_profit():
    """With the slack set right, the penalty vanishes and the energy is the negated objective."""
    problem = Mdkp("t", np.array([3.0, 4.0]), np.array([[2.0, 3.0]]), np.array([4.0]))
    encoding = PenaltyQubo().encode(problem)
    assert encoding.qubits == 2 + 3  # capacity 4 needs slack 0..4: 3 bits
    for x in ([0, 0], [1, 0], [0, 1]):
        slack = 4 - 2 * x[0] - 3 * x[1]
        names = encoding.qubo.names
        bits = np.zeros(encoding.qubits)
        bits[:2] = x
        # IntegerToBinary's coefficients for 0..4 are 1, 2, 1 (the last capped at the bound).
        for combo in itertools.product([0, 1], repeat=3):
            if combo[0] + 2 * combo[1] + combo[2] == slack:
                bits[2:] = combo
                break
        assert encoding.qubo.energy(bits) == pytest.approx(-(3 * x[0] + 4 * x[1])), names


class _TwoGroups(Problem):
    """min x0 + x1 + x2 s.t. a[0]: x0 + x1 = 1, b[0]: x1 + x2 = 1 (two constraint groups)."""

    kind, sense, name, reference = "toy", "min", "toy", Reference.unknown()

    def to_quadratic_program(self):
        qp = QuadraticProgram()
        for i in range(3):
            qp.binary_var(f"x[{i}]")
        qp.minimize(linear=[1, 1, 1])
        qp.linear_constraint([1, 1, 0], "==", 1, "a[0]")
        qp.linear_constraint([0, 1, 1], "==", 1, "b[0]")
        return qp

    def evaluate(self, x):
        return Evaluation(float(np.sum(x)), True, 0.0)

    def build_mip(self, model):
        raise NotImplementedError

    def payload(self):
        return {}


def test_group_penalties_scale_each_group():
    problem = _TwoGroups()
    base = PenaltyQubo(PenaltyParams(penalty=10.0)).encode(problem).qubo
    scaled = PenaltyQubo(PenaltyParams(penalty=10.0, group_penalties={"b": 3.0})).encode(problem).qubo
    for bits in itertools.product([0, 1], repeat=3):
        x = np.array(bits)
        objective = x.sum()
        viol_a = (x[0] + x[1] - 1) ** 2
        viol_b = (x[1] + x[2] - 1) ** 2
        assert base.energy(x) == pytest.approx(objective + 10 * (viol_a + viol_b))
        assert scaled.energy(x) == pytest.approx(objective + 10 * viol_a + 30 * viol_b)


def test_unknown_group_is_named():
    with pytest.raises(ConfigError, match="unknown constraint group.*nope.*has: a, b"):
        PenaltyQubo(PenaltyParams(group_penalties={"nope": 2.0})).encode(_TwoGroups())


@pytest.mark.parametrize("bad", [0, -1.0, "big"])
def test_penalty_value_validated(bad):
    with pytest.raises(ConfigError, match="penalty"):
        PenaltyParams(penalty=bad)
