"""What the two IBM backends share: finding a fake device by name, compiling to a device's ISA
with a seeded preset pass manager, measuring the compiled circuit itself, and the device facts
for the record.

Sampling measures the very ISA circuit whose depth and two-qubit gate count are recorded
(measurements are appended on the physical qubits holding the logical ones at the end), rather
than compiling a second, measured copy that the router might lay out differently.
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.circuit import Gate
from qiskit.quantum_info import PauliList, SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager

from qbench.backends.base import Backend, PreparedCircuit
from qbench.errors import ConfigError, QubitCapacityError
from qbench.memory import available_bytes


@cache
def _fake_provider():
    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    with warnings.catch_warnings():
        # Some snapshots warn that their error rates are not representative; they are listed anyway.
        warnings.simplefilter("ignore", UserWarning)
        return FakeProviderForBackendV2()


def fake_device_names() -> list[str]:
    """Names of every fake device qiskit-ibm-runtime ships (read from its fake provider)."""
    return sorted(device.name for device in _fake_provider().backends())


def fake_device(name: str, field: str):
    """The fake device called ``name`` (e.g. ``fake_brisbane``); ``field`` names the config key."""
    for device in _fake_provider().backends():
        if device.name == name:
            return device
    raise ConfigError(f"{field}: unknown fake device {name!r}; choose one of: {', '.join(fake_device_names())}")


def basis_gates(device) -> list[str]:
    """The device's native gates (its target's gate operations, without measure/delay/reset)."""
    return sorted({op.name for op in device.target.operations if isinstance(op, Gate)})


def measured_isa(isa: QuantumCircuit) -> QuantumCircuit:
    """``isa`` with logical qubit ``i`` measured into bit ``i`` of a ``meas`` register, on the
    physical qubit that holds it at the end of the circuit (after routing)."""
    physical_of = isa.layout.final_index_layout() if isa.layout is not None else list(range(isa.num_qubits))
    measured = isa.copy()
    register = ClassicalRegister(len(physical_of), "meas")
    measured.add_register(register)
    for bit, physical in enumerate(physical_of):
        measured.measure(physical, register[bit])
    return measured


def measurement_bases(observables: list[SparsePauliOp]) -> int:
    """How many qubit-wise commuting measurement settings estimating ``observables`` takes
    (how estimators built on sampling group Pauli terms); used to count shots."""
    labels = sorted({label for obs in observables for label in obs.paulis.to_labels()})
    return len(PauliList(labels).group_commuting(qubit_wise=True)) if labels else 0


class DeviceBackend(Backend):
    """A backend compiling for a device target; subclasses set :attr:`device` and have
    ``optimization_level`` and ``seed_transpiler`` parameters (``None`` = the run seed)."""

    device: Any

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self._pass_manager = None
        self._pass_manager_seed: int | None = None

    @property
    def transpiler_seed(self) -> int:
        seed = self.params.seed_transpiler
        return self.seed if seed is None else int(seed)

    def check_qubits(self, num_qubits: int) -> None:
        if num_qubits > self.device.num_qubits:
            size = self.device.num_qubits
            raise QubitCapacityError(
                f"{num_qubits} qubits do not fit on {self.device.name} ({size} qubits)",
                num_qubits,
                fits=lambda qubits: qubits <= size and (self.memory_required(qubits) or 0) <= available_bytes(),
                backend_hints=(f"backend.device with >= {num_qubits} qubits",),
            )
        super().check_qubits(num_qubits)

    def transpile(self, circuit: QuantumCircuit) -> QuantumCircuit:
        if self._pass_manager is None or self._pass_manager_seed != self.transpiler_seed:
            self._pass_manager = generate_preset_pass_manager(
                optimization_level=self.params.optimization_level, backend=self.device,
                seed_transpiler=self.transpiler_seed,
            )
            self._pass_manager_seed = self.transpiler_seed
        from qiskit.transpiler.exceptions import TranspilerError

        try:
            return self._pass_manager.run(circuit)
        except TranspilerError as exc:  # e.g. a device snapshot with gates Qiskit cannot orient
            reason = " ".join(str(exc).split())
            raise ConfigError(f"{self.name}: Qiskit cannot compile for {self.device.name}: {reason}") from None

    def _measured(self, prepared: PreparedCircuit) -> QuantumCircuit:
        if prepared.measured is None:
            prepared.measured = measured_isa(prepared.isa)
        return prepared.measured

    def count_estimator_shots(self, observables: list[SparsePauliOp], parameters: np.ndarray, shots: int) -> None:
        self.shots += shots * len(parameters) * measurement_bases(observables)

    def info(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "device": self.device.name,
            "device_qubits": int(self.device.num_qubits),
            "basis_gates": basis_gates(self.device),
            "optimization_level": self.params.optimization_level,
            "seed_transpiler": self.transpiler_seed,
        }
