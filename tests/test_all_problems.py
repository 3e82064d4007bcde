"""Every problem class, through the same front door: the main job works on its default
(generated) instance, and the penalty QUBO's ground state agrees with SCIP there."""

import time

import pytest

from qbench import registry
from tests.helpers import run

KINDS = registry.choices("problem")


def test_all_six_problem_classes_are_registered():
    assert set(KINDS) == {"bitalloc", "mdkp", "mis", "msp", "qap", "tsp"}


@pytest.mark.parametrize("kind", KINDS)
def test_scip_on_the_default_instance_is_proven_and_recorded_quickly(kind):
    start = time.perf_counter()
    record = run(f"problem={kind}", "solver=scip")
    elapsed = time.perf_counter() - start
    assert record.status == "ok", record.error
    assert record.solver_status == "optimal"
    assert record.backend is None  # SCIP never touches a quantum backend
    assert record.reference is not None and record.reference_proven
    assert record.objective == pytest.approx(record.reference)
    assert record.instance_hash and record.variables and record.qubo_variables
    assert elapsed < 30, f"{kind}: {elapsed:.1f} s"


@pytest.mark.parametrize("kind", KINDS)
def test_qubo_ground_state_of_the_default_instance_matches_scip(kind):
    scip = run(f"problem={kind}", "solver=scip")
    exact = run(f"problem={kind}", "solver=exact")
    assert exact.status == "ok", exact.error
    assert exact.qubo_variables <= 20
    # Every default penalty QUBO's minimum is feasible, hence natively optimal, and says so (the
    # default market split has no exact split: its optimum, infeasible, is the least r^2).
    assert exact.solver_status == "optimal"
    assert exact.objective == pytest.approx(scip.objective) and exact.feasible == scip.feasible
