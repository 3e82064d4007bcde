"""Lagrangian dual solvers: bounds on the correct side of brute-force optima (every method, every
problem class), optimum on the default MDKP, qubits = original binaries, bound validity tied to
the inner solver, bad config."""

import numpy as np
import pytest

from qbench.dual import METHODS
from qbench.errors import ConfigError
from qbench.formulations.penalty import PenaltyQubo
from qbench.registry import build_problem
from qbench.solver import SolveContext
from qbench.problems.mdkp import Generator, generate
from qbench.solvers.lagrangian import LagrangianParams, LagrangianSolver
from tests.helpers import brute_force_optimum, run

ALL = sorted(METHODS)


def solve(problem, **params):
    return LagrangianSolver(LagrangianParams(**params)).solve(SolveContext(problem, PenaltyQubo()))


def on_correct_side(bound, optimum, sense) -> bool:
    return bound >= optimum - 1e-9 if sense == "max" else bound <= optimum + 1e-9


GENERATED = [generate(Generator(n_items=n, n_constraints=m, seed=s)) for n, m, s in ((5, 1, 1), (7, 2, 2), (8, 3, 0))]


@pytest.mark.parametrize("method", ALL)
def test_exact_inner_bounds_every_generated_mdkp_from_above(method):
    for problem in GENERATED:
        optimum = brute_force_optimum(problem)
        result = solve(problem, method=method, max_iter=15)
        assert result.info["bound_status"] == "valid"
        assert on_correct_side(result.dual_bound, optimum, "max"), (problem.name, result.dual_bound, optimum)
        assert result.qubits == problem.n_items
        x = np.asarray(result.x)
        assert problem.evaluate(x).feasible and problem.evaluate(x).objective <= optimum + 1e-9
        # Every traced dual value is itself a valid bound (each inner solve was exact).
        assert all(on_correct_side(t["dual_value"], optimum, "max") for t in result.info["trace"])


#: Shipped instances whose exact inner solves take well under a second (verified optima).
SMALL_SHIPPED = [("mis", "1tc.8"), ("mis", "1tc.16"), ("mis", "farm"), ("mis", "mammalia-kangaroo-interactions"),
                 ("mdkp", "pet2"), ("mdkp", "pet3"), ("msp", "ms_03_050_002"), ("msp", "ms_03_200_177")]
#: Generated instances of every class, optima by brute force; market split without an exact split.
SMALL_GENERATED = [{"name": "msp", "generator": {"seed": s}} for s in (0, 29, 1)] + [
    {"name": "qap", "generator": {"seed": 1}}, {"name": "tsp", "generator": {"seed": 2}},
    {"name": "bitalloc"}, {"name": "bitalloc", "generator": {"n_layers": 4, "n_ties": 1, "seed": 3}},
    {"name": "mis", "generator": {"n": 12, "seed": 5}},
]


def _assert_bounds_hold(problem, optimum):
    for method in ALL:
        result = solve(problem, method=method, max_iter=10)
        assert result.info["bound_status"] == "valid"
        assert on_correct_side(result.dual_bound, optimum, problem.sense), (problem.name, method, result.dual_bound)
        assert all(on_correct_side(t["dual_value"], optimum, problem.sense) for t in result.info["trace"])


@pytest.mark.slow
@pytest.mark.parametrize("kind,name", SMALL_SHIPPED)
def test_every_method_bounds_every_small_shipped_instance(instances_dir, kind, name):
    problem = build_problem({"name": kind, "instance": name, **({"index": None} if kind == "mdkp" else {})})
    assert problem.reference.proven
    _assert_bounds_hold(problem, problem.reference.value)


@pytest.mark.slow
@pytest.mark.parametrize("spec", SMALL_GENERATED, ids=lambda s: f"{s['name']}-{s.get('generator', {})}")
def test_every_method_bounds_generated_instances_of_every_class(spec):
    problem = build_problem(spec)
    _assert_bounds_hold(problem, brute_force_optimum(problem))


def test_market_split_bound_is_the_least_squared_violation():
    # QOBLIB's objective has no constraints to dualise: the relaxation is the problem itself.
    for seed, optimum in ((0, 4), (29, 8), (1, 16)):
        problem = build_problem({"name": "msp", "generator": {"seed": seed}})
        assert solve(problem).dual_bound == optimum


@pytest.mark.slow
@pytest.mark.parametrize("method", ALL)
def test_pet2_bound_is_above_the_verified_optimum(instances_dir, method):
    problem = build_problem({"name": "mdkp", "instance": "pet2", "index": None})
    result = solve(problem, method=method, max_iter=10)
    assert result.dual_bound >= problem.reference.value - 1e-6
    assert problem.evaluate(result.x).feasible


@pytest.mark.parametrize("method", ALL)
def test_default_mdkp_optimum_with_six_qubits(method):
    record = run("problem=mdkp", "solver=lagrangian", f"solver.method={method}", "progress=false")
    assert record.status == "ok", record.error
    assert record.raw_feasible and record.raw_objective == pytest.approx(record.reference) and record.raw_gap == 0
    assert record.qubits == 6 == record.variables
    info = record.solver_info
    assert info["slack_formulation_qubits"] == record.qubo_variables > 6
    assert record.dual_bound >= record.reference
    assert info["inner_solves"] == info["iterations"] == len(info["trace"])
    first = info["trace"][0]
    assert first["multipliers"] == [0.0, 0.0] and first["bound_valid"]


def test_mis_bound_is_above_alpha(instances_dir):
    problem = build_problem({"name": "mis", "instance": "1tc.8"})
    for method in ("subgradient", "cutting_plane"):
        result = solve(problem, method=method, max_iter=10)
        assert result.dual_bound >= problem.reference.value - 1e-9
        assert result.qubits == 8 and problem.evaluate(result.x).feasible


def test_heuristic_inner_gives_an_estimate_not_a_bound():
    problem = GENERATED[0]
    result = solve(problem, method="subgradient", inner="sa", inner_params={"num_reads": 20, "num_sweeps": 100}, max_iter=3)
    assert result.dual_bound is None and result.info["bound_status"] == "estimate"
    assert result.info["dual_estimate"] is not None
    assert not any(t["bound_valid"] for t in result.info["trace"])


def test_same_seed_same_result():
    a, b = (solve(GENERATED[1], method="bundle", max_iter=8) for _ in range(2))
    assert a.info["trace"] == b.info["trace"] and np.array_equal(a.x, b.x)


@pytest.mark.parametrize("inner,message", [
    ("nope", "solver.inner: unknown solver 'nope'"),
    ("scip", "solver.inner: 'scip' does not solve a QUBO"),
    ("lagrangian", "solver.inner: 'lagrangian' cannot be an inner solver"),
])
def test_bad_inner_solver_is_a_one_line_error(inner, message):
    record = run("problem=mdkp", "solver=lagrangian", f"solver.inner={inner}", "progress=false")
    assert record.status == "error" and record.error.startswith(message)


def test_bad_parameters_name_the_field():
    record = run("problem=mdkp", "solver=lagrangian", "solver.method=newton", "progress=false")
    assert record.status == "error" and "solver.method" in record.error and "bundle" in record.error
    record = run("problem=mdkp", "solver=lagrangian", "+solver.inner_params.maxiter=0", "solver.inner=qaoa")
    assert record.status == "error" and "maxiter" in record.error


def test_inner_maxiter_applies_to_variational_inner_solvers_only():
    from qbench.inner import build_inner_solver

    assert build_inner_solver("qaoa", {}, {"maxiter": 20}).params.maxiter == 20
    assert build_inner_solver("qaoa", {"maxiter": 7}, {"maxiter": 20}).params.maxiter == 7
    assert not hasattr(build_inner_solver("exact", {}, {"maxiter": 20}).params, "maxiter")


@pytest.mark.parametrize("inner,cls,base", [("ws_qaoa", "WarmStartQaoa", "qaoa"), ("cvar_vqe", "CvarVqe", "vqe")])
def test_inner_solver_config_is_composed_with_the_config_it_extends(inner, cls, base):
    """``ws_qaoa`` and ``cvar_vqe`` extend ``qaoa`` and ``vqe`` through Hydra's defaults list;
    as inner solvers they get the same settings as the run's own ``solver=`` would, both
    outside and inside an initialised Hydra (a running app)."""
    from hydra import initialize_config_dir

    from qbench.inner import build_inner_solver
    from qbench.registry import CONF_DIR, build_component
    from tests.helpers import compose_config

    as_run_solver = build_component(compose_config(f"solver={inner}").solver, "solver")
    solver = build_inner_solver(inner)
    assert type(solver).__name__ == cls and solver.params == as_run_solver.params
    assert solver.params.reps == build_component(compose_config(f"solver={base}").solver, "solver").params.reps
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        assert build_inner_solver(inner, {"reps": 1}).params.reps == 1


@pytest.mark.slow
@pytest.mark.parametrize("inner", ["ws_qaoa", "cvar_vqe"])
def test_lagrangian_with_an_inherited_inner_solver(inner):
    record = run("problem=mdkp", "solver=lagrangian", f"solver.inner={inner}", "solver.max_iter=2",
                 "solver.inner_maxiter=4", "+solver.inner_params.optimizer=Powell",
                 "+solver.inner_params.reps=1", "progress=false")
    assert record.status == "ok", record.error
    info = record.solver_info
    assert info["inner"] == inner and info["inner_solves"] == info["iterations"] == 2
    assert info["bound_status"] == "estimate" and record.qubits == 6
