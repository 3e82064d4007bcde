"""A SolverResult's typed facts become the record's solver_info, and reports read them back
through SolverInfo."""

import numpy as np

from qbench.backends.base import BackendUsage, CircuitMetrics
from qbench.formulations.penalty import PenaltyQubo
from qbench.registry import build_problem
from qbench.sampling import select_answer
from qbench.solver import SolverResult
from qbench.solver_info import SolverInfo
from qbench.variational import OptimizationResult, OptimizerRun


def test_record_info_puts_the_typed_facts_first_then_the_methods_own():
    problem = build_problem({"name": "mis"})
    encoding = PenaltyQubo().encode(problem)
    bits = np.zeros((2, encoding.qubits), dtype=np.int8)
    bits[1, 0] = 1
    answer = select_answer(encoding, problem, bits, np.array([0.25, 0.75]))
    optimization = OptimizationResult(x=np.array([0.5]), fun=-1.0, evaluations=3, iterations=2,
                                      trace=[0.0, -1.0, -0.5], seconds=0.1, message="done", success=True)
    result = SolverResult(
        x=answer.x, status="heuristic", info={"reps": 1}, answer=answer,
        circuit=CircuitMetrics(qubits=10, logical_depth=4, transpiled_depth=5, two_qubit_gates=6, physical_qubits=10),
        backend_usage=BackendUsage({"backend": "aer"}, circuit_evaluations=4, total_shots=100),
        optimizer_run=OptimizerRun("COBYLA", optimization, np.array([0.0])),
    )
    info = result.record_info()
    keys = list(info)
    assert keys[:len(answer.info())] == list(answer.info())
    assert keys.index("two_qubit_gates") < keys.index("backend") < keys.index("total_shots") < keys.index("optimizer")
    assert keys[-2:] == ["trace", "reps"]
    assert info["trace"] == [0.0, -1.0, -0.5] and info["initial_parameters"] == [0.0]
    read = SolverInfo.read(info)
    assert read.sampled() is read and read.optimal_probability == answer.optimal_probability
    assert read.two_qubit_gates == 6 and read.value_trace() == [0.0, -1.0, -0.5]
    assert read.iteration_trace() is None


def test_a_classical_result_records_its_own_facts_only():
    result = SolverResult(x=np.zeros(3), status="optimal", info={"nodes": 1})
    assert result.record_info() == {"nodes": 1}


def test_reading_back_an_inner_solvers_samples_and_an_iteration_trace():
    info = SolverInfo.read({"inner": "sa", "inner_info": {"optimal_probability": 0.5, "feasible_probability": 1.0},
                            "trace": [{"iteration": 0, "dual_value": 3.0}, {"iteration": 1, "dual_value": 2.5}]})
    assert info.optimal_probability is None and info.sampled().optimal_probability == 0.5
    assert info.value_trace() == [] and info.iteration_trace()[1]["dual_value"] == 2.5
    assert SolverInfo.read(None).sampled() == SolverInfo() and SolverInfo.read({}).value_trace() is None
