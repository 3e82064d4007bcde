"""Market split: loaders, generator, SCIP against the shipped splits; the native objective, the
QUBO, SCIP's objective and the references are one function, QOBLIB's sum_i (A_i x - b_i)^2."""

import itertools

import numpy as np
import pytest

from qbench import instances
from qbench.errors import ConfigError, InputFileError
from qbench.formulations.penalty import PenaltyQubo
from qbench.mip import solve_mip
from qbench.params import build_params
from qbench.registry import build_problem
from qbench.problems.msp import Generator, Msp, Options, generate, load
from tests.helpers import run

MSP_NAMES = sorted(instances.manifest("msp"))
M3 = [n for n in MSP_NAMES if n.startswith("ms_03_")]
#: Two m=4 instances (SCIP needs about 10 s each here); the other six are left to their .opt.sol.
M4_SOLVED = ["ms_04_050_001", "ms_04_100_003"]


def problem(name: str) -> Msp:
    return build_problem({"name": "msp", "instance": name})


def brute_force_optimum(p: Msp) -> float:
    """min over every x of sum_i (A_i x - b_i)^2, from the data (not through ``evaluate``)."""
    xs = np.array(list(itertools.product((0, 1), repeat=p.n_retailers)))
    return float((((xs @ p.coefficients.T) - p.rhs) ** 2).sum(axis=1).min())


def test_manifest_holds_twelve_m3_and_eight_m4_instances():
    assert len(M3) == 12 and len([n for n in MSP_NAMES if n.startswith("ms_04_")]) == 8


@pytest.mark.parametrize("name", MSP_NAMES)
def test_every_instance_loads_with_its_size_and_a_verified_split(instances_dir, name):
    p = problem(name)
    m = int(name.split("_")[1])
    cap = int(name.split("_")[2])
    assert (p.n_products, p.n_retailers) == (m, 10 * (m - 1))
    assert p.coefficients.min() >= 0 and p.coefficients.max() <= cap
    assert np.array_equal(p.rhs, p.coefficients.sum(axis=1) // 2)
    assert p.reference.value == 0 and p.reference.proven
    ev = p.evaluate(p.solution)
    assert ev.feasible and ev.objective == 0 == ev.violation


def _scip_reproduces(name):
    p = problem(name)
    result = solve_mip(p, time_limit=120)
    assert result.status == "optimal" and result.primal == 0
    assert p.evaluate(result.x).feasible


@pytest.mark.slow
@pytest.mark.parametrize("name", M3)
def test_scip_finds_a_split_of_every_m3_instance(instances_dir, name):
    _scip_reproduces(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", M4_SOLVED)
def test_scip_finds_a_split_of_m4_instances(instances_dir, name):
    _scip_reproduces(name)


def test_penalty_qubo_is_the_sum_of_squared_residuals_on_n_qubits(instances_dir):
    p = problem("ms_03_050_002")
    encoding = PenaltyQubo().encode(p)
    assert encoding.qubits == 20 and encoding.slack_variables == 0
    xs = np.random.default_rng(0).integers(0, 2, size=(50, 20))
    expected = [(p.residual(x) ** 2).sum() for x in xs]
    assert np.allclose(encoding.qubo.energies(xs), expected)
    assert encoding.qubo.energy(p.solution) == pytest.approx(0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_qubo_ground_state_is_feasible_and_matches_scip(seed):
    overrides = ["problem=msp", f"problem.generator.seed={seed}", "problem.generator.cap=9"]
    exact = run(*overrides, "solver=exact")
    scip = run(*overrides, "solver=scip")
    assert exact.status == scip.status == "ok", (exact.error, scip.error)
    assert exact.qubo_variables == 10
    assert exact.feasible and scip.feasible
    assert exact.objective == scip.objective == exact.reference == 0
    assert brute_force_optimum(generate(Generator(cap=9, seed=seed))) == 0


def test_without_a_split_the_reference_is_the_least_squared_violation():
    # Cornuejols-Dawande sizes with cap 99 rarely admit a split: seed 0 misses by r = (-2, 0).
    p = generate(Generator(seed=0))
    assert brute_force_optimum(p) == 4
    record = run("problem=msp", "solver=scip")
    assert record.status == "ok", record.error
    assert record.instance == "gen-m2-n10-c99-s0" and record.instance_description == "2 products x 10 retailers"
    assert record.reference == record.objective == 4 and record.reference_proven
    assert record.solver_status == "optimal" and record.dual_bound == 4
    assert record.feasible is False and record.violation == 2 and record.qubo_variables == 10
    # The QUBO is the objective itself: its exhaustive minimum is SCIP's optimum, and says so.
    exact = run("problem=msp", "solver=exact")
    assert exact.objective == record.objective and exact.solver_status == "optimal"


@pytest.mark.parametrize("seed", [0, 29, 1])
def test_native_objective_scip_and_qubo_agree_with_brute_force(seed):
    p = generate(Generator(seed=seed))
    optimum = brute_force_optimum(p)
    result = solve_mip(p, time_limit=60)
    assert result.status == "optimal" and result.primal == result.dual == optimum
    assert p.evaluate(result.x).objective == optimum
    encoding = PenaltyQubo().encode(p)
    xs = np.array(list(itertools.product((0, 1), repeat=p.n_retailers)))
    assert np.allclose(encoding.qubo.energies(xs), [p.evaluate(x).objective for x in xs])


def test_exact_on_seed_29_is_optimal_in_native_terms():
    # Absolute and squared violation disagree here: r = (0, -3) has |r| 3 and r^2 9, (2, -2) 4 and 8.
    record = run("problem=msp", "problem.generator.seed=29", "solver=exact")
    assert record.status == "ok", record.error
    assert record.solver_status == "optimal"
    assert record.objective == record.reference == brute_force_optimum(generate(Generator(seed=29)))


def test_generator_is_deterministic_per_seed_and_follows_cornuejols_dawande():
    a, b, c = (generate(Generator(m=3, seed=s)) for s in (5, 5, 6))
    assert a.content_hash() == b.content_hash() != c.content_hash()
    assert (a.n_products, a.n_retailers) == (3, 20)
    assert np.array_equal(a.rhs, a.coefficients.sum(axis=1) // 2)
    assert 0 <= a.coefficients.min() and a.coefficients.max() <= 99
    assert generate(Generator(m=2, n=6)).n_retailers == 6


@pytest.mark.parametrize("values,message", [
    ({"m": 0}, "m: must be >= 1, got 0"),
    ({"m": 1}, "n: must be set when m = 1"),
    ({"n": 0}, "n: must be >= 1, got 0"),
    ({"cap": 0}, "cap: must be >= 1, got 0"),
    ({"m": "two"}, "m: expected an integer"),
])
def test_generator_rejects_bad_parameters(values, message):
    with pytest.raises(ConfigError, match=f"^problem.generator.{message}"):
        build_params(Generator, values, "problem.generator")


@pytest.mark.parametrize("text,line,message", [
    ("# licence\n2 3\n1 2 3 3\n4 5\n", 2, "m=2 products and n=3 retailers need 8 more numbers; the file has 6"),
    ("2 3\n1 2 3 3\n4 5 x 4\n", 3, "row 2 coefficient[2]: expected an integer, got 'x'"),
    ("2 3\n1 2 3 3\n4 5 6 7 8\n", 3, "unexpected extra data '8'"),
    ("0 3\n", 1, "number of products m: must be >= 1, got 0"),
    ("#only comments\n", 1, "file ends before number of products m"),
])
def test_malformed_files_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.dat"
    path.write_text(text)
    with pytest.raises(InputFileError) as info:
        load(path, Options())
    where = f"{path}:{line}" if line else f"{path}"
    assert str(info.value) == f"{where}: {message}"


@pytest.mark.parametrize("solution,line,message", [
    ("1 0 2\n", 1, "x[3]: expected 0 or 1, got 2"),
    ("1 0\n", 1, "file ends before x[3]"),
    ("1 1 1\n", None, "not an exact split: product 1 is off by 3"),
])
def test_malformed_solution_files_name_file_and_line(tmp_path, solution, line, message):
    (tmp_path / "t.dat").write_text("1 3\n2 2 2 3\n")
    path = tmp_path / "t.opt.sol"
    path.write_text(solution)
    with pytest.raises(InputFileError) as info:
        load(tmp_path / "t.dat", Options())
    where = f"{path}:{line}" if line else f"{path}"
    assert str(info.value) == f"{where}: {message}"


def test_a_user_file_with_a_split_beside_it_gets_reference_zero(tmp_path):
    (tmp_path / "t.dat").write_text("# two products\n2 3\n2 2 4 4\n1 2 5 3\n")
    (tmp_path / "t.opt.sol").write_text("1 1 0\n")
    p = load(tmp_path / "t.dat", Options())
    assert p.reference.value == 0 and p.reference.proven and p.reference.source == "exact split in t.opt.sol"
    assert p.evaluate(p.solution).feasible


def test_evaluation_is_the_squared_violation_with_the_absolute_one_beside_it():
    p = Msp("t", np.array([[3, 5, 2], [1, 1, 4]]), np.array([5, 5]))
    ev = p.evaluate(np.array([1, 1, 1]))
    assert (ev.objective, ev.feasible, ev.violation) == (5.0**2 + 1.0**2, False, 6.0)
    assert p.evaluate(np.array([1, 0, 1])) == type(ev)(0.0, True, 0.0)
    with pytest.raises(ValueError, match="expected 3 values"):
        p.evaluate(np.array([1, 0]))
