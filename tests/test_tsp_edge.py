"""TSP edge model (problem.model=edge): brute force against the position model and SCIP,
feasibility = Hamiltonian cycle, the QP's subtour rows, QUBO ground states, slack-free solvers,
repair, records, drawing, CLI."""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
from math import comb

import numpy as np
import pytest

from qbench.problems.tsp import Generator, Options, Tsp, generate
from qbench.problems.tsp_edges import MAX_SUBTOUR_ROWS, TspEdges, count_subtour_sets, subtour_sets
from qbench.errors import ResourceLimitError
from qbench.linear_model import LinearModel
from qbench.mip import solve_mip
from qbench.records import read_record, write_record
from qbench.registry import build_problem
from qbench.repair import better
from tests.helpers import repo_root, run


def edge_model(n: int, seed: int = 0, subtours: str = "nonredundant") -> TspEdges:
    return generate(Generator(n=n, seed=seed), Options(model="edge", subtours=subtours))


def edge_index(n: int) -> dict[frozenset, int]:
    """Position of edge {i, j} in the decision vector: lexicographic over i < j."""
    return {frozenset(e): k for k, e in enumerate(itertools.combinations(range(n), 2))}


def cycle_vector(n: int, cycles) -> np.ndarray:
    """The edge vector of vertex-disjoint cycles, each a sequence of cities."""
    index = edge_index(n)
    x = np.zeros(n * (n - 1) // 2, dtype=np.int8)
    for cycle in cycles:
        for a, b in zip(cycle, (*cycle[1:], cycle[0])):
            x[index[frozenset((a, b))]] = 1
    return x


def hamiltonian_cycles(n: int) -> dict[tuple, float]:
    """Every Hamiltonian cycle's edge vector (as a tuple), from the permutations fixing city 0."""
    return {tuple(cycle_vector(n, [(0, *rest)])): 0.0 for rest in itertools.permutations(range(1, n))}


def all_vectors(m: int) -> np.ndarray:
    return np.array(list(itertools.product((0, 1), repeat=m)), dtype=np.int8)


def two_cycle_splits(n: int) -> list[np.ndarray]:
    """Every degree-2 edge set of two cycles (sizes >= 3) covering the n cities."""
    vectors = {}
    for size in range(3, n - 2):
        for s in itertools.combinations(range(n), size):
            rest = [c for c in range(n) if c not in s]
            for a in itertools.permutations(s[1:]):
                for b in itertools.permutations(rest[1:]):
                    x = cycle_vector(n, [(s[0], *a), (rest[0], *b)])
                    vectors[x.tobytes()] = x
    return list(vectors.values())


def position_optimum(n: int, seed: int) -> float:
    p = generate(Generator(n=n, seed=seed))
    return min(p.evaluate(p.layout.from_permutation(np.argsort((0, *rest)))).objective
               for rest in itertools.permutations(range(1, n)))


@pytest.mark.parametrize("n,seed", [(4, 0), (4, 3), (5, 0), (5, 1), (5, 2)])
def test_edge_optimum_by_exhaustion_equals_position_model_and_scip(n, seed):
    p = edge_model(n, seed)
    best = min(e.objective for e in map(p.evaluate, all_vectors(n * (n - 1) // 2)) if e.feasible)
    assert best == position_optimum(n, seed)
    result = solve_mip(p, time_limit=60)
    assert result.status == "optimal" and result.primal == pytest.approx(best)
    assert p.evaluate(result.x).feasible and p.evaluate(result.x).objective == best
    assert result.x.shape == (n * (n - 1) // 2,)


def test_feasible_exactly_on_hamiltonian_cycles_for_five_cities():
    p = edge_model(5)
    tours = hamiltonian_cycles(5)
    assert len(tours) == 12  # 4!/2 distinct undirected tours
    lengths = np.array([p.distances[i, j] for i, j in itertools.combinations(range(5), 2)])
    for x in all_vectors(10):
        e = p.evaluate(x)
        assert e.feasible == (tuple(x) in tours), x
        assert (e.violation == 0) == e.feasible and e.violation >= 0
        assert e.objective == pytest.approx(float(lengths @ x))
        if e.feasible:
            tour = p.tour(x)
            assert tour[0] == 0 and sorted(tour) == list(range(5))
            assert e.objective == pytest.approx(p.tour_length(tour))
            assert np.array_equal(p.layout.from_tour(tour), x)
        else:
            assert p.tour(x) is None


@pytest.mark.parametrize("n", [6, 7])
def test_subtours_are_infeasible_for_evaluate_and_the_qp(n):
    """Six and seven cities are the first with two-cycle covers; the QP must exclude them
    with either subtour choice, and keep every tour."""
    splits = np.array(two_cycle_splits(n))
    assert len(splits) == {6: 10, 7: 105}[n]
    tours = np.array(list(hamiltonian_cycles(n)), dtype=np.int8)
    for subtours in ("nonredundant", "all"):
        p = edge_model(n, subtours=subtours)
        qp = p.to_quadratic_program()
        model = LinearModel.from_program(qp)  # the QP's rows as matrices: A x <= b, E x = d

        def qp_feasible(xs: np.ndarray) -> np.ndarray:
            return (np.all(xs @ model.ineq.T <= model.ineq_rhs, axis=1)
                    & np.all(xs @ model.eq.T == model.eq_rhs, axis=1))

        assert not qp_feasible(splits).any() and qp_feasible(tours).all()
        for x in splits:
            assert not p.evaluate(x).feasible
            assert p.evaluate(x).violation == 2  # degrees fine, two subtours
        for x in tours[:: max(1, len(tours) // 40)]:
            assert p.evaluate(x).feasible
            assert qp.objective.evaluate(x) == pytest.approx(p.evaluate(x).objective)


def test_violation_counts_degrees_and_extra_cycles():
    p = edge_model(6)
    assert p.evaluate(np.zeros(15)).violation == 12
    path = cycle_vector(6, [(0, 1, 2, 3, 4, 5)])
    path[edge_index(6)[frozenset((5, 0))]] = 0
    assert p.evaluate(path).violation == 2  # two ends of degree 1, one component
    # a triangle plus a path through the other three: degrees off by 2, the triangle's excess 1
    x = cycle_vector(6, [(0, 1, 2)])
    x[edge_index(6)[frozenset((3, 4))]] = x[edge_index(6)[frozenset((4, 5))]] = 1
    assert p.evaluate(x).violation == 3


@pytest.mark.parametrize("n", range(3, 13))
def test_subtour_sets_are_the_documented_choice(n):
    everything = [s for k in range(2, n - 1) for s in itertools.combinations(range(n), k)]
    assert list(subtour_sets(n, "all")) == everything
    kept = list(subtour_sets(n, "nonredundant"))
    # one of every complementary pair of the sets with 3 <= |S| <= n-3, the one of <= n/2 cities
    # (at n/2: the one with city 0)
    expected = [s for s in everything if 3 <= len(s) <= n - 3
                and (len(s) < n - len(s) or (len(s) == n - len(s) and 0 in s))]
    assert kept == expected
    assert count_subtour_sets(n, "nonredundant") == len(kept)
    assert count_subtour_sets(n, "all") == len(everything) == 2**n - 2 * n - 2


def test_model_sizes():
    p = edge_model(6)
    qp = p.to_quadratic_program()
    assert p.size() == {"variables": 15, "constraints": 16}
    assert (qp.get_num_vars(), qp.get_num_linear_constraints()) == (15, 16)
    assert qp.get_linear_constraint("subtour[0,1,2]").rhs == 2
    assert qp.get_linear_constraint("degree[3]").rhs == 2
    assert [v.name for v in qp.variables][:3] == ["e[0,1]", "e[0,2]", "e[0,3]"]
    assert edge_model(6, subtours="all").size() == {"variables": 15, "constraints": 56}


def test_too_many_subtour_rows_are_refused_with_one_line():
    p = edge_model(13)
    rows = sum(comb(13, k) for k in range(3, 7))  # 3 <= |S| <= 6 = floor(13/2)
    assert rows > MAX_SUBTOUR_ROWS >= count_subtour_sets(12, "nonredundant")
    with pytest.raises(ResourceLimitError, match=rf"^tsp edge model: 13 cities need {rows} subtour rows"):
        p.to_quadratic_program()
    assert p.size() == {"variables": 78, "constraints": 13 + rows}  # counted, not built


@pytest.mark.parametrize("n,subtours,qubits", [(4, "nonredundant", 6), (5, "nonredundant", 10), (4, "all", 12)])
def test_penalty_qubo_ground_state_is_an_optimal_tour(n, subtours, qubits):
    record = run("problem=tsp", "problem.model=edge", f"problem.generator.n={n}",
                 f"problem.subtours={subtours}", "solver=exact", "repair=none")
    assert record.status == "ok", record.error
    assert record.qubo_variables == qubits
    assert record.raw_feasible and record.raw_objective == position_optimum(n, 0)
    assert len(record.solution) == n * (n - 1) // 2


@pytest.mark.parametrize("n", [5, 6])
def test_lagrangian_with_exact_inner_solver(n):
    record = run("problem=tsp", "problem.model=edge", f"problem.generator.n={n}", "solver=lagrangian",
                 "solver.inner=exact", "solver.method=cutting_plane", "progress=false")
    assert record.status == "ok", record.error
    optimum = position_optimum(n, 0)
    info = record.solver_info
    assert record.qubits == n * (n - 1) // 2
    assert len(info["dualised_constraints"]) == {5: 0, 6: 10}[n]
    assert info["slack_formulation_qubits"] == {5: 10, 6: 35}[n]
    assert record.feasible and record.objective == optimum
    assert record.dual_bound is not None and record.dual_bound <= optimum + 1e-6


def test_unbalanced_formulation_needs_no_slack():
    record = run("problem=tsp", "problem.model=edge", "problem.generator.n=6", "formulation=unbalanced",
                 "solver=exact")
    assert record.status == "ok", record.error
    assert record.qubo_variables == 15


@pytest.mark.parametrize("n,seed", [(4, 1), (5, 0), (6, 2), (7, 3)])
def test_repair_gives_a_tour_never_worse(n, seed):
    p = edge_model(n, seed)
    rng = np.random.default_rng(seed)
    for density in (0.1, 0.3, 0.5, 0.8):
        for _ in range(10):
            x = (rng.random(n * (n - 1) // 2) < density).astype(np.int8)
            y = p.repair(x)
            assert p.evaluate(y).feasible and not better(p.evaluate(x), p.evaluate(y), "min")
            assert np.array_equal(p.repair(x), y)
    for tour in list(hamiltonian_cycles(n))[:20]:
        x = np.array(tour, dtype=np.int8)
        assert np.array_equal(p.repair(x), x)


def test_repair_keeps_the_answers_edges():
    p = edge_model(6)
    triangles = cycle_vector(6, [(0, 1, 2), (3, 4, 5)])
    y = p.repair(triangles)
    assert p.evaluate(y).feasible and int((y & triangles).sum()) == 4  # a tour shares <= 2 with each
    path = cycle_vector(6, [(0, 3, 1, 4, 2, 5)])
    path[edge_index(6)[frozenset((5, 0))]] = 0
    assert np.array_equal(p.repair(path), cycle_vector(6, [(0, 3, 1, 4, 2, 5)]))


def test_forbids_no_tie():
    """Any two edges (sharing a city or not) lie on a common tour of n >= 4 cities."""
    p = edge_model(5)
    assert not any(p.forbids_tie(i, j, same) for i in range(10) for j in range(10) for same in (True, False))


def test_record_holds_the_edge_vector_and_rebuilds(tmp_path):
    record = run("problem=tsp", "problem.model=edge", "problem.generator.n=6", "solver=scip")
    assert record.status == "ok", record.error
    assert record.variables == 15 and record.constraints == 16 and len(record.solution) == 15
    back = read_record(write_record(record, tmp_path))
    problem = build_problem(back.config["problem"])
    assert isinstance(problem, TspEdges) and problem.content_hash() == back.instance_hash
    evaluation = problem.evaluate(np.array(back.solution))
    assert evaluation.feasible and evaluation.objective == back.objective == position_optimum(6, 0)
    # the same instance under the position model: same hash, same optimum
    position = build_problem({**back.config["problem"], "model": "position"})
    assert isinstance(position, Tsp) and position.content_hash() == back.instance_hash

    from qbench.dashboard import drawing

    picture = drawing.draw(problem, back.solution)
    assert picture.caption.startswith("tour 0 -> ") and f"length {back.objective:g}" in picture.caption
    assert list(picture.data["city"][:-1]) == list(problem.tour(np.array(back.solution)))


def test_drawing_of_an_answer_that_is_no_tour():
    from qbench.dashboard import drawing

    p = edge_model(6)
    picture = drawing.draw(p, cycle_vector(6, [(0, 1, 2), (3, 4, 5)]))
    assert picture.caption.startswith("not a tour: 6 edges chosen, 0 cities without degree 2, 2 components")
    assert list(picture.data["degree"]) == [2] * 6
    picture.chart.to_dict()  # a valid Vega-Lite spec


def test_scip_solves_burma14_in_the_edge_model(instances_dir):
    record = run("problem=tsp", "problem.model=edge", "problem.instance=burma14", "solver=scip")
    assert record.status == "ok", record.error
    assert record.objective == record.reference == 3323 and record.feasible
    assert len(record.solution) == 91 and record.qubo_variables is None  # no explicit model
    assert record.constraints == 14 + 8086


@pytest.mark.parametrize("field,value,message", [
    ("model", "edges", "problem.model: 'edges' is not allowed; choose one of position, edge"),
    ("subtours", "some", "problem.subtours: 'some' is not allowed; choose one of nonredundant, all"),
])
def test_bad_option_is_one_line(field, value, message):
    record = run("problem=tsp", f"problem.{field}={value}", "solver=scip")
    assert record.status == "error" and record.error == message


def test_qubit_table_counts_match_the_built_qubos():
    spec = importlib.util.spec_from_file_location("tsp_qubits", repo_root() / "benchmarks" / "tsp_qubits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for n in (4, 5, 6, 7):
        for subtours in ("nonredundant", "all"):
            qubits, built = module.penalty_qubits(edge_model(n, subtours=subtours))
            assert built and qubits == {(4, "nonredundant"): 6, (5, "nonredundant"): 10,
                                        (6, "nonredundant"): 35, (7, "nonredundant"): 91,
                                        (4, "all"): 12, (5, "all"): 40, (6, "all"): 100,
                                        (7, "all"): 245}[(n, subtours)]
    cells = module.row({"name": "tsp", "instance": None, "generator": {"n": 6}})
    assert (cells["position penalty"], cells["edge lagrangian"], cells["edge unbalanced"]) == ("25", "15", "15")


@pytest.mark.slow
def test_cli_run(tmp_path):
    import os
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "qbench", "run", "problem=tsp", "problem.model=edge", "problem.generator.n=5",
         "solver=exact", f"output_root={tmp_path}"],
        capture_output=True, text=True, cwd=repo_root(), timeout=300,
        env={**os.environ, "PYTHONPATH": str(repo_root())},
    )
    assert out.returncode == 0, out.stderr
    assert re.search(rf"objective  {position_optimum(5, 0):g}\b", out.stdout), out.stdout
    assert "5 cities, edge model" in out.stdout
    (path,) = tmp_path.rglob("record.json")
    record = json.loads(path.read_text())
    assert record["feasible"] and record["qubo_variables"] == 10 and len(record["solution"]) == 10
