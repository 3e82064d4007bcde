"""The variational core: Aer energies against exact state vectors, CVaR, optimizers, determinism."""


import numpy as np
import pytest
from qiskit.quantum_info import Statevector
from scipy.optimize import rosen

from qbench.ansatz import hardware_efficient, qaoa_layout
from qbench.backends.aer import AerBackend
from qbench.qubo import Qubo
from qbench.qubo_cost import DiagonalCost, cvar, normalisation
from qbench.variational import OptimizerSettings, minimize
from tests.helpers import run


def random_qubo(n, seed):
    rng = np.random.default_rng(seed)
    return Qubo(rng.integers(-5, 6, n).astype(float), np.triu(rng.integers(-3, 4, (n, n)), 1).astype(float), 2.0)


def exact_energy(circuit, x, qubo):
    probabilities = Statevector(circuit.assign_parameters(x)).probabilities()
    return float(probabilities @ qubo.all_energies())


@pytest.mark.parametrize("variant", ["standard", "multi_angle", "warm_start"])
def test_aer_qaoa_energies_match_exact_state_vector(variant):
    qubo = random_qubo(6, 1)
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    warm = np.linspace(0.4, 2.6, 6) if variant == "warm_start" else None
    layout = qaoa_layout(cost.circuit_hamiltonian, 3, multi_angle=variant == "multi_angle", warm_angles=warm)
    backend = AerBackend()
    prepared = backend.prepare(layout.circuit)
    points = np.random.default_rng(2).uniform(0, np.pi, (5, layout.num_parameters))
    values = backend.cost(prepared, cost, points)
    for x, value in zip(points, values):
        assert value == pytest.approx(exact_energy(layout.circuit, x, qubo), abs=1e-8)
    assert backend.evaluations == 5


def test_aer_vqe_energy_matches_exact_state_vector():
    qubo = random_qubo(5, 3)
    cost = DiagonalCost(qubo)
    circuit = hardware_efficient(5, reps=2)
    backend = AerBackend()
    prepared = backend.prepare(circuit)
    x = np.random.default_rng(0).uniform(0, 2 * np.pi, circuit.num_parameters)
    assert backend.cost(prepared, cost, x)[0] == pytest.approx(exact_energy(circuit, x, qubo), abs=1e-8)


def test_sampled_cvar_converges_to_exact_cvar():
    qubo = random_qubo(4, 5)
    cost = DiagonalCost(qubo, alpha=0.3)
    circuit = hardware_efficient(4, reps=1)
    x = np.random.default_rng(1).uniform(0, 2 * np.pi, circuit.num_parameters)
    exact = cvar(qubo.all_energies(), Statevector(circuit.assign_parameters(x)).probabilities(), 0.3)
    backend = AerBackend().seeded(7)
    sampled = backend.cost(backend.prepare(circuit), cost, x, shots=200_000)[0]
    assert sampled == pytest.approx(exact, abs=0.05 * max(1.0, abs(exact)))


def test_cvar_counts_the_boundary_state_fractionally():
    values, probs = np.array([5.0, 1.0, 3.0]), np.array([0.5, 0.2, 0.3])
    assert cvar(values, probs, 0.2) == pytest.approx(1.0)
    assert cvar(values, probs, 0.4) == pytest.approx((0.2 * 1 + 0.2 * 3) / 0.4)
    assert cvar(values, probs, 1.0) == pytest.approx(values @ probs)


@pytest.mark.parametrize("name", ["COBYLA", "Powell", "L-BFGS-B", "SLSQP", "SPSA", "Nelder-Mead"])
def test_named_optimizers_minimise_and_trace(name):
    result = minimize(lambda x: float(((x - 0.3) ** 2).sum()), np.zeros(2), OptimizerSettings(name, 300), seed=1)
    assert result.fun < 1e-2
    assert result.evaluations == len(result.trace) <= 320
    assert min(result.trace) == result.fun


@pytest.mark.parametrize("name", ["COBYLA", "Nelder-Mead"])
def test_a_budget_inside_the_initial_simplex_is_raised_and_noted(name):
    # COBYLA would raise maxiter to n + 2 itself, silently, and return a point of its first
    # simplex; Nelder-Mead would stop inside it. Either way nothing would be optimised.
    raised = minimize(lambda x: float((x**2).sum()), np.ones(10), OptimizerSettings(name, 11))
    assert raised.budget_note.startswith("solver.maxiter raised from 11 to 12: ")
    assert 11 < raised.evaluations <= 12
    enough = minimize(lambda x: float((x**2).sum()), np.ones(10), OptimizerSettings(name, 12))
    assert enough.budget_note is None and enough.evaluations <= 12


@pytest.mark.parametrize("name", ["COBYLA", "Powell", "L-BFGS-B", "SLSQP", "Nelder-Mead"])
def test_the_optimizers_verdict_is_recorded(name):
    quadratic = lambda x: float(((x - 0.3) ** 2).sum())  # noqa: E731
    assert minimize(quadratic, np.zeros(2), OptimizerSettings(name, 300)).success is True
    exhausted = minimize(rosen, np.array([-1.2, 1.0, -1.2, 1.0]), OptimizerSettings(name, 6))
    assert exhausted.success is False and exhausted.message
def test_optimizers_run_on_one_blas_thread():
    # On busy cores OpenBLAS threads spin against each other: SLSQP with 210 parameters took
    # 3-6 s on two threads and 0.1 s on one. SciPy's own OpenBLAS counts too.
    from threadpoolctl import threadpool_info

    seen = []

    def objective(x):
        seen.append({info["filepath"]: info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"})
        return float(((x - 0.3) ** 2).sum())

    minimize(objective, np.zeros(3), OptimizerSettings("SLSQP", 20))
    assert seen and all(threads == 1 for entry in seen for threads in entry.values())
    assert any("scipy" in path for path in seen[0])


TINY = ("problem.generator.n_items=3", "problem.generator.n_constraints=1", "problem.generator.max_weight=3", "progress=false")


def test_same_seed_same_result_with_sampling():
    # Powell: 15 evaluations are inside COBYLA's first simplex on these 30 parameters.
    overrides = ("solver=cvar_vqe", *TINY, "solver.optimizer=Powell", "solver.maxiter=15", "solver.shots=200",
                 "solver.final_shots=500")
    first, second = run(*overrides), run(*overrides)
    assert first.status == second.status == "ok", first.error
    assert first.solver_info["trace"] == second.solver_info["trace"]
    assert first.solution == second.solution
    other = run(*overrides, "seed=1")
    assert other.solver_info["trace"] != first.solver_info["trace"]


@pytest.mark.parametrize("solver", ["qaoa", "ws_qaoa", "ma_qaoa", "vqe", "cvar_vqe"])
def test_record_has_quantum_fields(solver):
    extra = ("solver.shots=300",) if solver == "cvar_vqe" else ()
    # 10 evaluations are inside COBYLA's first simplex of these solvers' parameters.
    extra += ("solver.optimizer=Powell",) if solver in ("ma_qaoa", "vqe", "cvar_vqe") else ()
    record = run(f"solver={solver}", *TINY, *extra, "solver.maxiter=10", "solver.final_shots=300", "solver.reps=1")
    assert record.status == "ok", record.error
    info = record.solver_info
    assert record.qubits == record.qubo_variables
    assert info["logical_depth"] > 0 and info["transpiled_depth"] > 0 and info["two_qubit_gates"] > 0
    assert info["circuit_evaluations"] >= info["optimizer_evaluations"] >= 1
    assert info["total_shots"] >= 300
    assert len(info["trace"]) == info["optimizer_evaluations"] <= 10
    assert info["optimizer_success"] in (True, False) and info["optimizer_message"]
    assert 0 <= info["feasible_probability"] <= 1 and info["optimal_probability"] is not None
    assert {"transpile", "execute", "optimise"} <= set(record.times)


def test_ma_qaoa_with_cobyla_below_its_parameters_plus_two_gets_the_budget_it_needs():
    record = run("solver=ma_qaoa", *TINY, "solver.maxiter=10", "solver.final_shots=300", "solver.reps=1")
    assert record.status == "ok", record.error
    info = record.solver_info
    minimum = len(info["initial_parameters"]) + 2
    assert minimum > 12 and info["optimizer_evaluations"] == minimum
    assert info["optimizer_budget_note"].startswith(f"solver.maxiter raised from 10 to {minimum}: COBYLA")