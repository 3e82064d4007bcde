"""``ibm``: IBM Quantum hardware through qiskit-ibm-runtime's primitives, in a Session or Batch.

Which primitives: qiskit-ibm-runtime 0.50 deprecated ``SamplerV2`` and ``EstimatorV2`` (their
constructors warn: "The SamplerV2 class is deprecated ... `qiskit_ibm_runtime.executor_sampler.
Sampler` provides a new Sampler implementation that runs all the pre- and post-processing in the
client side"; the top-level names are to point at the new ones). This backend is built on those
successors, ``qiskit_ibm_runtime.executor_sampler.Sampler`` and
``qiskit_ibm_runtime.executor_estimator.Estimator``: they implement the same primitives V2
interface (``BaseSamplerV2``/``BaseEstimatorV2``, PUBs in, ``PrimitiveResult`` out), accept a
backend, ``Session`` or ``Batch`` as ``mode``, and support local testing mode.

Credentials: ``QISKIT_IBM_TOKEN`` (with ``QISKIT_IBM_INSTANCE`` and ``QISKIT_IBM_CHANNEL``, or
``backend.instance`` / ``backend.channel``) from the environment, else the account saved with
``QiskitRuntimeService.save_account``. A token is never a config value; it is registered with
:mod:`qbench.secrets`, which masks it in log records and in every error this module raises.

Local testing mode (``backend.local_testing=fake_brisbane``): the primitives get a fake device
as ``mode`` (and the Session/Batch is opened on it), so qiskit-ibm-runtime itself runs the
program on Aer with the device's noise model; the code path is the hardware one without a
service connection or credentials.

Error handling knobs (documented primitive options): ``resilience_level`` (Estimator: 0 none,
1 readout mitigation (TREX), 2 plus zero-noise extrapolation), ``dynamical_decoupling`` with
``dd_sequence`` (Sampler and Estimator), ``max_execution_time``.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qbench import secrets
from qbench.backends.base import run_estimator, run_sampler
from qbench.backends.ibm_device import DeviceBackend, fake_device
from qbench.errors import ConfigError
from qbench.params import check

TOKEN_ENV, INSTANCE_ENV, CHANNEL_ENV = "QISKIT_IBM_TOKEN", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_CHANNEL"
Channel = Literal["ibm_quantum_platform", "ibm_cloud"]

MISSING_CREDENTIALS = (
    f"backend=ibm needs IBM Quantum credentials: set {TOKEN_ENV} (and {INSTANCE_ENV}, optionally "
    f"{CHANNEL_ENV}) or save an account once with QiskitRuntimeService.save_account(token=..., "
    "instance=...); to test without them use backend.local_testing=fake_brisbane"
)


@dataclass(frozen=True)
class IbmParams:
    """``device``: backend name (``None`` = the least busy operational device);
    ``channel``/``instance``: IBM Quantum channel and instance (default: the environment or the
    saved account); ``mode``: ``session`` (iterative work, reserved device), ``batch``
    (independent jobs) or ``job``; ``local_testing``: a fake device name to run in
    qiskit-ibm-runtime's local testing mode instead of on hardware; ``optimization_level``,
    ``seed_transpiler``: ISA compilation (``None`` = the run seed); ``resilience_level``:
    Estimator error mitigation 0-2; ``dynamical_decoupling``, ``dd_sequence``: DD on idle
    qubits; ``max_execution_time``: seconds of device time per job (``None`` = service default)."""

    device: str | None = None
    channel: Channel | None = None
    instance: str | None = None
    mode: Literal["session", "batch", "job"] = "session"
    local_testing: str | None = None
    optimization_level: int = 2
    seed_transpiler: int | None = None
    resilience_level: Literal[0, 1, 2] = 1
    dynamical_decoupling: bool = False
    dd_sequence: Literal["XX", "XpXm", "XY4"] = "XX"
    max_execution_time: int | None = None

    def __post_init__(self) -> None:
        check(0 <= self.optimization_level <= 3, "optimization_level", f"must be 0..3, got {self.optimization_level}")
        check(self.seed_transpiler is None or self.seed_transpiler >= 0, "seed_transpiler",
              f"must be >= 0, got {self.seed_transpiler}")
        check(self.max_execution_time is None or self.max_execution_time > 0, "max_execution_time",
              f"must be positive, got {self.max_execution_time}")


def saved_accounts_file() -> Path:
    """Where ``QiskitRuntimeService.save_account`` keeps accounts (under the current home)."""
    return Path.home() / ".qiskit" / "qiskit-ibm.json"


def connect(params: IbmParams):
    """A ``QiskitRuntimeService`` from the environment's token or the saved account.

    Every token involved is registered as a secret before any call that might echo it.
    """
    from qiskit_ibm_runtime import QiskitRuntimeService

    token = os.environ.get(TOKEN_ENV) or None
    channel = params.channel or os.environ.get(CHANNEL_ENV) or "ibm_quantum_platform"
    instance = params.instance or os.environ.get(INSTANCE_ENV) or None
    saved = saved_accounts_file()
    if token:
        secrets.register(token)
        options: dict[str, Any] = {"channel": channel, "token": token, "instance": instance}
    elif saved.is_file():
        with secrets.guarded(f"reading the saved IBM Quantum account {saved}"):
            for account in QiskitRuntimeService.saved_accounts(filename=str(saved)).values():
                secrets.register(account.get("token"))
        options = {"channel": channel, "instance": instance, "filename": str(saved)}
    else:
        raise ConfigError(MISSING_CREDENTIALS)
    from qiskit_ibm_runtime.accounts import AccountNotFoundError

    try:
        with secrets.guarded("connecting to IBM Quantum"):
            return QiskitRuntimeService(**options)
    except AccountNotFoundError:
        raise ConfigError(MISSING_CREDENTIALS) from None


class IbmBackend(DeviceBackend):
    """IBM Quantum hardware (or local testing mode) through the runtime primitives V2."""

    name = "ibm"
    Params = IbmParams
    exact_expectations = False

    def __init__(self, params: IbmParams | None = None) -> None:
        super().__init__(params)
        self._mode = None
        if self.params.local_testing:
            self.service = None
            self.device = fake_device(self.params.local_testing, "backend.local_testing")
        else:
            self.service = connect(self.params)
            with secrets.guarded("looking up the IBM Quantum device"):
                if self.params.device:
                    self.device = self.service.backend(self.params.device)
                else:
                    self.device = self.service.least_busy(operational=True, simulator=False)
        atexit.register(self.close)

    # -- execution mode ---------------------------------------------------------------------------
    def execution_mode(self):
        """The Session or Batch (opened on first use) or, in ``job`` mode, the device itself."""
        if self.params.mode == "job":
            return self.device
        if self._mode is None:
            from qiskit_ibm_runtime import Batch, Session

            with secrets.guarded(f"opening an IBM Quantum {self.params.mode}"):
                self._mode = (Session if self.params.mode == "session" else Batch)(backend=self.device)
        return self._mode

    def close(self) -> None:
        if self._mode is not None:
            mode, self._mode = self._mode, None
            with secrets.guarded(f"closing the IBM Quantum {self.params.mode}"):
                mode.close()

    def info(self) -> dict:
        info = {**super().info(), "execution_mode": self.params.mode,
                "local_testing": self.params.local_testing is not None,
                "resilience_level": self.params.resilience_level,
                "dynamical_decoupling": self.params.dd_sequence if self.params.dynamical_decoupling else None}
        if self.service is not None:
            info["channel"] = self.service.channel
        if self._mode is not None and getattr(self._mode, "session_id", None):
            info["session_id"] = self._mode.session_id
        return info

    # -- primitives -----------------------------------------------------------------------------
    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "dynamical_decoupling": {
                "enable": self.params.dynamical_decoupling, "sequence_type": self.params.dd_sequence,
            },
            # Only local testing mode simulates; the seed keeps it reproducible (ignored on hardware).
            "simulator": {"seed_simulator": self.next_seed()},
        }
        if self.params.max_execution_time is not None:
            options["max_execution_time"] = self.params.max_execution_time
        return options

    def _estimate(self, isa: QuantumCircuit, observables: list[SparsePauliOp], parameters: np.ndarray) -> np.ndarray:
        from qiskit_ibm_runtime.executor_estimator import Estimator

        shots = self.default_shots
        options = {**self._options(), "resilience_level": self.params.resilience_level, "default_shots": shots}
        with secrets.guarded(f"estimating on {self.device.name}"):
            values = run_estimator(Estimator(mode=self.execution_mode(), options=options), isa, observables, parameters)
        # Counted as requested per measurement basis; mitigation may spread them over twirled copies.
        self.count_estimator_shots(observables, parameters, shots)
        return values

    def _sample(self, isa: QuantumCircuit, parameters: np.ndarray, shots: int) -> list[np.ndarray]:
        from qiskit_ibm_runtime.executor_sampler import Sampler

        with secrets.guarded(f"sampling on {self.device.name}"):
            return run_sampler(Sampler(mode=self.execution_mode(), options=self._options()), isa, parameters, shots)
