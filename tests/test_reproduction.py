"""``benchmarks/reproduction.py`` (:mod:`qbench.reproduction`) and the matched random baseline
(:mod:`qbench.random_baseline`): the document from a tiny grid of real records, the baseline
against brute force, its verdicts, and bad input."""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from qbench import random_baseline as rb
from qbench import reproduction
from qbench.baseline import uniform_probabilities
from qbench.formulations.penalty import PenaltyQubo
from qbench.problem import optimality_gap
from qbench.records import write_record
from qbench.registry import build_problem
from qbench.repair import repair_answer
from qbench.runner import with_proven_reference
from qbench.sampling import select_answer
from qbench.settings import ReferenceSettings
from tests.helpers import repo_root, run

MDKP = ["problem=mdkp", "problem.generator.n_items=6"]
GRID = [
    [*MDKP, "solver=exact"],
    [*MDKP, "solver=sa"],
    [*MDKP, "solver=random", "solver.shots=64"],
    [*MDKP, "solver=qaoa", "solver.reps=1", "solver.maxiter=4", "solver.shots=32", "solver.final_shots=64",
     "backend=statevector"],
]


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """A tiny study: exact, sa (two seeds), random and a shot-based QAOA on a generated
    6-item MDKP, written as a sweep writes them (experiment ``comparative_small``)."""
    root = tmp_path_factory.mktemp("results") / "comparative_small"
    for overrides in GRID:
        record = run(*overrides, "progress=false")
        assert record.status == "ok", record.error
        record.config["sweep"] = {"experiment": "comparative_small", "key": record.key}
        write_record(record, root / "runs" / record.key)
    return root


@pytest.mark.slow
def test_document_has_every_section_and_the_baseline_verdicts(records, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(reproduction, "SAC94", ("pb4",))  # the published qubit range, from one instance
    out = tmp_path / "docs" / "reproduction.md"
    assert reproduction.main([str(records), "--out", str(out), "--repetitions", "40"]) == 0
    text = out.read_text()
    assert f"python benchmarks/reproduction.py {records} --out {out} --repetitions 40" in text
    for heading in ("## What was run", "## Results per study", "### comparative_small",
                    "## Qubits per instance and formulation", "## Published figures",
                    "## Matched random baseline", "## Figures", "## Discussion"):
        assert heading in text
    assert "| problem | method | runs | feasible | gap raw | gap | p_s | lift | TTS99 [95% CI] [s] |" in text
    assert "| penalty QUBO (slack) | PCE | QRAO | Lagrangian (native) | unbalanced | shrunk |" in text
    # Published figures with their sources; the penalty and PCE ranges are computed here.
    assert "| QRAO | 16.9% |" in text and "| QAOA | 31.2% |" in text
    assert "A Comparative Study of Quantum Optimization Techniques" in text
    assert "quantum-optimization-benchmarks" in text
    # The baseline table: sampled runs (sa, random, qaoa) get a verdict, exact does not.
    assert "| quantile | verdict |" in text
    baseline = (out.parent / "reproduction" / "random_baseline.csv").read_text().splitlines()
    assert len(baseline) == 1 + len(GRID)
    rows = {line.split(",")[3]: line for line in baseline[1:]}
    assert "answer not drawn from samples" in rows["exact"]
    assert ",64.0,shots," in rows["random"]
    assert "total_shots" in rows["qaoa"] and ",num_reads (annealing reads)," in rows["sa"]
    assert any(v in rows["qaoa"] for v in ("outperforms", "comparable", "underperforms"))
    if (repo_root().parent / "shared" / "instances").is_dir() or "QBENCH_INSTANCES" in os.environ:
        assert "| 45 qubits (computed; instances: 1) |" in text
    assert text.rstrip().endswith(reproduction.discussion(out).rstrip())
    assert "No discussion was written" in text
    for figure in ("gap_vs_random.png", "qubits.png"):
        assert (out.parent / "reproduction" / figure).stat().st_size > 0
    capsys.readouterr()


def test_a_written_discussion_is_included_as_it_is(tmp_path):
    out = tmp_path / "reproduction.md"
    assert reproduction.discussion(out).startswith("No discussion was written")
    (tmp_path / "reproduction_discussion.md").write_text("The maintainer's reading.\n\nSecond paragraph.\n")
    assert reproduction.discussion(out) == "The maintainer's reading.\n\nSecond paragraph.\n"


def test_bad_input_is_one_line_and_status_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for directory in (tmp_path / "empty", tmp_path / "missing"):
        assert reproduction.main([str(directory), "--out", str(tmp_path / "r.md")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("reproduction: error: ") and err.count("\n") == 1
    assert not (tmp_path / "r.md").exists()


@pytest.mark.slow
def test_the_command_runs_as_a_script(tmp_path):
    (tmp_path / "empty").mkdir()
    done = subprocess.run([sys.executable, str(repo_root() / "benchmarks" / "reproduction.py"),
                           str(tmp_path / "empty")], capture_output=True, text=True)
    assert done.returncode == 2 and "no run records" in done.stderr


def _space(config: dict, repair: str = "greedy", exact_bits: int = rb.EXACT_BITS) -> rb.SampleSpace:
    problem = with_proven_reference(build_problem(config), ReferenceSettings())
    return rb.SampleSpace(problem, PenaltyQubo().encode(problem), repair, exact_bits, key=str(config))


TINY_MDKP = {"name": "mdkp", "generator": {"n_items": 3, "n_constraints": 1, "max_weight": 3}}
TINY_MIS = {"name": "mis", "generator": {"n": 4, "p": 0.5}}


_BRUTE: dict[tuple[str, int], dict[float, float]] = {}


def _brute_force(space: rb.SampleSpace, k: int) -> dict[float, float]:
    """The exact distribution of the best final gap of ``k`` uniform bitstrings: every ordered
    ``k``-tuple of bitstrings, chosen and repaired as a run's samples."""
    if (space.key, k) not in _BRUTE:
        _BRUTE[space.key, k] = _enumerate_draws(space, k)
    return _BRUTE[space.key, k]


def _enumerate_draws(space: rb.SampleSpace, k: int) -> dict[float, float]:
    n = space.encoding.qubits
    states = [np.array([(s >> i) & 1 for i in range(n)], dtype=np.int8) for s in range(2**n)]
    counts: dict[float, float] = {}
    for draw in itertools.product(states, repeat=k):
        answer = select_answer(space.encoding, space.problem, np.array(draw), np.ones(k))
        evaluation = repair_answer(space.problem, answer.x, space.repair).evaluation
        gap = optimality_gap(evaluation.objective, space.problem.reference.value, space.problem.sense)
        gap = round(gap, 9) if evaluation.feasible else math.inf
        counts[gap] = counts.get(gap, 0) + 1
    return {g: c / 2 ** (n * k) for g, c in counts.items()}


@pytest.mark.parametrize("config", [TINY_MDKP, TINY_MIS], ids=["mdkp-slack", "mis"])
@pytest.mark.parametrize("exact_bits", [rb.EXACT_BITS, 0], ids=["levels", "monte-carlo"])
def test_baseline_matches_brute_force(config, exact_bits):
    space = _space(config, exact_bits=exact_bits)
    assert space.exact == (exact_bits > 0)
    exact = _brute_force(space, 2)
    repetitions = 1000
    drawn = space.distribution(2, repetitions, seed=3, max_draws=10**9).gaps
    for gap, p in exact.items():
        observed = np.mean(np.isclose(drawn, gap) | ((drawn == gap) & np.isinf(gap)))
        assert abs(observed - p) <= 4 * math.sqrt(p * (1 - p) / repetitions) + 0.01, (gap, p, observed)


def test_baseline_without_repair_finds_the_optimum_as_often_as_uniform_sampling_does():
    """No repair: the best of K draws is optimal with probability 1 - (1 - p_opt)^K, p_opt the
    uniform probability of an optimal bitstring (qbench.baseline, exact)."""
    space = _space({"name": "mdkp", "generator": {"n_items": 4, "n_constraints": 2}}, repair="none")
    p_opt = uniform_probabilities(space.problem, space.encoding, 0).p_optimal
    for k in (3, 40):
        gaps = space.distribution(k, 1000, seed=1, max_draws=10**9).gaps
        expected = 1 - (1 - p_opt) ** k
        assert abs(np.mean(gaps == 0) - expected) <= 4 * math.sqrt(expected * (1 - expected) / 1000) + 0.005


def test_baseline_is_deterministic_for_a_seed():
    space = _space(TINY_MDKP)
    again = _space(TINY_MDKP)
    first = space.distribution(16, 100, seed=7).gaps
    np.testing.assert_array_equal(first, again.distribution(16, 100, seed=7).gaps)
    np.testing.assert_array_equal(first, space.distribution(16, 100, seed=7).gaps)


def test_all_states_drawn_make_a_gap_of_zero_comparable_not_better():
    """4 variables, 2^4 candidates: random reaches gap 0 in nearly every repetition, so a run
    with gap 0 is comparable; a worse run underperforms."""
    space = _space(TINY_MIS)
    assert space.encoding.qubits == 4
    gaps = space.distribution(16, 200, seed=0).gaps
    assert np.mean(gaps == 0) >= 0.9
    assert rb.judge(0.0, gaps).verdict == "comparable"
    assert rb.judge(0.5, gaps).verdict == "underperforms"
    assert rb.judge(None, gaps).verdict == "underperforms"


@pytest.mark.parametrize("gap, random, verdict, quantile", [
    (0.0, [0.1] * 100, "outperforms", 0.0),
    (0.2, [0.1] * 100, "underperforms", 1.0),
    (0.1, [0.0] * 50 + [0.2] * 50, "comparable", 0.5),
    (0.0, [0.0] * 3 + [0.1] * 97, "comparable", 0.015),  # random ties it in 3 %: not better
    (0.0, [0.0] * 2 + [0.1] * 98, "outperforms", 0.01),
    (math.inf, [math.inf] * 100, "comparable", 0.5),
    (math.inf, [0.3] * 99 + [math.inf], "underperforms", 0.995),
    (0.05, [0.0] * 98 + [0.1] * 2, "underperforms", 0.98),
    (0.05, [0.0] * 97 + [0.1] * 3, "comparable", 0.97),
])
def test_verdict_thresholds_and_ties(gap, random, verdict, quantile):
    result = rb.judge(gap, np.array(random))
    assert result.verdict == verdict
    assert result.quantile == pytest.approx(quantile)


def test_candidate_counts_are_read_from_the_record():
    sampled = {"solver": "qaoa", "final_coverage": 0.1, "solver_info": {"total_shots": 12_000}}
    assert rb.candidate_count(sampled).count == 12_000
    assert rb.candidate_count({"solver": "pce", "final_coverage": None, "solver_info": {}}).count is None
    shrink = {"solver": "shrink", "final_coverage": 0.5, "config": {"solver": {"inner_params": {}}},
              "solver_info": {"inner": "cvar_vqe", "inner_info": {"total_shots": 10_000}}}
    assert rb.candidate_count(shrink).count == 10_000
    lagrangian = {"solver": "lagrangian", "backend": "statevector", "final_coverage": None,
                  "config": {"solver": {"inner": "cvar_vqe", "inner_params": {}}},
                  "solver_info": {"inner": "cvar_vqe", "inner_solves": 7}}
    assert rb.candidate_count(lagrangian) == rb.CandidateCount(70_000, "inner_solves x inner final_shots "
                                                                       "(evaluations exact)")
    assert rb.candidate_count({**lagrangian, "backend": "aer"}).count is None
    exact_inner = {**lagrangian, "solver_info": {"inner": "exact", "inner_solves": 7}}
    assert rb.candidate_count(exact_inner).count is None


def test_qrao_qubits_are_the_encodings_without_building_it():
    from qbench.solvers.qrao import qrao_qubits
    from qbench.solvers.qrao import qrac_encoding

    for config in (TINY_MDKP, {"name": "mdkp"}, {"name": "mis", "generator": {"n": 12}},
                   {"name": "qap", "generator": {"n": 3}}):
        qubo = PenaltyQubo().encode(build_problem(config)).qubo
        for k in (1, 2, 3):
            assert qrao_qubits(qubo, k) == qrac_encoding(qubo, k).num_qubits
