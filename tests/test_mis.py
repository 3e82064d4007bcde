"""MIS: loaders, generators, SCIP against the verified optima, QUBO ground state against SCIP."""

import itertools

import networkx as nx
import numpy as np
import pytest

from qbench import instances
from qbench.errors import ConfigError, InputFileError
from qbench.formulations.penalty import PenaltyQubo
from qbench.mip import solve_mip
from qbench.params import build_params
from qbench.registry import build_problem
from qbench.problems.mis import Generator, Mis, Options, clique_cover, from_graph, generate, load
from tests.helpers import run

MIS_NAMES = sorted(instances.manifest("mis"))
#: Vertices, edges (the files' `p` lines) and independence numbers, from the instances' README.
PUBLISHED = {
    "1tc.8": (8, 6, 4), "1tc.16": (16, 22, 8), "1tc.32": (32, 68, 12), "1tc.64": (64, 192, 20),
    "1dc.64": (64, 543, 10), "1et.64": (64, 264, 18), "farm": (17, 39, 10), "karate": (34, 78, 20),
    "ibm32": (32, 90, 13), "mammalia-kangaroo-interactions": (17, 91, 4),
}


def problem(name: str) -> Mis:
    return build_problem({"name": "mis", "instance": name})


def brute_force_alpha(p: Mis) -> int:
    return max(
        int(sum(bits))
        for bits in itertools.product((0, 1), repeat=p.n_vertices)
        if p.evaluate(np.array(bits)).feasible
    )


def test_manifest_is_the_published_set():
    assert set(MIS_NAMES) == set(PUBLISHED)


@pytest.mark.parametrize("name", MIS_NAMES)
def test_every_instance_loads_and_scip_reproduces_its_reference(instances_dir, name):
    p = problem(name)
    n, m, alpha = PUBLISHED[name]
    assert (p.n_vertices, p.n_edges) == (n, m)
    assert p.reference.value == alpha and p.reference.proven
    result = solve_mip(p, time_limit=60)
    assert result.status == "optimal" and result.primal == alpha
    ev = p.evaluate(result.x)
    assert ev.feasible and ev.objective == alpha


@pytest.mark.parametrize("name", ["farm", "karate", "ibm32", "mammalia-kangaroo-interactions"])
def test_qoblib_solutions_are_independent_sets_of_the_reference_size(instances_dir, name):
    p = problem(name)
    assert p.solution is not None
    ev = p.evaluate(p.solution)
    assert ev.feasible and ev.objective == p.reference.value


def test_a_user_copy_without_manifest_match_takes_its_reference_from_the_opt_sol(instances_dir, tmp_path):
    source = instances_dir / "mis"
    (tmp_path / "g.gph").write_text((source / "farm.gph").read_text() + "c edited copy\n")
    (tmp_path / "g.opt.sol").write_text((source / "farm.opt.sol").read_text())
    p = load(tmp_path / "g.gph", Options())
    assert p.name == "g" and p.reference.value == 10 and not p.reference.proven
    assert p.reference.source == "g.opt.sol"


def test_penalty_qubo_has_one_qubit_per_vertex_and_its_ground_state_is_alpha(instances_dir):
    p = problem("1tc.8")
    encoding = PenaltyQubo().encode(p)
    assert encoding.qubits == p.n_vertices and encoding.slack_variables == 0
    energies = encoding.qubo.all_energies()
    x = encoding.decode(np.array([(int(np.argmin(energies)) >> i) & 1 for i in range(8)]))
    assert p.evaluate(x).feasible and p.evaluate(x).objective == 4 == brute_force_alpha(p)


def test_constraints_form_one_edge_group():
    qp = generate(Generator()).to_quadratic_program()
    assert {c.name.split("[")[0] for c in qp.linear_constraints} == {"edge"}
    assert PenaltyQubo().factors(qp) == {"edge": 1.0}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_qubo_ground_state_is_feasible_and_matches_scip(seed):
    overrides = ["problem=mis", f"problem.generator.seed={seed}"]
    exact = run(*overrides, "solver=exact")
    scip = run(*overrides, "solver=scip")
    assert exact.status == scip.status == "ok", (exact.error, scip.error)
    assert exact.qubits is None and exact.qubo_variables == 10
    assert exact.feasible and scip.feasible
    assert exact.objective == scip.objective == exact.reference
    assert exact.objective == brute_force_alpha(generate(Generator(seed=seed)))


def test_named_and_regular_generators():
    petersen = generate(Generator(graph="named", graph_name="petersen"))
    assert (petersen.n_vertices, petersen.n_edges) == (10, 15) and brute_force_alpha(petersen) == 4
    cycle = generate(Generator(graph="named", graph_name="cycle", n=7))
    assert cycle.name == "cycle-n7" and solve_mip(cycle, time_limit=60).primal == 3
    regular = generate(Generator(graph="regular", n=12, degree=3, seed=1))
    assert {d for _, d in regular.graph().degree()} == {3}
    assert regular.n_edges == 18


def test_generators_are_deterministic_per_seed():
    for graph in ("gnp", "regular"):
        a, b, c = (generate(Generator(graph=graph, seed=s)) for s in (5, 5, 6))
        assert a.content_hash() == b.content_hash() != c.content_hash()
    assert generate(Generator()).n_vertices == 10


@pytest.mark.parametrize("field,value,message", [
    ("n", 0, "n: must be >= 1"),
    ("p", 1.5, "p: must be in [0, 1]"),
    ("graph", "tree", "choose one of gnp, regular, named"),
    ("graph_name", "moebius", "graph_name: unknown graph 'moebius'; choose one of complete, cubical"),
    ("degree", "three", "degree: expected an integer"),
])
def test_generator_rejects_bad_parameters(field, value, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        build_params(Generator, {field: value}, "problem.generator")


@pytest.mark.parametrize("values,message", [
    ({"graph": "regular", "n": 5, "degree": 3}, "degree: degree * n must be even, got 3 * 5"),
    ({"graph": "regular", "n": 4, "degree": 4}, "degree: must be < n=4"),
])
def test_regular_generator_rejects_impossible_degrees(values, message):
    with pytest.raises(ConfigError, match=f"^problem.generator.{message.replace('*', r'[*]')}"):
        build_params(Generator, values, "problem.generator")


@pytest.mark.parametrize("text,line,message", [
    ("c x\np edge 3 1\ne 1 4\n", 3, "vertex 4 out of range 1..3"),
    ("p edge 3 1\ne 2 2\n", 2, "self loop on vertex 2"),
    ("p edge 3 1\ne 1 x\n", 2, "vertex: expected an integer, got 'x'"),
    ("p edge 3 1\ne 1\n", 2, "expected 'e u v', got 'e 1'"),
    ("e 1 2\np edge 3 1\n", 1, "edge line before the 'p edge N M' line"),
    ("p edge 3 2\ne 1 2\n", 1, "'p' line declares 2 edges but the file has 1"),
    ("p edge 3 0\np edge 3 0\n", 2, "second 'p' line (the first is line 1)"),
    ("p edge 3\n", 1, "expected 'p edge N M', got 'p edge 3'"),
    ("p edge 3 1\na 1 2\n", 2, "unknown line type 'a'; expected c, p or e"),
])
def test_malformed_edge_files_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.gph"
    path.write_text(text)
    with pytest.raises(InputFileError) as info:
        load(path, Options())
    assert str(info.value) == f"{path}:{line}: {message}"


def test_edge_file_without_p_line(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("c nothing here\n")
    with pytest.raises(InputFileError, match=r"empty.txt: no 'p edge N M' line$"):
        load(path, Options())


@pytest.mark.parametrize("solution,line,message", [
    ("# Objective value = 2\n1\n3\n", 3, "not an independent set: 1 edge(s) inside it, the first 1-3"),
    ("# Objective value = 3\n1\n", 1, "states objective 3 but lists 1 vertices"),
    ("1\n9\n", 2, "vertex 9 out of range 1..4"),
    ("1\n1\n", 2, "vertex 1 listed twice"),
])
def test_malformed_solution_files_name_file_and_line(tmp_path, solution, line, message):
    (tmp_path / "g.gph").write_text("p edge 4 2\ne 1 3\ne 2 4\n")
    path = tmp_path / "g.opt.sol"
    path.write_text(solution)
    with pytest.raises(InputFileError) as info:
        load(tmp_path / "g.gph", Options())
    where = f"{path}:{line}" if line else f"{path}"
    assert str(info.value) == f"{where}: {message}"


def test_both_directions_of_an_edge_count_once(tmp_path):
    path = tmp_path / "two.txt"
    path.write_text("p edge 3 3\ne 1 2\ne 2 1\ne 2 3\n")
    p = load(path, Options())
    assert p.edges == ((0, 1), (1, 2)) and p.describe() == "3 vertices, 2 edges"


def test_evaluation_counts_violated_edges():
    p = from_graph("k3", nx.complete_graph(3))
    ev = p.evaluate(np.array([1, 1, 1]))
    assert (ev.objective, ev.feasible, ev.violation) == (3.0, False, 3.0)
    assert p.evaluate(np.array([0, 1, 0])) == type(ev)(1.0, True, 0.0)
    with pytest.raises(ValueError, match="expected 3 values"):
        p.evaluate(np.array([1, 0]))


def test_clique_cover_covers_every_edge_with_cliques():
    g = nx.gnp_random_graph(30, 0.4, seed=3)
    cover = clique_cover(g)
    covered = set()
    for clique in cover:
        assert all(g.has_edge(a, b) for a, b in itertools.combinations(clique, 2))
        covered |= {frozenset(e) for e in itertools.combinations(clique, 2)}
    assert covered == {frozenset(e) for e in g.edges}
    assert len(cover) < g.number_of_edges()


def test_repair_returns_a_maximal_independent_set():
    rng = np.random.default_rng(0)
    p = generate(Generator(n=14, p=0.35, seed=2))
    g = p.graph()
    for _ in range(20):
        x = p.repair(rng.integers(0, 2, size=14))
        assert p.evaluate(x).feasible
        for v in np.flatnonzero(x == 0):  # every vertex outside has a neighbour inside
            assert any(x[w] for w in g[v])
    assert np.array_equal(p.repair(np.ones(14)), p.repair(np.ones(14)))


def test_repair_drops_the_most_conflicted_vertex_first():
    star = from_graph("star", nx.star_graph(4))  # centre 0, leaves 1..4
    assert star.repair(np.ones(5)).tolist() == [0, 1, 1, 1, 1]


def test_forbids_tie_only_for_equal_adjacent_vertices():
    p = from_graph("path", nx.path_graph(3))
    assert p.forbids_tie(0, 1, same=True) and p.forbids_tie(1, 0, same=True)
    assert not p.forbids_tie(0, 1, same=False)
    assert not p.forbids_tie(0, 2, same=True)


def test_default_run_with_scip_end_to_end():
    record = run("problem=mis", "solver=scip")
    assert record.status == "ok", record.error
    assert record.instance == "gen-gnp-n10-p0.3-s0" and record.feasible and record.gap == 0
    assert record.qubo_variables == 10 and record.variables == 10
    assert record.instance_description.endswith("edges")
