"""``fake_ibm``: a noisy IBM device from qiskit-ibm-runtime's fake provider, simulated on Aer.

Circuits are compiled to the device's ISA (its native gates and coupling map) with Qiskit's
preset pass manager, seeded, and run on ``AerSimulator.from_backend(device)``, which carries the
device snapshot's noise model (gate errors, T1/T2 relaxation, readout errors).

Costs come from measured shots (``exact_expectations`` is False), as on hardware: readout
errors only act on measurements, so an expectation value computed inside the simulator would
leave them out. Observables that are not diagonal (:meth:`estimate`) are measured the same way,
in qubit-wise commuting Pauli bases, with Qiskit's ``BackendEstimatorV2`` on the noisy
simulator (``default_shots`` shots per basis); that is what a hardware estimator does without
error mitigation. Every call gets its own seed from the run seed, so a run is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qbench.backends.base import run_estimator, run_sampler
from qbench.backends.ibm_device import DeviceBackend, fake_device
from qbench.params import check


@dataclass(frozen=True)
class FakeIbmParams:
    """``device``: a fake device name (``fake_brisbane``, ``fake_torino``, ...);
    ``optimization_level``: preset pass manager level 0-3; ``seed_transpiler``: seed of the
    layout and routing passes (``None`` = the run seed); ``method``: Aer simulation method."""

    device: str = "fake_brisbane"
    optimization_level: int = 2
    seed_transpiler: int | None = None
    method: Literal["automatic", "statevector", "density_matrix", "matrix_product_state"] = "automatic"

    def __post_init__(self) -> None:
        check(0 <= self.optimization_level <= 3, "optimization_level", f"must be 0..3, got {self.optimization_level}")


class FakeIbmBackend(DeviceBackend):
    """A fake IBM device: ISA compilation plus the device's noise model on Aer."""

    name = "fake_ibm"
    Params = FakeIbmParams
    exact_expectations = False

    def __init__(self, params: FakeIbmParams | None = None) -> None:
        super().__init__(params)
        from qiskit_aer import AerSimulator

        self.device = fake_device(self.params.device, "backend.device")
        self.simulator = AerSimulator.from_backend(self.device, method=self.params.method)

    def memory_required(self, num_qubits: int) -> int | None:
        # Aer simulates only the qubits a circuit touches, not the whole device.
        if self.params.method == "matrix_product_state":
            return None
        return 16 * (4 if self.params.method == "density_matrix" else 2) ** num_qubits

    def info(self) -> dict:
        return {**super().info(), "method": self.params.method, "noise_model": f"{self.device.name} snapshot"}

    def _estimate(self, isa: QuantumCircuit, observables: list[SparsePauliOp], parameters: np.ndarray) -> np.ndarray:
        from qiskit.primitives import BackendEstimatorV2

        precision = 1 / np.sqrt(self.default_shots)
        estimator = BackendEstimatorV2(
            backend=self.simulator, options={"default_precision": precision, "seed_simulator": self.next_seed()},
        )
        values = run_estimator(estimator, isa, observables, parameters)
        # BackendEstimatorV2 runs ceil(1 / precision^2) shots per measurement basis.
        self.count_estimator_shots(observables, parameters, math.ceil(1.0 / precision**2))
        return values

    def _sample(self, isa: QuantumCircuit, parameters: np.ndarray, shots: int) -> list[np.ndarray]:
        from qiskit_aer.primitives import SamplerV2

        sampler = SamplerV2.from_backend(self.simulator, seed=self.next_seed())
        return run_sampler(sampler, isa, parameters, shots)
