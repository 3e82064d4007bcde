"""SCIP's numbers in the problem's integrality: an integral objective's primal value, dual bound
and proven reference are integers, the bound rounded towards the side it bounds."""

import dataclasses

import pytest

from qbench import problem as problems
from qbench.mip import solve_mip
from qbench.problem import Reference
from qbench.registry import build_problem
from qbench.runner import with_proven_reference
from qbench.settings import ReferenceSettings


def pet3():
    return build_problem({"name": "mdkp", "instance": "pet3", "index": None})


def test_pet3_primal_and_dual_bound_are_the_integer_optimum(instances_dir):
    # SCIP reports 4014.9999999999995 for both: a bound below the optimum 4015 it proves.
    result = solve_mip(pet3(), time_limit=60)
    assert result.status == "optimal"
    assert result.primal == 4015 and result.dual == 4015


def test_a_reference_proven_by_scip_is_stored_in_integers(instances_dir):
    problem = dataclasses.replace(pet3(), reference=Reference.unknown())
    reference = with_proven_reference(problem, ReferenceSettings(solve=True, time_limit=60)).reference
    assert reference.value == 4015 and reference.proven


@pytest.mark.parametrize("value,sense,expected", [
    (19.6, "max", 19),            # an upper bound on an integer is its floor
    (19.99999999, "max", 20),     # SCIP's noise around 20, not a tighter bound
    (3.2, "min", 4),              # a lower bound on an integer is its ceiling
    (3.0000000001, "min", 3),
    (-2.5, "min", -2),
    (-2.5, "max", -3),
])
def test_integral_bounds_round_towards_the_side_they_bound(value, sense, expected):
    assert problems.integral_bound(value, sense) == expected


@pytest.mark.parametrize("spec,integral", [
    ({"name": "mdkp", "instance": "pet3", "index": None}, True),
    ({"name": "mdkp", "instance": "mknap1-2", "index": None}, False),  # profits such as 8706.1
    ({"name": "mdkp"}, True),  # generated profits are rounded to integers
    ({"name": "mis"}, True),
    ({"name": "msp"}, True),
    ({"name": "qap"}, True),
    ({"name": "tsp"}, True),
    ({"name": "bitalloc"}, False),
])
def test_objective_integrality_follows_the_data(instances_dir, spec, integral):
    assert build_problem(spec).objective_is_integral() is integral


def test_non_integral_objectives_keep_scips_values(instances_dir):
    problem = build_problem({"name": "mdkp", "instance": "mknap1-2", "index": None})
    result = solve_mip(problem, time_limit=60)
    assert result.status == "optimal" and result.primal == pytest.approx(8706.1)
