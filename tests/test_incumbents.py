"""Incumbent histories: monotone, feasible, ending at the run's answer; SCIP's and the Lagrangian
dual's own histories; one point for solvers without one."""

from __future__ import annotations

import numpy as np
import pytest

from qbench import registry
from qbench.incumbents import history, improving
from tests.helpers import run


def test_improving_keeps_strict_improvements_in_time_order():
    points = [(3.0, 5.0), (1.0, 9.0), (2.0, 7.0), (4.0, 5.0), (5.0, 6.0), (6.0, 4.0)]
    assert improving(points, "min") == [(1.0, 9.0), (2.0, 7.0), (3.0, 5.0), (6.0, 4.0)]
    assert improving(points, "max") == [(1.0, 9.0)]
    assert improving([], "max") == []


def _mdkp():
    return registry.build_problem({"name": "mdkp", "instance": None,
                                   "generator": {"n_items": 4, "n_constraints": 1, "seed": 0}})


def test_history_evaluates_natively_drops_infeasible_and_ends_at_the_answer():
    problem = _mdkp()
    everything = np.ones(problem.size()["variables"], dtype=np.int8)
    assert not problem.evaluate(everything).feasible
    empty = np.zeros_like(everything)
    feasible = [x for x in np.eye(len(everything), dtype=np.int8) if problem.evaluate(x).feasible]
    best = max(feasible, key=lambda x: problem.evaluate(x).objective)
    final = (9.0, problem.evaluate(best).objective)
    run_history = history(problem, [(1.0, empty), (2.0, everything), (3.0, best)], final)
    # The empty knapsack (0) at 1 s, the infeasible vector dropped, the answer first held at 3 s;
    # the final answer (same value, later) adds no point.
    assert run_history.points == [(1.0, 0.0), (3.0, final[1])]
    assert run_history.time_to_best == 3.0
    assert history(problem, [], final).points == [final] and history(problem, [], None).time_to_best is None


def test_a_history_better_than_the_answer_is_a_solver_bug():
    problem = _mdkp()
    item = next(x for x in np.eye(problem.size()["variables"], dtype=np.int8) if problem.evaluate(x).objective > 0)
    with pytest.raises(RuntimeError, match="returned answer 0"):
        history(problem, [(1.0, item)], (2.0, 0.0))
    with pytest.raises(RuntimeError, match="no feasible answer"):
        history(problem, [(1.0, item)], None)


def _assert_consistent(record):
    points = record.incumbents
    assert points, record.error
    times = [t for t, _ in points]
    values = [v for _, v in points]
    assert times == sorted(times) and 0 < times[0] and times[-1] <= record.times["total"]
    better = (lambda a, b: a > b) if record.sense == "max" else (lambda a, b: a < b)
    assert all(better(b, a) for a, b in zip(values, values[1:]))
    assert values[-1] == record.objective and record.time_to_best == times[-1]


def test_scip_records_each_new_best_solution(instances_dir):
    record = run("problem=mdkp", "problem.instance=pet5", "solver=scip")
    _assert_consistent(record)
    assert len(record.incumbents) >= 2  # pet5: SCIP improves its incumbent before proving 12400
    assert record.objective == 12400
    # Market split: only an exact split is feasible, so the history holds SCIP's split alone.
    split = run("problem=msp", "problem.instance=ms_03_050_002", "solver=scip")
    _assert_consistent(split)
    assert [v for _, v in split.incumbents] == [0.0]


def test_lagrangian_records_its_best_primal_and_sa_its_answer():
    record = run("problem=mdkp", "solver=lagrangian", "solver.max_iter=5", "progress=false")
    _assert_consistent(record)
    assert record.incumbents[0][0] >= record.times["build"]  # times count from the start of the run
    sa = run("problem=mis", "solver=sa")
    _assert_consistent(sa)
    assert len(sa.incumbents) == 1 and sa.time_to_best <= sa.times["total"]
    failed = run("problem=mdkp", "problem.instance=no-such-instance", "solver=scip")
    assert failed.status == "error" and failed.incumbents == [] and failed.time_to_best is None
