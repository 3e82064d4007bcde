"""PCE: correlators, loss and parameter-shift gradient against exact state vectors, and runs
that must reach the verified optimum (MIS 1tc.8, the default 6-item MDKP) or stay feasible (hp1)."""

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from qbench.backends.aer import AerBackend
from qbench.maxcut import qubo_to_maxcut
from qbench.qubo import Qubo
from qbench.solvers.pce import PceLoss, brickwork, correlators, qubits_needed, regulariser_scale
from tests.helpers import run


def small_qubo(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return Qubo(rng.integers(-4, 5, n).astype(float), np.triu(rng.integers(-3, 4, (n, n)), 1).astype(float), 1.0)


def test_qubit_counts_follow_the_study():
    assert qubits_needed(61, 2) == 7  # hp1: 60 QUBO variables + anchor
    assert qubits_needed(145, 2) == 11  # a 144-variable QAP
    assert qubits_needed(9, 2) == 3 and qubits_needed(10, 2) == 4
    assert qubits_needed(12, 3) == 4  # 3 * C(4, 3) = 12


def test_correlators_are_distinct_k_body_strings_of_three_families():
    ops = correlators(4, 2, 18)
    labels = [op.paulis[0].to_label() for op in ops]
    assert len(set(labels)) == 18
    assert all(sum(ch != "I" for ch in label) == 2 and len(set(label) - {"I"}) == 1 for label in labels)
    assert {ch for label in labels for ch in label} == {"I", "X", "Y", "Z"}
    with pytest.raises(ValueError):
        correlators(3, 2, 10)


@pytest.mark.parametrize("form", ["maxcut", "qubo"])
def test_loss_at_saturated_spins_is_the_energy_of_the_decoded_bits(form):
    qubo = small_qubo()
    maxcut = qubo_to_maxcut(qubo)
    loss = PceLoss(qubo, maxcut, form, alpha=1.0, beta=0.0, nu=regulariser_scale(maxcut))
    nodes = 6 if form == "maxcut" else 5
    rng = np.random.default_rng(3)
    for _ in range(5):
        signs = rng.choice([-1.0, 1.0], nodes)
        bits = loss.decode(signs)
        assert loss.relaxed_energy(signs[None, :])[0] == pytest.approx(qubo.energy(bits))


@pytest.mark.parametrize("form", ["maxcut", "qubo"])
def test_correlators_loss_and_parameter_shift_gradient_match_exact_state_vectors(form):
    qubo = small_qubo()
    maxcut = qubo_to_maxcut(qubo)
    nodes = 6 if form == "maxcut" else 5
    loss = PceLoss(qubo, maxcut, form, alpha=4.5, beta=0.5, nu=regulariser_scale(maxcut))
    ops = correlators(3, 2, nodes)
    circuit = brickwork(3, 2)
    theta = np.random.default_rng(1).uniform(-np.pi, np.pi, circuit.num_parameters)

    def exact(x):
        state = Statevector(circuit.assign_parameters(x))
        return np.array([state.expectation_value(op).real for op in ops])

    backend = AerBackend()
    prepared = backend.prepare(circuit)
    values = backend.estimate(prepared, ops, theta[None, :])[0]
    np.testing.assert_allclose(values, exact(theta), atol=1e-8)
    shifts = np.pi / 2 * np.eye(len(theta))
    shifted = backend.estimate(prepared, ops, np.vstack([theta + shifts, theta - shifts]))
    gradient = (shifted[: len(theta)] - shifted[len(theta):]) / 2 @ loss.gradient(values)
    step = 1e-6
    numeric = [(loss(exact(theta + step * e))[0] - loss(exact(theta - step * e))[0]) / (2 * step) for e in np.eye(len(theta))]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-5)


def test_pce_reaches_the_optimum_of_mis_1tc8_on_three_qubits(instances_dir):
    record = run("solver=pce", "problem=mis", "problem.instance=1tc.8", "progress=false")
    assert record.status == "ok", record.error
    info = record.solver_info
    assert record.qubits == 3 and record.qubo_variables == 8
    assert record.reference_proven and record.raw_feasible and record.raw_objective == record.reference == 4
    assert info["encoded_nodes"] == 9 and info["compression_ratio"] == pytest.approx(8 / 3)
    assert info["raw_feasible"] in (True, False) and info["raw_energy"] >= info["answer_energy"]
    assert info["circuit_evaluations"] > info["optimizer_evaluations"] >= 1
    assert len(info["trace"]) == info["optimizer_evaluations"] and min(info["trace"]) == pytest.approx(info["final_cost"])
    assert {"transpile", "execute", "optimise", "local_search"} <= set(record.times)


def test_pce_reaches_the_optimum_of_the_default_mdkp():
    record = run("solver=pce", "solver.layers=4", "solver.maxiter=60", "progress=false")
    assert record.status == "ok", record.error
    assert record.reference_source.startswith("SCIP") and record.reference_proven
    assert record.qubits == 4 and record.qubo_variables == 14
    assert record.raw_feasible and record.raw_objective == record.reference and record.raw_gap == 0
    info = record.solver_info
    assert info["local_search"] == "triple" and info["raw_objective"] <= record.objective


def test_pce_on_hp1_uses_seven_qubits_and_is_feasible_after_post_processing(instances_dir):
    record = run("solver=pce", "problem.instance=hp1", "solver.layers=2", "solver.maxiter=3", "progress=false")
    assert record.status == "ok", record.error
    assert record.qubo_variables == 60 and record.qubits == 7 <= 8
    assert record.solver_info["encoded_nodes"] == 61
    assert record.raw_feasible


def test_too_few_qubits_is_a_one_line_config_error():
    record = run("solver=pce", "solver.num_qubits=3", "progress=false")
    assert record.status == "error" and record.error_traceback is None
    assert "solver.num_qubits" in record.error and "use >= 4" in record.error
    bad = run("solver=pce", "solver.k=4")
    assert bad.status == "error" and "solver.k" in bad.error


def test_adjoint_and_parameter_shift_gradients_give_the_same_run():
    # backend=statevector differentiates by the adjoint method, backend=aer by parameter shift:
    # the same gradients, so SLSQP takes the same steps to the same answer.
    overrides = ("solver=pce", "solver.layers=2", "solver.maxiter=25", "progress=false")
    adjoint, shifted = run(*overrides), run(*overrides, "backend=aer")
    assert adjoint.status == shifted.status == "ok", (adjoint.error, shifted.error)
    assert adjoint.solver_info["gradient"] == "adjoint" and shifted.solver_info["gradient"] == "parameter_shift"
    for key in ("raw_bitstring", "optimizer_evaluations", "optimizer_iterations"):
        assert adjoint.solver_info[key] == shifted.solver_info[key]
    assert adjoint.solver_info["final_cost"] == pytest.approx(shifted.solver_info["final_cost"], rel=1e-9)
    assert adjoint.solution == shifted.solution and adjoint.objective == shifted.objective
    # An adjoint gradient counts as one evaluation, a parameter-shift one as two per parameter.
    assert adjoint.solver_info["circuit_evaluations"] < shifted.solver_info["circuit_evaluations"]


@pytest.mark.slow
def test_pce_on_hp1_at_the_study_settings_takes_seconds(instances_dir):
    # The comparative study's PCE (k = 2, SLSQP, 100 iterations, triple flips) on 7 qubits;
    # before the compiled gates and the adjoint gradient it took about 8 minutes here.
    record = run("solver=pce", "problem.instance=hp1", "progress=false")
    assert record.status == "ok", record.error
    assert record.feasible and record.solver_info["gradient"] == "adjoint"
    assert record.times["solve"] < 60
