"""Exhaustive QUBO search: status ``optimal`` only where the QUBO's minimum is provably the
problem's native optimum, ``qubo_optimal`` otherwise; the proof is checked against brute force."""

import pytest

from qbench.formulations.penalty import PenaltyParams, PenaltyQubo
from qbench.formulations.unbalanced import UnbalancedPenalty
from qbench.registry import build_problem
from qbench.solver import SolveContext
from qbench.solvers.exact import ExactSolver
from tests.helpers import brute_force_optimum, run


@pytest.mark.parametrize("overrides", [
    ("problem=mdkp",),
    ("problem=mis",),
    ("problem=qap",),
    ("problem=tsp",),
    ("problem=msp", "problem.generator.cap=9"),
    ("problem=msp", "problem.generator.seed=29"),
])
def test_a_proven_ground_state_is_optimal_and_matches_the_reference(overrides):
    record = run(*overrides, "solver=exact")
    assert record.status == "ok", record.error
    assert record.solver_status == "optimal"
    assert record.reference_proven and record.objective == pytest.approx(record.reference, abs=1e-9)


def test_unbalanced_ground_state_is_never_claimed_optimal():
    # Its terms are not zero on feasible points: the minimum need not be the optimum.
    problem = build_problem({"name": "mdkp"})
    result = ExactSolver().solve(SolveContext(problem, UnbalancedPenalty()))
    assert result.status == "qubo_optimal"
    assert "not a relaxation" in result.info["optimality_note"]


def test_too_small_a_penalty_gives_an_infeasible_qubo_optimum_not_an_optimal_answer():
    problem = build_problem({"name": "mdkp"})
    result = ExactSolver().solve(SolveContext(problem, PenaltyQubo(PenaltyParams(penalty=0.01))))
    assert not problem.evaluate(result.x).feasible
    assert result.status == "qubo_optimal"
    assert "violates" in result.info["optimality_note"]


@pytest.mark.parametrize("spec", [
    {"name": "mdkp", "generator": {"n_items": 7, "n_constraints": 2, "seed": 3}},
    {"name": "mis", "generator": {"n": 9, "seed": 4}},
    {"name": "bitalloc"},
    {"name": "msp", "generator": {"seed": 1}},
])
def test_optimal_status_agrees_with_brute_force_on_generated_instances(spec):
    problem = build_problem(spec)
    result = ExactSolver().solve(SolveContext(problem, PenaltyQubo()))
    assert result.status == "optimal", result.info
    assert problem.evaluate(result.x).objective == pytest.approx(brute_force_optimum(problem), abs=1e-9)
