"""Qiskit Aer: state vector on CPU (``aer``), matrix product state (``aer_mps``), GPU (``aer_gpu``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager

from qbench.backends.base import Backend, run_estimator, run_sampler
from qbench.errors import ConfigError
from qbench.params import check


@dataclass(frozen=True)
class AerParams:
    """``method``: Aer simulation method; ``device``: CPU or GPU; ``precision``: double or single;
    ``mps_truncation_threshold`` / ``mps_max_bond_dimension``: MPS accuracy controls (0 = none);
    ``optimization_level``: transpiler level for Aer's own target."""

    method: Literal["statevector", "matrix_product_state", "automatic"] = "statevector"
    device: Literal["CPU", "GPU"] = "CPU"
    precision: Literal["double", "single"] = "double"
    mps_truncation_threshold: float = 1e-16
    mps_max_bond_dimension: int = 0
    optimization_level: int = 1

    def __post_init__(self) -> None:
        check(0 <= self.optimization_level <= 3, "optimization_level", "must be 0..3")
        check(self.mps_max_bond_dimension >= 0, "mps_max_bond_dimension", "must be >= 0")
        check(self.mps_truncation_threshold >= 0, "mps_truncation_threshold", "must be >= 0")


class AerBackend(Backend):
    """Noise-free Aer simulation with Aer's primitives V2 (exact expectation values)."""

    name = "aer"
    Params = AerParams
    exact_expectations = True

    def __init__(self, params: AerParams | None = None) -> None:
        super().__init__(params)
        from qiskit_aer import AerSimulator

        options = {"method": self.params.method, "device": self.params.device, "precision": self.params.precision}
        if self.params.method == "matrix_product_state":
            options["matrix_product_state_truncation_threshold"] = self.params.mps_truncation_threshold
            if self.params.mps_max_bond_dimension:
                options["matrix_product_state_max_bond_dimension"] = self.params.mps_max_bond_dimension
        if self.params.device == "GPU" and "GPU" not in AerSimulator().available_devices():
            raise ConfigError(
                "backend.device=GPU: this Aer build has no GPU support (install qiskit-aer-gpu on a "
                "machine with an NVIDIA GPU), or use backend=aer or backend=statevector"
            )
        self.backend_options = options
        self.simulator = AerSimulator(**options)
        self._pass_manager = generate_preset_pass_manager(
            optimization_level=self.params.optimization_level, backend=self.simulator
        )

    @property
    def display_name(self) -> str:
        if self.params.method == "matrix_product_state":
            return "aer_mps"
        return "aer_gpu" if self.params.device == "GPU" else "aer"

    def info(self) -> dict:
        return {"backend": self.display_name, **self.backend_options}

    def memory_required(self, num_qubits: int) -> int | None:
        if self.params.method == "matrix_product_state":
            return None
        amplitude = 16 if self.params.precision == "double" else 8
        return amplitude * 2**num_qubits

    def transpile(self, circuit: QuantumCircuit) -> QuantumCircuit:
        return self._pass_manager.run(circuit)

    def _estimate(self, isa: QuantumCircuit, observables: list[SparsePauliOp], parameters: np.ndarray) -> np.ndarray:
        from qiskit_aer.primitives import EstimatorV2

        estimator = EstimatorV2(options={"backend_options": self.backend_options, "default_precision": 0.0})
        return run_estimator(estimator, isa, observables, parameters, precision=0.0)

    def _sample(self, isa: QuantumCircuit, parameters: np.ndarray, shots: int) -> list[np.ndarray]:
        from qiskit_aer.primitives import SamplerV2

        sampler = SamplerV2(seed=self.next_seed(), options={"backend_options": self.backend_options})
        return run_sampler(sampler, isa, parameters, shots)
