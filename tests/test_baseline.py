"""Uniform random sampling as every sampling method's baseline: exact counts against brute force,
the Monte-Carlo estimate against the exact value, lifts, coverage, the expectation's quality, the
random solver, and methods that decode one answer recording no probabilities."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from qbench.problems.mis import Mis
from qbench import baseline, report, store
from qbench.formulations.penalty import PenaltyQubo
from qbench.problem import Reference
from qbench.records import RunRecord
from qbench.registry import build_problem
from qbench.runner import with_proven_reference
from qbench.settings import ReferenceSettings
from qbench.sampling import is_optimal, select_answer
from qbench.solver import FinalSampling
from qbench.summary import format_summary
from tests.helpers import repo_root, run


def path3() -> Mis:
    """The path 0 - 1 - 2: independent sets {}, {0}, {1}, {2}, {0, 2}; the optimum {0, 2}."""
    return Mis("path3", 3, ((0, 1), (1, 2)), reference=Reference(2.0, "by hand", proven=True))


def brute_force(problem, encoding) -> tuple[float, float]:
    """p_feasible, p_optimal of a uniform bitstring: every bitstring decoded and evaluated alone."""
    n = encoding.qubits
    feasible = optimal = 0
    for bits in itertools.product((0, 1), repeat=n):
        evaluation = problem.evaluate(encoding.decode(np.array(bits)))
        feasible += evaluation.feasible
        optimal += evaluation.feasible and is_optimal(evaluation.objective, problem.reference.value)
    return feasible / 2**n, optimal / 2**n


def answer_of(problem, bits, probabilities):
    encoding = PenaltyQubo().encode(problem)
    return encoding, select_answer(encoding, problem, np.asarray(bits), np.asarray(probabilities, dtype=float))


def test_exact_uniform_probabilities_of_the_path_are_the_hand_count():
    p = path3()
    uniform = baseline.uniform_probabilities(p, PenaltyQubo().encode(p), seed=0)
    assert uniform.method == "exact" and uniform.samples == 8 and uniform.stderr == 0
    assert uniform.p_feasible == 5 / 8 and uniform.p_optimal == 1 / 8


def test_exact_count_through_slack_bits_equals_brute_force():
    # The generated knapsack: 6 items and 8 slack bits, so 2^14 bitstrings share 2^6 assignments.
    problem = with_proven_reference(build_problem({"name": "mdkp"}), ReferenceSettings())
    encoding = PenaltyQubo().encode(problem)
    assert encoding.qubits == 14 and encoding.slack_variables == 8 and problem.reference.proven
    uniform = baseline.uniform_probabilities(problem, encoding, seed=0)
    p_feasible, p_optimal = brute_force(problem, encoding)
    assert uniform.method == "exact" and 0 < uniform.p_optimal < uniform.p_feasible < 1
    assert uniform.p_feasible == pytest.approx(p_feasible, abs=1e-15)
    assert uniform.p_optimal == pytest.approx(p_optimal, abs=1e-15)


def test_monte_carlo_estimate_is_within_its_error_of_the_exact_value(monkeypatch, instances_dir):
    cases = [with_proven_reference(build_problem({"name": "mdkp"}), ReferenceSettings()),
             build_problem({"name": "mis", "instance": "1tc.16"})]
    for problem in cases:
        encoding = PenaltyQubo().encode(problem)
        exact = baseline.uniform_probabilities(problem, encoding, seed=0)
        assert exact.method == "exact"
        with monkeypatch.context() as patch:
            patch.setattr(baseline, "EXACT_MAX_VARIABLES", 0)
            estimate = baseline.uniform_probabilities(problem, encoding, seed=3)
            again = baseline.uniform_probabilities(problem, encoding, seed=3)
        draws = baseline.MONTE_CARLO_SAMPLES
        assert estimate.method == "monte_carlo" and estimate.samples == draws and estimate == again
        feasible_error = np.sqrt(exact.p_feasible * (1 - exact.p_feasible) / draws)
        assert abs(estimate.p_feasible - exact.p_feasible) <= 4 * feasible_error
        assert estimate.stderr == pytest.approx(np.sqrt(estimate.p_optimal * (1 - estimate.p_optimal) / draws))
        optimal_error = np.sqrt(exact.p_optimal * (1 - exact.p_optimal) / draws)
        assert abs(estimate.p_optimal - exact.p_optimal) <= max(4 * optimal_error, 2 / draws)


def test_hp1_uses_monte_carlo_quickly_and_an_unseen_optimum_gives_no_lift(instances_dir):
    record = run("problem.instance=hp1", "solver=random", "solver.shots=1000")
    assert record.status == "ok", record.error
    assert record.qubo_variables == 60 and record.uniform_method == "monte_carlo"
    assert record.p_optimal_uniform == 0 and record.uniform_stderr == 0 and record.optimal_lift is None
    assert 0 < record.p_feasible_uniform < 1 and record.energy_approximation_ratio is None
    assert record.covers_space is False and record.final_coverage == 1000 / 2**60
    assert record.times["baseline"] < 2.0


def test_too_many_distinct_assignments_go_to_monte_carlo_without_enumerating(monkeypatch):
    # 20 vertices: 2^20 bitstrings, each its own assignment, over the 2^16 evaluations allowed.
    problem = build_problem({"name": "mis", "generator": {"n": 20}})
    encoding = PenaltyQubo().encode(problem)
    decoded_rows = []
    original = type(encoding).decode_many
    monkeypatch.setattr(type(encoding), "decode_many",
                        lambda self, bits: decoded_rows.append(len(bits)) or original(self, bits))
    uniform = baseline.uniform_probabilities(problem, encoding, seed=0)
    assert uniform.method == "monte_carlo" and decoded_rows == [baseline.MONTE_CARLO_SAMPLES]
    assert uniform.p_optimal is None and uniform.stderr is None  # generated: no reference here


def test_lift_is_the_ratio_and_undefined_without_a_uniform_probability():
    assert baseline.lift(0.016, 0.004) == pytest.approx(4.0)
    assert baseline.lift(0.0, 0.5) == 0.0
    assert baseline.lift(0.3, 0.0) is None
    assert baseline.lift(None, 0.5) is None and baseline.lift(0.5, None) is None


def test_compare_gives_lifts_coverage_and_energy_ratio_of_the_distribution():
    p = path3()
    # Half the mass on the optimum 101, half on the infeasible 111 (bit i = vertex i).
    encoding, answer = answer_of(p, [[1, 0, 1], [1, 1, 1]], [0.5, 0.5])
    assert answer.feasible_probability == 0.5 and answer.optimal_probability == 0.5
    energies = encoding.qubo.all_energies()
    comparison = baseline.compare(p, FinalSampling(encoding, 2, answer), seed=0)
    assert comparison.uniform_method == "exact" and comparison.uniform_stderr == 0
    assert comparison.optimal_lift == pytest.approx(0.5 / (1 / 8))
    assert comparison.feasible_lift == pytest.approx(0.5 / (5 / 8))
    expectation = (encoding.qubo.energy(np.array([1, 0, 1])) + encoding.qubo.energy(np.array([1, 1, 1]))) / 2
    assert answer.energy_expectation == pytest.approx(expectation)
    expected_ratio = (expectation - energies.max()) / (energies.min() - energies.max())
    assert comparison.energy_approximation_ratio == pytest.approx(expected_ratio)
    assert 0 < comparison.energy_approximation_ratio < 1
    # 2 shots of 8 states: a quarter of the space, the threshold.
    assert comparison.final_coverage == 0.25 and comparison.covers_space is True
    fewer = baseline.compare(p, FinalSampling(encoding, 1, answer), seed=0)
    assert fewer.final_coverage == 0.125 and fewer.covers_space is False


def test_energy_ratio_is_one_on_the_ground_state_zero_on_the_top_and_in_between_for_uniform():
    p = path3()
    encoding = PenaltyQubo().encode(p)
    energies = encoding.qubo.all_energies()
    states = np.array([[(k >> i) & 1 for i in range(3)] for k in range(8)])
    ground, top = states[np.argmin(energies)], states[np.argmax(energies)]
    for bits, probabilities, expected in [
        ([ground], [1.0], 1.0), ([top], [1.0], 0.0),
        (states, np.full(8, 1 / 8), (energies.mean() - energies.max()) / (energies.min() - energies.max())),
    ]:
        encoding, answer = answer_of(p, bits, probabilities)
        ratio = baseline.compare(p, FinalSampling(encoding, len(bits), answer), seed=0).energy_approximation_ratio
        assert ratio == pytest.approx(expected) and 0 <= ratio <= 1
    assert baseline.energy_approximation_ratio(5.0, 5.0, 5.0) is None
    with pytest.raises(ValueError, match="outside"):
        baseline.energy_approximation_ratio(-1.0, 0.0, 4.0)


def test_random_solver_is_the_uniform_baseline_and_deterministic(instances_dir):
    args = ("problem=mis", "problem.instance=1tc.8", "solver=random", "solver.shots=64")
    first, again, other = run(*args), run(*args), run(*args, "seed=5")
    assert first.status == "ok", first.error
    assert first.backend is None and first.qubits == first.qubo_variables == 8
    assert first.solution == again.solution and first.solver_info == again.solver_info
    assert first.p_feasible_uniform == again.p_feasible_uniform == 64 / 256  # 1tc.8: 64 independent sets
    info = first.solver_info
    assert info["shots"] == 64 and info["distinct_samples"] <= 64
    assert other.solver_info["answer_bitstring"] != info["answer_bitstring"] or \
        other.solver_info["feasible_probability"] != info["feasible_probability"]
    assert first.optimal_lift == pytest.approx(info["optimal_probability"] / first.p_optimal_uniform)
    assert first.feasible_lift == pytest.approx(info["feasible_probability"] / first.p_feasible_uniform)
    assert first.final_coverage == 0.25 and first.covers_space is True
    assert 0 <= first.energy_approximation_ratio <= 1


def test_annealing_and_shrunk_inner_sampling_carry_the_baseline():
    sa = run("solver=sa", "solver.num_reads=20")
    assert sa.status == "ok", sa.error
    assert sa.uniform_method == "exact" and sa.final_coverage == 20 / 2**sa.qubo_variables
    assert sa.optimal_lift == pytest.approx(sa.solver_info["optimal_probability"] / sa.p_optimal_uniform)
    shrunk = run("solver=shrink", "solver.inner=sa", "solver.target_qubits=8", "+solver.inner_params.num_reads=10")
    assert shrunk.status == "ok", shrunk.error
    inner = shrunk.solver_info["inner_info"]
    # The uniform baseline of the QUBO the inner solver sampled: 8 variables, not the 14 of the formulation.
    assert shrunk.qubits == 8 and shrunk.qubo_variables == 14
    assert shrunk.final_coverage == 10 / 2**8 and shrunk.uniform_method == "exact"
    assert shrunk.optimal_lift == baseline.lift(inner["optimal_probability"], shrunk.p_optimal_uniform)


def test_exact_and_mip_solvers_have_no_baseline():
    for solver in ("exact", "scip"):
        record = run(f"solver={solver}")
        assert record.status == "ok" and record.uniform_method is None and record.optimal_lift is None


def test_pce_records_no_sampling_probability_and_reports_no_success(tmp_path, instances_dir):
    record = run("solver=pce", "problem=mis", "problem.instance=1tc.8", "solver.layers=2", "solver.maxiter=5",
                 "progress=false")
    assert record.status == "ok", record.error
    info = record.solver_info
    assert info["feasible_probability"] is None and info["optimal_probability"] is None
    assert info["energy_expectation"] is None and info["distinct_samples"] == 1
    assert record.uniform_method is None and record.optimal_lift is None and record.covers_space is None
    row = store.flatten(json.loads(record.to_json()))
    assert row["success_probability"] is None
    table = report.summary_table(store.to_frame([row]))
    assert np.isnan(table.loc[0, "success_probability"])
    assert "sampling" not in format_summary(record)


def test_qrao_semideterministic_rounding_records_no_sampling_probability():
    record = run("solver=qrao", "solver.rounding=semideterministic", "solver.maxiter=3", "solver.reps=1",
                 "problem=mis", "progress=false")
    assert record.status == "ok", record.error
    assert record.solver_info["feasible_probability"] is None and record.uniform_method is None


def test_summary_line_compares_with_uniform_and_flags_coverage():
    record = RunRecord(
        key="k", problem="mdkp", instance="x", formulation="penalty", solver="qaoa", backend="statevector",
        seed=0, objective=1.0, reference=1.0, gap=0.0, feasible=True, violation=0.0,
        solver_info={"optimal_probability": 0.016, "feasible_probability": 0.5},
        p_optimal_uniform=0.0039, p_feasible_uniform=0.25, uniform_method="exact", uniform_stderr=0.0,
        optimal_lift=0.016 / 0.0039, feasible_lift=2.0, final_coverage=10000 / 256, covers_space=True,
        energy_approximation_ratio=0.8, times={"total": 1.0},
    )
    text = format_summary(record)
    assert "p_opt 0.016 (uniform 0.0039, lift 4.1x)" in text
    assert "p_feas 0.5 (uniform 0.25, lift 2x)" in text and "energy ratio 0.8" in text
    assert "final sampling draws 39.1x as many shots as its QUBO has states" in text
    assert "a gap of 0 is not evidence of the method" in text
    record.covers_space, record.final_coverage = False, 0.1
    assert "not evidence" not in format_summary(record)
    record.uniform_method, record.uniform_stderr = "monte_carlo", 0.0006
    assert "uniform ~0.0039 +- 0.0006 Monte-Carlo, lift 4.1x" in format_summary(record)


def _qbench(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(repo_root())}
    return subprocess.run([sys.executable, "-m", "qbench", *args], capture_output=True, text=True,
                          cwd=repo_root(), env=env, timeout=600)


@pytest.mark.slow
def test_cli_random_run_prints_the_comparison(tmp_path, instances_dir):
    out = _qbench("run", "problem=mis", "problem.instance=1tc.8", "solver=random", f"output_root={tmp_path}")
    assert out.returncode == 0, out.stderr
    assert "sampling   p_opt " in out.stdout and "(uniform 0.0352, lift " in out.stdout  # 9 optima of 256
    assert "final sampling draws 39.1x as many shots as its QUBO has states" in out.stdout
    (path,) = tmp_path.rglob("record.json")
    record = json.loads(path.read_text())
    assert record["solver"] == "random" and record["p_optimal_uniform"] == 9 / 256 and record["covers_space"]


@pytest.mark.slow
def test_cli_qaoa_record_carries_the_uniform_baseline(tmp_path, instances_dir):
    out = _qbench("run", "problem=mis", "problem.instance=1tc.16", "solver=qaoa", "solver.reps=1",
                  "solver.final_shots=100", "progress=false", f"output_root={tmp_path}")
    assert out.returncode == 0, out.stderr
    (path,) = tmp_path.rglob("record.json")
    record = json.loads(path.read_text())
    assert record["status"] == "ok"
    assert record["uniform_method"] == "exact" and record["p_optimal_uniform"] == 3 / 2**16
    assert record["optimal_lift"] == pytest.approx(record["solver_info"]["optimal_probability"] / (3 / 2**16))
    assert record["final_coverage"] == 100 / 2**16 and record["covers_space"] is False
    assert 0 <= record["energy_approximation_ratio"] <= 1
    assert "sampling   p_opt " in out.stdout and "not evidence" not in out.stdout
