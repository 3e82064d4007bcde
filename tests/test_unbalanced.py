"""Unbalanced penalization: no slack qubits, every energy equals the published penalty formula,
equalities keep the squared penalty, and the CLI runs it.

The ground state is NOT asserted to be feasible: with the published coefficients it is feasible
on 22 of 38 small MDKP instances surveyed and optimal on 5 (see benchmarks/study_slack_free.py),
so feasibility is a measured property of the heuristic, not a guarantee."""

import itertools

import numpy as np
import pytest
from qiskit_optimization import QuadraticProgram

from qbench.errors import ConfigError
from qbench.formulations.unbalanced import UnbalancedParams, UnbalancedPenalty
from qbench.params import build_params
from qbench.problem import Evaluation, Problem
from qbench.problems.mdkp import Generator, generate
from tests.helpers import run


def all_bits(n):
    return np.array(list(itertools.product([0, 1], repeat=n)))


@pytest.mark.parametrize("seed,m", [(0, 2), (3, 1), (4, 3)])
def test_energy_is_objective_plus_unbalanced_terms_without_slack(seed, m):
    problem = generate(Generator(n_items=6, n_constraints=m, seed=seed))
    params = UnbalancedParams(lambda1=0.7, lambda2=0.05)
    encoding = UnbalancedPenalty(params).encode(problem)
    assert encoding.qubits == problem.n_items and encoding.slack_variables == 0
    xs = all_bits(6)
    h = problem.capacities[None, :] - xs @ problem.weights.T  # h = c - W x, per constraint
    expected = -xs @ problem.profits + (-0.7 * h + 0.05 * h**2).sum(axis=1)
    assert np.allclose(encoding.qubo.energies(xs), expected, atol=1e-9)
    assert all(np.array_equal(encoding.decode(x), x) for x in xs)


def test_published_defaults():
    assert (UnbalancedParams().lambda1, UnbalancedParams().lambda2) == (0.96, 0.0371)


class _Toy(Problem):
    """min x0 + 2 x1 + 3 x2  s.t.  x0 + x1 + x2 = 1 (equality),  x0 + x2 >= 1 (inequality)."""

    kind, sense, name = "toy", "min", "toy"
    reference = None

    def to_quadratic_program(self):
        qp = QuadraticProgram("toy")
        for v in ("a", "b", "c"):
            qp.binary_var(v)
        qp.minimize(linear={"a": 1, "b": 2, "c": 3})
        qp.linear_constraint({"a": 1, "b": 1, "c": 1}, "==", 1, "one[0]")
        qp.linear_constraint({"a": 1, "c": 1}, ">=", 1, "cover[0]")
        return qp

    def evaluate(self, x):
        return Evaluation(float(np.dot([1, 2, 3], x)), True, 0.0)

    build_mip = payload = None


def test_equalities_keep_the_squared_penalty_and_ge_rows_flip():
    encoding = UnbalancedPenalty(UnbalancedParams(equality_penalty=10.0)).encode(_Toy())
    xs = all_bits(3)
    h = xs[:, 0] + xs[:, 2] - 1  # >= row: h = a.x - b >= 0
    expected = xs @ [1, 2, 3] + 10.0 * (xs.sum(axis=1) - 1) ** 2 - 0.96 * h + 0.0371 * h**2
    assert np.allclose(encoding.qubo.energies(xs), expected)
    assert encoding.info["equality_penalty"] == 10.0


@pytest.mark.parametrize("field,value,message", [
    ("lambda2", 0, "lambda2: must be positive"),
    ("lambda1", -1, "lambda1: must be >= 0"),
    ("equality_penalty", "big", "equality_penalty: expected 'auto' or a number"),
])
def test_bad_coefficients_name_the_field(field, value, message):
    with pytest.raises(ConfigError, match=message):
        build_params(UnbalancedParams, {field: value}, "formulation")


def test_cli_run_uses_item_qubits():
    record = run("problem=mdkp", "formulation=unbalanced", "solver=exact", "progress=false")
    assert record.status == "ok", record.error
    assert record.qubo_variables == 6 == record.variables
    assert record.solver_info["ground_energy"] == pytest.approx(
        UnbalancedPenalty().encode(generate(Generator())).qubo.all_energies().min()
    )
