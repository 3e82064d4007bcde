"""QAP: QAPLIB loader, generator, native evaluation, SCIP against brute force, QUBO vs SCIP, repair."""

from itertools import permutations

import numpy as np
import pytest

from qbench.problems.qap import Generator, Options, Qap, generate, load, read_dat, read_sln
from qbench import instances
from qbench.errors import ConfigError, InputFileError
from qbench.mip import solve_mip
from qbench.params import build_params
from qbench.registry import build_problem
from tests.helpers import run

QAP_NAMES = sorted(instances.manifest("qap"))
WITH_SLN = [n for n in QAP_NAMES if len(instances.manifest("qap")[n].files) > 1]


def brute_force(p: Qap) -> float:
    return min(p.cost(np.array(perm)) for perm in permutations(range(p.n)))


@pytest.mark.parametrize("name", WITH_SLN)
def test_published_permutation_evaluates_to_the_reference(instances_dir, name):
    p = build_problem({"name": "qap", "instance": name})
    assert p.reference.proven and p.n == 12
    opt, perm = read_sln(instances_dir / "qap" / f"{name}.sln", p.n)
    x = p.layout.from_permutation(perm)
    evaluation = p.evaluate(x)
    assert evaluation.feasible and evaluation.violation == 0
    assert evaluation.objective == opt == p.reference.value
    # the QP's objective agrees with the native cost at a feasible point
    assert p.to_quadratic_program().objective.evaluate(x) == pytest.approx(opt)


@pytest.mark.parametrize("name", sorted(set(QAP_NAMES) - set(WITH_SLN)))
def test_instances_without_solution_load_without_reference(instances_dir, name):
    p = build_problem({"name": "qap", "instance": name})
    assert p.n == 10 and p.reference.value is None
    assert p.size() == {"variables": 100, "constraints": 20}


def test_a_copied_file_with_its_sln_gets_the_evaluated_reference(instances_dir, tmp_path):
    for suffix in (".dat", ".sln"):
        (tmp_path / f"mine{suffix}").write_bytes((instances_dir / "qap" / f"had12{suffix}").read_bytes())
    (tmp_path / "mine.dat").write_text((tmp_path / "mine.dat").read_text() + "\n")  # not byte-identical
    p = load(tmp_path / "mine.dat", Options())
    assert (p.name, p.reference.value, p.reference.proven) == ("mine", 1652, False)
    assert "mine.sln" in p.reference.source


@pytest.mark.parametrize("n,seed,mip", [
    (4, 0, "adams_johnson"), (5, 1, "adams_johnson"),
    pytest.param(6, 2, "adams_johnson", marks=pytest.mark.slow),
    (4, 3, "kaufman_broeckx"), pytest.param(6, 4, "kaufman_broeckx", marks=pytest.mark.slow),
])
def test_scip_matches_brute_force(n, seed, mip):
    p = generate(Generator(n=n, seed=seed), Options(mip=mip))
    assert p.mip_model() == mip
    result = solve_mip(p, time_limit=60)
    assert result.status == "optimal"
    optimum = brute_force(p)
    assert result.primal == pytest.approx(optimum)
    assert p.evaluate(result.x).feasible and p.evaluate(result.x).objective == optimum


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_qubo_ground_state_is_feasible_and_matches_scip(seed):
    exact = run(f"problem=qap", f"problem.generator.seed={seed}", "solver=exact")
    scip = run(f"problem=qap", f"problem.generator.seed={seed}", "solver=scip")
    assert exact.status == scip.status == "ok", (exact.error, scip.error)
    assert exact.qubo_variables == 9 and exact.feasible and scip.feasible
    assert exact.objective == scip.objective == exact.reference == brute_force(generate(Generator(seed=seed)))


def test_run_end_to_end_records_the_answer():
    record = run("problem=qap", "solver=scip")
    assert record.status == "ok" and record.solver_status == "optimal"
    assert record.instance == "gen-n3-f10-g10-s0" and record.gap == 0 and record.variables == 9


def test_group_penalties_name_rows_and_columns():
    record = run("problem=qap", "solver=exact", "+formulation.group_penalties.row=2.0")
    assert record.status == "ok" and record.feasible, record.error
    bad = run("problem=qap", "solver=exact", "+formulation.group_penalties.capacity=2.0")
    assert bad.status == "error" and "this problem has: col, row" in bad.error


def test_auto_model_choice(instances_dir):
    assert generate(Generator(n=10)).mip_model() == "adams_johnson"
    assert build_problem({"name": "qap", "instance": "nug12", "mip": "auto"}).mip_model() == "kaufman_broeckx"
    negative = Qap("neg", -np.ones((11, 11)), np.ones((11, 11)))
    assert negative.mip_model() == "adams_johnson"
    with pytest.raises(ConfigError, match="kaufman_broeckx needs non-negative"):
        solve_mip(Qap("neg", -np.ones((3, 3)), np.ones((3, 3)), "kaufman_broeckx"), time_limit=60)
    record = run("problem=qap", "problem.mip=lp")
    assert record.status == "error" and record.error.startswith("problem.mip: 'lp' is not allowed; choose one of auto")


def test_generator_is_deterministic_per_seed():
    a, b, c = (generate(Generator(n=5, seed=s)) for s in (3, 3, 4))
    assert a.content_hash() == b.content_hash() != c.content_hash()
    assert np.array_equal(a.flow, a.flow.T) and np.all(np.diag(a.flow) == 0)
    assert np.array_equal(a.distance, a.distance.T) and np.all(a.distance[~np.eye(5, dtype=bool)] > 0)
    assert generate(Generator()).size() == {"variables": 9, "constraints": 6}


@pytest.mark.parametrize("field,value,message", [
    ("n", 1, "n: must be >= 2, got 1"),
    ("max_flow", 0, "max_flow: must be >= 1"),
    ("grid", 1, "grid: 1 has fewer than n=5 points"),
    ("n", "three", "n: expected an integer"),
])
def test_generator_rejects_bad_parameters(field, value, message):
    values = {field: value, **({"n": 5} if field == "grid" else {})}
    with pytest.raises(ConfigError, match=f"^problem.generator.{message}"):
        build_params(Generator, values, "problem.generator")


def test_bad_parameters_fail_the_run_with_one_line():
    record = run("problem=qap", "problem.generator.n=0", "solver=scip")
    assert record.status == "error" and record.error == "problem.generator.n: must be >= 2, got 0"


@pytest.mark.parametrize("text,line,message", [
    ("2\n0 1\n1 0\n0 2\n", 1, "size n=2: two 2 x 2 matrices need 8 more numbers; the file has 6"),
    ("2\n0 1\n1 x\n0 2\n2 0\n", 3, "matrix A row 2[1]: expected a number, got 'x'"),
    ("2\n0 1\n1 0\n0 2\n2 0\n7\n", 6, "unexpected extra data '7'"),
    ("0\n", 1, "size n: must be >= 1, got 0"),
])
def test_malformed_dat_names_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.dat"
    path.write_text(text)
    with pytest.raises(InputFileError) as info:
        read_dat(path)
    assert str(info.value) == f"{path}:{line}: {message}"


@pytest.mark.parametrize("sln,line,message", [
    ("3 10\n1 2 3\n", 1, "size 3 does not match the instance's n=2"),
    ("2 4\n1 1\n", 2, "the solution is not a permutation of 1..2"),
    ("2 5\n2 1\n", 1, "the permutation costs 4 but the header says 5"),
])
def test_malformed_sln_names_file_and_line(tmp_path, sln, line, message):
    (tmp_path / "x.dat").write_text("2\n0 1\n1 0\n0 2\n2 0\n")
    (tmp_path / "x.sln").write_text(sln)
    with pytest.raises(InputFileError) as info:
        load(tmp_path / "x.dat")
    assert str(info.value) == f"{tmp_path / 'x.sln'}:{line}: {message}"


def test_evaluation_of_infeasible_x_is_the_quadratic_form():
    p = generate(Generator(n=3, seed=0))
    qp = p.to_quadratic_program()
    rng = np.random.default_rng(1)
    for _ in range(20):
        x = rng.integers(0, 2, size=9)
        ev = p.evaluate(x)
        rows, cols = x.reshape(3, 3).sum(axis=1), x.reshape(3, 3).sum(axis=0)
        assert ev.violation == np.abs(rows - 1).sum() + np.abs(cols - 1).sum()
        assert ev.feasible == (ev.violation == 0)
        assert ev.objective == pytest.approx(qp.objective.evaluate(x))


def test_repair_always_yields_a_permutation_keeping_what_it_can():
    p = generate(Generator(n=5, seed=0))
    rng = np.random.default_rng(0)
    for _ in range(30):
        x = rng.integers(0, 2, size=25)
        y = p.repair(x)
        assert p.evaluate(y).feasible
        assert np.all(y.reshape(5, 5).sum(axis=0) == 1) and np.all(y.reshape(5, 5).sum(axis=1) == 1)
        # no permutation keeps more of x's ones
        best = max(sum(x.reshape(5, 5)[i, q[i]] for i in range(5)) for q in permutations(range(5)))
        assert int((x * y).sum()) == best
    perm = np.array([2, 0, 1, 4, 3])
    assert np.array_equal(p.repair(p.layout.from_permutation(perm)), p.layout.from_permutation(perm))


def test_forbids_tie_within_rows_and_columns():
    p = generate(Generator(n=3))
    # variables are x[i,p] row-major: 0 = x[0,0], 1 = x[0,1], 3 = x[1,0], 4 = x[1,1]
    assert p.forbids_tie(0, 1, True) and p.forbids_tie(0, 3, True)
    assert not p.forbids_tie(0, 4, True)
    assert not p.forbids_tie(0, 1, False)
