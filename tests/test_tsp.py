"""TSP: TSPLIB instances against their optima, SCIP against brute force, QUBO vs SCIP, repair."""

import re
from itertools import permutations

import numpy as np
import pytest

from qbench.problems import tsplib
from qbench.problems.tsp import Generator, Options, Tsp, generate, load
from qbench import instances
from qbench.errors import ConfigError
from qbench.mip import solve_mip
from qbench.params import build_params
from qbench.registry import build_problem
from tests.helpers import run

TSP_NAMES = sorted(instances.manifest("tsp"))


def brute_force(p: Tsp) -> float:
    return min(p.tour_length(np.array((0, *rest))) for rest in permutations(range(1, p.n)))


def tour_vector(p: Tsp, tour) -> np.ndarray:
    step = np.empty(p.n, dtype=int)
    step[np.asarray(tour)] = np.arange(p.n)
    return p.layout.from_permutation(step)


@pytest.mark.parametrize("name", TSP_NAMES)
def test_scip_reproduces_every_reference(instances_dir, name):
    p = build_problem({"name": "tsp", "instance": name})
    assert p.reference.value is not None and p.reference.proven
    result = solve_mip(p, time_limit=60)
    assert result.status == "optimal"
    assert result.primal == pytest.approx(p.reference.value)
    evaluation = p.evaluate(result.x)
    assert evaluation.feasible and evaluation.objective == p.reference.value
    assert result.x.shape == ((p.n - 1) ** 2,)


@pytest.mark.parametrize("name", ["ulysses16", "ulysses22"])
def test_optimal_tours_evaluate_to_the_reference(instances_dir, name):
    p = build_problem({"name": "tsp", "instance": name})
    tour = tsplib.read_tour(instances_dir / "tsp" / f"{name}.opt.tour", p.n)
    assert tour[0] == 0
    assert p.evaluate(tour_vector(p, tour)).objective == p.reference.value


def test_a_copied_file_with_its_tour_gets_the_tour_length_as_reference(instances_dir, tmp_path):
    tsp = instances_dir / "tsp"
    (tmp_path / "mine.tsp").write_text((tsp / "ulysses16.tsp").read_text().replace("NAME: ulysses16.tsp", "NAME: mine"))
    (tmp_path / "mine.opt.tour").write_bytes((tsp / "ulysses16.opt.tour").read_bytes())
    p = load(tmp_path / "mine.tsp", Options())
    assert (p.name, p.reference.value, p.reference.proven) == ("mine", 6859, False)
    assert load(tmp_path / "mine.tsp", Options(fix_first_city=False)).size()["variables"] == 256


@pytest.mark.parametrize("n,seed,fix", [(5, 0, True), (6, 1, False), (7, 2, True), (8, 3, True)])
def test_scip_matches_brute_force(n, seed, fix):
    p = generate(Generator(n=n, seed=seed), Options(fix_first_city=fix))
    result = solve_mip(p, time_limit=60)
    assert result.status == "optimal"
    optimum = brute_force(p)
    assert result.primal == pytest.approx(optimum)
    assert p.evaluate(result.x).feasible and p.evaluate(result.x).objective == optimum
    # the extracted vector starts the tour at city 0 even when city 0 is not fixed
    assert p.layout.permutation(result.x)[0] == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_qubo_ground_state_is_feasible_and_matches_scip(seed):
    exact = run("problem=tsp", f"problem.generator.seed={seed}", "solver=exact")
    scip = run("problem=tsp", f"problem.generator.seed={seed}", "solver=scip")
    assert exact.status == scip.status == "ok", (exact.error, scip.error)
    assert exact.qubo_variables == 9 and exact.feasible and scip.feasible
    optimum = brute_force(generate(Generator(seed=seed)))
    assert exact.objective == scip.objective == exact.reference == optimum


def test_qubo_without_fixed_city_also_finds_the_optimum():
    record = run("problem=tsp", "problem.fix_first_city=false", "solver=exact")
    assert record.status == "ok" and record.qubo_variables == 16
    assert record.feasible and record.objective == brute_force(generate(Generator()))


def test_run_end_to_end():
    record = run("problem=tsp", "solver=scip")
    assert record.status == "ok" and record.solver_status == "optimal" and record.gap == 0
    assert record.instance == "gen-n4-g100-s0" and record.variables == 9


def test_malformed_file_fails_the_run_with_file_and_line(tmp_path):
    path = tmp_path / "bad.tsp"
    path.write_text("NAME: b\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 1 0\n2 0 1\n")
    record = run("problem=tsp", f"problem.instance={path}", "solver=scip")
    assert record.status == "error" and record.error == f"{path}:8: NODE_COORD_SECTION: node 2 appears twice"


def test_generator_is_deterministic_per_seed():
    a, b, c = (generate(Generator(n=6, seed=s)) for s in (3, 3, 4))
    assert a.content_hash() == b.content_hash() != c.content_hash()
    d = a.distances
    assert np.array_equal(d, d.T) and np.all(d == np.round(d)) and np.all(d[~np.eye(6, dtype=bool)] > 0)
    assert generate(Generator()).size() == {"variables": 9, "constraints": 6}


@pytest.mark.parametrize("field,value,message", [
    ("n", 2, "n: must be >= 3 (a tour needs 3 cities), got 2"),
    ("grid", 0, "grid: must be >= 1"),
    ("grid", 1, "grid: 1 has fewer than n=5 points"),
    ("seed", 1.5, "seed: expected an integer"),
])
def test_generator_rejects_bad_parameters(field, value, message):
    values = {field: value, **({"n": 5} if field == "grid" else {})}
    with pytest.raises(ConfigError, match="^" + re.escape(f"problem.generator.{message}")):
        build_params(Generator, values, "problem.generator")


def test_bad_option_fails_the_run_with_one_line():
    record = run("problem=tsp", "problem.fix_first_city=maybe", "solver=scip")
    assert record.status == "error" and record.error == "problem.fix_first_city: expected true or false, got 'maybe'"


def test_evaluation_of_infeasible_x_is_the_quadratic_form():
    for fix in (True, False):
        p = generate(Generator(n=4, seed=1), Options(fix_first_city=fix))
        qp = p.to_quadratic_program()
        m = p.layout.num_variables
        rng = np.random.default_rng(2)
        for _ in range(20):
            x = rng.integers(0, 2, size=m)
            ev = p.evaluate(x)
            assert ev.feasible == (ev.violation == 0)
            assert ev.violation == p.layout.violation(x)
            assert ev.objective == pytest.approx(qp.objective.evaluate(x))


def test_quadratic_objective_is_the_tour_length_on_every_tour():
    p = generate(Generator(n=5, seed=0), Options(fix_first_city=False))
    qp = p.to_quadratic_program()
    for tour in permutations(range(5)):
        x = tour_vector(p, tour)
        assert qp.objective.evaluate(x) == pytest.approx(p.tour_length(np.array(tour)))


def test_repair_always_yields_a_tour():
    p = generate(Generator(n=5, seed=0))
    rng = np.random.default_rng(0)
    for _ in range(30):
        x = rng.integers(0, 2, size=16)
        y = p.repair(x)
        assert p.evaluate(y).feasible
        best = max(sum(x.reshape(4, 4)[i, q[i]] for i in range(4)) for q in permutations(range(4)))
        assert int((x * y).sum()) == best


def test_forbids_tie_within_rows_and_columns():
    p = generate(Generator(n=4))
    # free variables x[u,t] for u, t in 1..3, row-major: 0 = x[1,1], 1 = x[1,2], 3 = x[2,1], 4 = x[2,2]
    assert p.layout.names()[:5] == ["x[1,1]", "x[1,2]", "x[1,3]", "x[2,1]", "x[2,2]"]
    assert p.forbids_tie(0, 1, True) and p.forbids_tie(0, 3, True)
    assert not p.forbids_tie(0, 4, True) and not p.forbids_tie(0, 1, False)


def test_cities_keep_their_map_positions_for_drawing(instances_dir):
    generated = generate(Generator(n=6, seed=3))
    assert np.array_equal(tsplib.euc_2d(generated.coordinates), generated.distances)
    burma = build_problem({"name": "tsp", "instance": "burma14"})
    assert burma.coordinates.shape == (14, 2)
    # GEO files hold latitude, longitude: drawn as (longitude, latitude), north up.
    data = tsplib.read_problem(instances_dir / "tsp" / "burma14.tsp")
    assert np.array_equal(burma.coordinates, data.coords[:, ::-1])
    assert build_problem({"name": "tsp", "instance": "gr17"}).coordinates is None  # explicit matrix only
