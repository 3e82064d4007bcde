"""The IBM backends: ``fake_ibm`` (fake device, ISA compilation, noise model on Aer) and ``ibm``
(runtime primitives in a Session/Batch), the latter through qiskit-ibm-runtime's local testing
mode; credentials handling and token redaction.

Most runs use the 5-qubit fake_manila (its noise model builds in well under a second); one
end-to-end run uses the default 127-qubit fake_brisbane.
"""

import json
import logging

import numpy as np
import pytest
import qiskit_ibm_runtime
from qiskit import QuantumCircuit

from qbench.backends.ibm_device import fake_device, fake_device_names
from qbench.backends.ibm_fake import FakeIbmBackend, FakeIbmParams
from qbench.backends.ibm_runtime import MISSING_CREDENTIALS
from qbench.records import write_record
from tests.helpers import run

TINY = ("solver=qaoa", "problem.generator.n_items=3", "problem.generator.n_constraints=1",
        "problem.generator.max_weight=3", "progress=false", "solver.reps=1")
FAST = (*TINY, "solver.maxiter=4", "solver.shots=200", "solver.final_shots=400")
MANILA = ("backend=fake_ibm", "backend.device=fake_manila")
LOCAL = ("backend=ibm", "backend.local_testing=fake_manila")
FAKE_TOKEN = "qbench-test-token-7f3a9c1e5b"


@pytest.fixture(autouse=True)
def _fresh_secrets(monkeypatch):
    """Each test starts with no registered secrets (the registry is process-wide)."""
    from qbench import secrets

    monkeypatch.setattr(secrets, "_secrets", set())


@pytest.mark.slow
def test_fake_ibm_default_device_runs_qaoa_end_to_end():
    record = run(*TINY, "backend=fake_ibm", "solver.maxiter=4", "solver.shots=200", "solver.final_shots=300")
    assert record.status == "ok", record.error
    info = record.solver_info
    assert info["device"] == "fake_brisbane" and info["device_qubits"] == 127
    assert "ecr" in info["basis_gates"] and "measure" not in info["basis_gates"]
    assert info["two_qubit_gates"] > 0
    assert info["transpiled_depth"] > info["logical_depth"]
    assert info["physical_qubits"] == record.qubits == 5
    assert info["total_shots"] == 200 * info["optimizer_evaluations"] + 300
    # The tiny instance has 32 states; 300 noisy shots contain its optimum (reference proven by SCIP).
    assert record.reference_proven and record.raw_feasible and record.raw_gap == 0


def test_samples_come_from_the_noisy_routed_circuit_in_logical_bit_order():
    # A triangle of CNOTs on a line-shaped device forces routing; ideal output q0=1, q1=1, q2=0.
    circuit = QuantumCircuit(3)
    circuit.x(0)
    circuit.cx(0, 1)
    circuit.cx(0, 2)
    circuit.cx(1, 2)
    circuit.cx(2, 0)
    backend = FakeIbmBackend(FakeIbmParams(device="fake_manila", optimization_level=1)).seeded(3)
    prepared = backend.prepare(circuit)
    (samples,) = backend.sample(prepared, np.zeros((1, 0)), 4000)
    unique, probabilities = samples.distribution()
    best = unique[np.argmax(probabilities)]
    assert best.tolist() == [1, 1, 0]
    assert 0.7 < probabilities.max() < 0.995  # mostly right, but the noise model acts
    assert prepared.metrics.two_qubit_gates > 4  # routing added SWAPs


@pytest.mark.slow
def test_noise_restricted_to_active_qubits_gives_the_full_models_samples():
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import SamplerV2

    from qbench.backends.base import run_sampler

    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.rx(0.7, 2)
    backend = FakeIbmBackend(FakeIbmParams(device="fake_algiers")).seeded(0)
    measured = backend._measured(backend.prepare(circuit))
    full = AerSimulator.from_backend(backend.device)
    for method in ("density_matrix", "statevector"):
        samples = [run_sampler(SamplerV2.from_backend(sim, seed=11, options={"backend_options": {"method": method}}),
                               measured, np.zeros((1, 0)), 3000)[0]
                   for sim in (backend.simulator(measured), full)]
        assert np.array_equal(samples[0], samples[1])
        assert len(np.unique(samples[0], axis=0)) > 2  # noisy: not only the two GHZ-like outcomes


@pytest.mark.slow
def test_fake_ibm_is_deterministic_for_a_seed():
    first, second, other = run(*FAST, *MANILA), run(*FAST, *MANILA), run(*FAST, *MANILA, "seed=1")
    assert first.status == second.status == other.status == "ok", first.error
    assert first.solver_info["trace"] == second.solver_info["trace"]
    assert first.solution == second.solution
    assert other.solver_info["trace"] != first.solver_info["trace"]


@pytest.mark.slow
def test_ibm_local_testing_mode_matches_fake_ibm_on_the_same_device():
    local, fake = run(*FAST, *LOCAL), run(*FAST, *MANILA)
    assert local.status == "ok", local.error
    info = local.solver_info
    assert info["backend"] == "ibm" and info["local_testing"] is True and info["execution_mode"] == "session"
    assert info["two_qubit_gates"] == fake.solver_info["two_qubit_gates"] > 0
    # The runtime's local mode runs the same ISA circuit on the same noisy Aer simulator and seeds.
    assert info["trace"] == fake.solver_info["trace"]
    assert local.solution == fake.solution and local.feasible


@pytest.mark.slow
def test_ibm_batch_mode_with_dynamical_decoupling_runs():
    record = run(*TINY, *LOCAL, "backend.mode=batch", "backend.dynamical_decoupling=true",
                 "backend.dd_sequence=XY4", "solver.maxiter=4", "solver.shots=100", "solver.final_shots=200")
    assert record.status == "ok", record.error
    assert record.solver_info["execution_mode"] == "batch" and record.solver_info["dynamical_decoupling"] == "XY4"


@pytest.mark.slow
def test_ibm_estimator_with_readout_mitigation_in_local_mode():
    from qiskit.quantum_info import SparsePauliOp

    from qbench.backends.ibm_runtime import IbmBackend, IbmParams

    circuit = QuantumCircuit(2)
    circuit.x(0)
    backend = IbmBackend(IbmParams(local_testing="fake_manila", resilience_level=1)).seeded(0)
    values = backend.estimate(backend.prepare(circuit), [SparsePauliOp("IZ"), SparsePauliOp("ZI")], np.zeros((1, 0)))
    assert values[0, 0] == pytest.approx(-1, abs=0.1) and values[0, 1] == pytest.approx(1, abs=0.1)
    assert backend.shots == backend.default_shots  # one measurement basis (ZZ-diagonal)


@pytest.mark.parametrize("overrides", [("backend=fake_ibm", "backend.device=fake_nowhere"),
                                       ("backend=ibm", "backend.local_testing=fake_nowhere")])
def test_unknown_fake_device_is_one_line_listing_the_names(overrides):
    record = run(*FAST, *overrides)
    assert record.status == "error" and record.error_traceback is None
    assert "\n" not in record.error and "'fake_nowhere'" in record.error
    names = fake_device_names()
    assert len(names) > 30 and {"fake_brisbane", "fake_torino", "fake_manila"} <= set(names)
    assert record.error.endswith(", ".join(names))
    assert fake_device("fake_torino", "x").num_qubits == 133


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    for name in ("QISKIT_IBM_TOKEN", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_CHANNEL", "QISKIT_IBM_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_missing_credentials_is_one_line_saying_how_to_provide_them(no_credentials):
    record = run(*FAST, "backend=ibm")
    assert record.status == "error" and record.error == MISSING_CREDENTIALS
    assert "QISKIT_IBM_TOKEN" in record.error and "save_account" in record.error and "\n" not in record.error


class LeakyService:
    """Stands in for QiskitRuntimeService (no network here): it logs and echoes the token the way
    careless client code could, and hands out a fake device (whose Session runs locally)."""

    received: dict = {}
    fail = False

    def __init__(self, **options):
        LeakyService.received = options
        logging.getLogger("qiskit_ibm_runtime.test").warning("authenticating with token %s", options.get("token"))
        if LeakyService.fail:
            raise PermissionError(f"401 Unauthorized: invalid API token {options.get('token')}\nretry later")
        self.channel = options["channel"]

    def backend(self, name):
        return fake_device("fake_manila", "device")

    def least_busy(self, **filters):
        return fake_device("fake_manila", "device")


@pytest.mark.parametrize("fail", [pytest.param(False, marks=pytest.mark.slow), True])
def test_token_never_reaches_record_or_logs(no_credentials, monkeypatch, caplog, tmp_path, fail):
    monkeypatch.setenv("QISKIT_IBM_TOKEN", FAKE_TOKEN)
    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", LeakyService)
    monkeypatch.setattr(LeakyService, "fail", fail)
    caplog.set_level(logging.DEBUG)
    record = run(*TINY, "backend=ibm", "backend.device=ibm_test", "solver.maxiter=4", "solver.shots=50",
                 "solver.final_shots=100")
    assert LeakyService.received["token"] == FAKE_TOKEN  # the token was really used
    if fail:
        assert record.status == "error" and record.error_traceback is None and "\n" not in record.error
        assert "401 Unauthorized" in record.error and "***" in record.error
    else:
        assert record.status == "ok", record.error
        assert record.solver_info["device"] == "fake_manila" and record.solver_info["channel"] == "ibm_quantum_platform"
    text = write_record(record, tmp_path / "run").read_text()
    assert FAKE_TOKEN not in text and FAKE_TOKEN not in json.dumps(record.config)
    assert "authenticating with token ***" in caplog.text
    assert FAKE_TOKEN not in caplog.text
    for logged in caplog.records:
        assert FAKE_TOKEN not in logged.getMessage()


def test_redaction_covers_logged_tracebacks(caplog):
    from qbench import secrets

    secrets.register(FAKE_TOKEN)
    try:
        raise RuntimeError(f"bad token {FAKE_TOKEN}")
    except RuntimeError:
        logging.getLogger("qbench.test").exception("request failed for %s", FAKE_TOKEN)
    formatted = logging.Formatter().format(caplog.records[-1])
    assert FAKE_TOKEN not in formatted and "bad token ***" in formatted


def test_saved_account_token_is_redacted_too(no_credentials, monkeypatch, caplog):
    saved = no_credentials / ".qiskit" / "qiskit-ibm.json"
    saved.parent.mkdir()
    real = qiskit_ibm_runtime.QiskitRuntimeService
    real.save_account(token=FAKE_TOKEN, instance="crn:test", channel="ibm_quantum_platform", filename=str(saved))

    class SavedLeakyService(LeakyService):
        saved_accounts = staticmethod(real.saved_accounts)

        def __init__(self, **options):
            options["token"] = FAKE_TOKEN  # what the real service reads from the file
            super().__init__(**options)

    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", SavedLeakyService)
    monkeypatch.setattr(LeakyService, "fail", True)
    record = run(*FAST, "backend=ibm")
    assert LeakyService.received["filename"] == str(saved)
    assert record.status == "error" and "***" in record.error and FAKE_TOKEN not in record.to_json()
    assert FAKE_TOKEN not in caplog.text



@pytest.mark.slow
def test_device_qiskit_cannot_compile_for_is_a_one_line_error():
    from qbench.errors import ConfigError

    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    backend = FakeIbmBackend(FakeIbmParams(device="fake_cairo"))  # cx and ecr in mixed directions
    with pytest.raises(ConfigError, match="^fake_ibm: Qiskit cannot compile for fake_cairo: [^\n]*$"):
        backend.prepare(circuit)


def test_a_circuit_larger_than_the_device_is_refused_naming_only_what_fits():
    record = run("solver=qrao", "progress=false", *MANILA)
    assert record.status == "error", "the default MDKP's QRAO needs 10 qubits"
    assert record.error == ("10 qubits do not fit on fake_manila (5 qubits); "
                            "use backend.device with >= 10 qubits or solver=pce (4 qubits)")
