"""Every quantum solver on a tiny instance (<= 12 qubits) of every problem class, on the default
backend with a fixed seed: each returns a feasible answer, judged natively by the runner; and
the headline methods reach the proven optimum of MIS 1tc.8 and of the 6-item MDKP. The solvers'
own answers are checked (``raw_*``), not the runner's repair of them."""

import pytest

from tests.helpers import run

#: One tiny instance per class (generated, so SCIP proves each reference in the run).
TINY = {
    "mdkp": ["problem=mdkp", "problem.generator.n_items=4", "problem.generator.n_constraints=1"],
    "mis": ["problem=mis"],
    "tsp": ["problem=tsp"],  # 4 cities, city 0 fixed: 9 qubits
    "qap": ["problem=qap"],  # 3 facilities: 9 qubits
    "msp": ["problem=msp", "problem.generator.cap=5"],  # a 2 x 10 market split that has a split
    "bitalloc": ["problem=bitalloc", "problem.generator.widths=[4,8]", "problem.generator.n_layers=6"],
}

#: Budgets that keep the matrix fast; the methods are unchanged. COBYLA needs parameters + 2
#: evaluations: multi-angle QAOA has up to 2 x (66 + 12 + 12) parameters here, VQE 6 x 12.
SOLVERS = {
    "qaoa": ["solver.maxiter=40"],
    "ws_qaoa": ["solver.maxiter=40"],
    "ma_qaoa": ["solver.maxiter=200"],
    "vqe": ["solver.maxiter=80"],
    "cvar_vqe": ["solver.maxiter=80"],
    "pce": ["solver.maxiter=20", "solver.layers=2"],
    "qrao": ["solver.maxiter=10", "solver.reps=2", "solver.rounding_shots=500"],
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", TINY)
@pytest.mark.parametrize("solver", SOLVERS)
def test_every_solver_is_feasible_on_a_tiny_instance_of_every_class(solver, kind):
    record = run(*TINY[kind], f"solver={solver}", "progress=false", *SOLVERS[solver])
    assert record.status == "ok", record.error
    assert record.qubo_variables <= 12
    assert record.raw_feasible, (record.raw_objective, record.raw_violation)
    assert record.reference_proven and record.raw_gap is not None and record.raw_gap >= 0
    if solver == "pce":  # Pauli correlation encoding: always fewer qubits than variables
        assert record.qubits < record.qubo_variables
    elif solver == "qrao":
        # QRAC packs only variables that share no QUBO term onto one qubit: a constraint's
        # squared penalty couples all its variables, so dense QUBOs do not compress.
        assert record.qubits <= record.qubo_variables
    else:
        assert record.qubits == record.qubo_variables
    assert record.solver_info["circuit_evaluations"] > 0


# PCE's optimum on the same two instances is tested in tests/test_pce.py.
@pytest.mark.parametrize("solver", ["qaoa", "cvar_vqe"])
@pytest.mark.parametrize("instance", [["problem=mis", "problem.instance=1tc.8"], ["problem=mdkp"]])
def test_headline_solvers_reach_the_optimum(instances_dir, solver, instance):
    record = run(*instance, f"solver={solver}", "progress=false")
    assert record.status == "ok", record.error
    assert record.reference_proven
    assert record.raw_feasible and record.raw_objective == record.reference
