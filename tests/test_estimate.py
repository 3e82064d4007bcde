"""The cost model: how estimates scale, MPS bond dimensions and memory, QRAO's qubit count, the
decision to skip a run (record status ``skipped``, ``force`` starts it), and ``sweep --dry-run``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from qbench import cost_model as cm
from qbench import estimate, runner
from qbench.ansatz import hardware_efficient
from qbench.params import to_plain
from tests.helpers import compose_config, repo_root


def dense_pairs(n):
    return np.array([(i, j) for i in range(n) for j in range(i + 1, n)])


def qaoa_work(n, reps=3, executions=100):
    shape = cm.CircuitShape.of_pairs(n, dense_pairs(n), reps, 2 * reps)
    return cm.Workload(shape, executions, cost_terms=n + len(dense_pairs(n)))


@pytest.mark.parametrize("n", [23, 24, 25])
def test_state_vector_estimate_doubles_per_qubit(n):
    small, large = (cm.circuit_cost(qaoa_work(k), {"name": "statevector"}) for k in (n, n + 1))
    assert 1.9 < large.seconds / small.seconds < 2.1
    assert large.peak_bytes == 2 * small.peak_bytes == 40 * 2 ** (n + 1)  # complex128 + 24 B working data
    single = cm.circuit_cost(qaoa_work(n), {"name": "statevector", "precision": "single"})
    assert single.peak_bytes == 32 * 2**n


def test_mps_bond_dimension_and_memory():
    # a dense QAOA layer crosses every cut many times: chi is bounded by 2^(n/2) alone
    dense = cm.CircuitShape.of_pairs(40, dense_pairs(40), 1, 2)
    assert dense.bond_dimension(None) == 2**20
    assert dense.bond_dimension(64) == 64
    # a linear ansatz crosses each cut once per entangling layer: chi <= 2^reps
    linear = cm.CircuitShape.of_circuit(hardware_efficient(30, reps=3, entanglement="linear"))
    assert linear.cut_crossings == 3 and linear.bond_dimension(None) == 8 and linear.distance == 1.0
    work = cm.Workload(dense, 10, cost_terms=100)
    for key in ("max_bond_dimension", "mps_max_bond_dimension"):
        capped = cm.circuit_cost(work, {"name": "aer_mps", key: 16})
        assert capped.peak_bytes == 40 * 16**2 * 32 * cm.MPS_MEMORY_FACTOR  # n chi^2 complex pairs
        assert "chi 16 (cap 16)" in capped.basis
    uncapped = cm.circuit_cost(work, {"name": "aer_mps", "mps_max_bond_dimension": 0})
    assert uncapped.peak_bytes == 40 * 2**40 * 32 * cm.MPS_MEMORY_FACTOR and "no cap" in uncapped.basis
    assert uncapped.seconds > 1e4 * capped.seconds


def facts(*overrides):
    config = to_plain(compose_config(*overrides))
    return config, estimate._RunFacts(config).qubo


@pytest.mark.parametrize("overrides", [("problem=mdkp",), ("problem=mis", "problem.instance=1tc.16"),
                                       ("problem=qap", "problem.generator.n=4")])
def test_qrao_qubits_are_the_library_encodings(overrides, instances_dir):
    from qiskit_optimization.algorithms.qrao import QuantumRandomAccessEncoding

    from qbench.solvers.qrao import qrao_qubits, quadratic_program

    _, qubo = facts(*overrides)
    for per_qubit in (1, 2, 3):
        encoding = QuantumRandomAccessEncoding(max_vars_per_qubit=per_qubit)
        encoding.encode(quadratic_program(qubo.qubo))
        assert qrao_qubits(qubo.qubo, per_qubit) == encoding.num_qubits


def test_estimates_name_the_qubits_each_method_uses():
    config, qubo = facts("problem=mdkp", "solver=pce")
    found = estimate.estimate(config)
    assert qubo.qubits == 14 and found.qubits == 4  # 15 Max-Cut nodes in 3 C(4, 2) = 18 correlators
    config, _ = facts("problem=mdkp", "solver=qaoa")
    found = estimate.estimate(config)
    assert found.qubits == 14 and not found.bound and "NumPy QAOA 2 layers" in found.basis
    config, _ = facts("problem=mdkp", "solver=scip", "solver.time_limit=30")
    found = estimate.estimate(config)
    assert found.bound and found.seconds == pytest.approx(30 + cm.RUN_OVERHEAD_S) and found.qubits is None


def test_a_run_estimated_past_its_timeout_is_skipped_not_started():
    cfg = compose_config("problem=mdkp", "solver=sa", "solver.num_reads=100000", "solver.num_sweeps=100000",
                         "timeout_s=60")
    record = runner.execute(cfg)
    assert record.status == "skipped" and record.objective is None
    assert record.error.startswith("estimated ") and "> timeout_s 60 s" in record.error
    assert "force=true" in record.error
    assert record.estimate["seconds"] > 60 and record.estimate["qubits"] is None
    assert "solve" not in record.times  # nothing ran
    assert estimate.estimate(to_plain(cfg)).seconds == pytest.approx(record.estimate["seconds"], rel=1e-3)


def test_a_run_estimated_past_the_memory_is_skipped(monkeypatch):
    monkeypatch.setattr(estimate, "available_bytes", lambda: 100 * 2**20)
    record = runner.execute(compose_config("problem=mdkp", "solver=exact"))
    assert record.status == "skipped" and "peak memory" in record.error and "100 MiB available" in record.error
    record = runner.execute(compose_config("problem=mdkp", "solver=exact", "force=true"))
    assert record.status == "ok" and record.estimate["peak_bytes"] > 100 * 2**20


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "qbench", "run", *args, f"output_root={cwd}", "progress=false"],
                          capture_output=True, text=True, cwd=repo_root(), timeout=300)


@pytest.mark.slow
def test_run_refuses_then_force_starts_it(tmp_path):
    """Skipped: exit 2, one line, a record with status skipped; --force: the run happens."""
    args = ["problem=mdkp", "solver=exact", "timeout_s=0.01"]
    refused = cli(*args, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.startswith("qbench: skipped: estimated ") and "> timeout_s 0.01 s" in refused.stderr
    (path,) = tmp_path.rglob("record.json")
    assert json.loads(path.read_text())["status"] == "skipped"
    forced = cli(*args, "--force", cwd=tmp_path / "forced")
    assert forced.returncode == 0, forced.stderr
    (path,) = (tmp_path / "forced").rglob("record.json")
    record = json.loads(path.read_text())
    assert record["status"] == "ok" and record["estimate"]["seconds"] > 0.01 and record["config"]["force"] is True


@pytest.mark.slow
def test_sweep_dry_run_prints_each_estimate_and_the_totals(tmp_path):
    done = subprocess.run([sys.executable, "-m", "qbench", "sweep", "experiment=smoke", "--dry-run",
                           f"output_root={tmp_path}"], capture_output=True, text=True,
                          cwd=repo_root(), timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    runs = [l for l in lines if l.startswith("  ") and len(l.split()) > 3 and len(l.split()[0]) == 16]
    assert len(runs) == 18 and all(l.split()[2] == "run" for l in runs)
    assert all(" MiB" in l for l in runs) and sum("at most 60" in l for l in runs) == 4  # SCIP: its limit
    assert "estimate of 18 runs" in done.stdout and "18 would start: " in done.stdout
    assert "CPU-hours (4 SCIP runs counted at their time limit" in done.stdout
    assert "0 would be skipped" in done.stdout and "local workers: about " in done.stdout
    assert not list(tmp_path.rglob("record.json"))  # a dry run runs nothing
