"""Qiskit Aer: state vector on CPU (``aer``), matrix product state (``aer_mps``), GPU (``aer_gpu``).

The matrix-product-state method runs with a bond-dimension cap, on a qubit chain ordered by the
circuit's interaction graph, and records what truncation did (:mod:`qbench.backends.mps`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import Target, generate_preset_pass_manager

from qbench.backends.base import Backend, run_estimator, run_sampler
from qbench.backends.mps import QubitOrder, Truncation, chain_positions, diagnose, relabelled
from qbench.errors import ConfigError
from qbench.params import check


@dataclass(frozen=True)
class AerParams:
    """``method``: Aer simulation method; ``device``: CPU or GPU; ``precision``: double or single;
    ``mps_max_bond_dimension``: the MPS bond-dimension cap (0 = none);
    ``mps_truncation_threshold``: each SVD drops the smallest Schmidt coefficients whose squares
    sum below it; ``mps_qubit_order``: the MPS chain order, ``rcm`` (reverse Cuthill-McKee of the
    circuit's two-qubit interactions) or ``none``; ``optimization_level``: transpiler level for
    Aer's own target.

    The MPS defaults bound the cost: on SAC-94 hp1 (60 qubits, dense penalty QUBO) one QAOA p = 1
    evaluation took a few seconds with a cap of 16 and did not finish in 400 s without one."""

    method: Literal["statevector", "matrix_product_state", "automatic"] = "statevector"
    device: Literal["CPU", "GPU"] = "CPU"
    precision: Literal["double", "single"] = "double"
    mps_truncation_threshold: float = 1e-10
    mps_max_bond_dimension: int = 16
    mps_qubit_order: QubitOrder = "rcm"
    optimization_level: int = 1

    def __post_init__(self) -> None:
        check(0 <= self.optimization_level <= 3, "optimization_level", "must be 0..3")
        check(self.mps_max_bond_dimension >= 0, "mps_max_bond_dimension", "must be >= 0")
        check(self.mps_truncation_threshold >= 0, "mps_truncation_threshold", "must be >= 0")


def any_width_target(target: Target) -> Target:
    """``target``'s instructions on any number of qubits. Aer declares 63 qubits for its MPS
    method (a placeholder in qiskit-aer: the method's limit is its bond dimension, not the
    width), and a preset pass manager for that target cannot lower a wider circuit."""
    wide = Target(num_qubits=None)
    for name in target.operation_names:
        wide.add_instruction(target.operation_from_name(name), name=name)
    return wide


class AerBackend(Backend):
    """Noise-free Aer simulation with Aer's primitives V2 (exact expectation values, up to MPS
    truncation).

    With the MPS method the record says what truncation did to the state of the last circuit
    simulated (a variational run's final sampling, at its first parameter set): :meth:`info`
    runs it once more with Aer's MPS log (:func:`qbench.backends.mps.diagnose`), which costs
    one more evaluation."""

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
        self.mps = self.params.method == "matrix_product_state"
        self.chain: list[int] | None = None
        self._last: tuple[QuantumCircuit, np.ndarray] | None = None  # last circuit simulated, first row
        self._diagnosed: tuple[tuple, Truncation] | None = None
        self._pass_manager = generate_preset_pass_manager(
            optimization_level=self.params.optimization_level,
            target=any_width_target(self.simulator.target) if self.mps else None,
            backend=None if self.mps else self.simulator,
        )

    @property
    def display_name(self) -> str:
        if self.params.method == "matrix_product_state":
            return "aer_mps"
        return "aer_gpu" if self.params.device == "GPU" else "aer"

    def info(self) -> dict:
        info = {"backend": self.display_name, **self.backend_options}
        if self.mps:
            info.update(self.mps_info())
        return info

    def mps_info(self) -> dict:
        """Record fields of the MPS method: the chain order, and for the last circuit simulated
        the widest bond, the discarded weight, the fidelity estimate and ``mps_approximate``
        (True when the bond-dimension cap cut its state)."""
        truncation = self.final_truncation()
        facts = {"mps_qubit_order": self.params.mps_qubit_order, "mps_chain_positions": self.chain}
        if truncation is None:
            return facts
        return {
            **facts,
            "mps_approximate": truncation.capped(self.params.mps_max_bond_dimension,
                                                 self.params.mps_truncation_threshold),
            "mps_bond_dimension_reached": truncation.max_bond_dimension,
            "mps_truncations": truncation.truncations,
            "mps_discarded_weight": truncation.discarded_weight,
            "mps_fidelity_estimate": truncation.fidelity_estimate,
        }

    def final_truncation(self) -> Truncation | None:
        """:func:`~qbench.backends.mps.diagnose` of the last circuit simulated, at the first
        parameter set it was simulated with (once per circuit; timed as ``execute``); ``None``
        before any simulation."""
        if self._last is None:
            return None
        if self._diagnosed is None or self._diagnosed[0] is not self._last:
            start = time.perf_counter()
            isa, row = self._last
            circuit = isa.assign_parameters(row) if isa.num_parameters else isa.copy()
            if not circuit.num_clbits:
                circuit.measure_all()
            self._diagnosed = (self._last, diagnose(self.simulator, circuit))
            self.timings["execute"] += time.perf_counter() - start
        return self._diagnosed[1]

    def memory_required(self, num_qubits: int) -> int | None:
        if self.params.method == "matrix_product_state":
            return None
        amplitude = 16 if self.params.precision == "double" else 8
        return amplitude * 2**num_qubits

    def transpile(self, circuit: QuantumCircuit) -> QuantumCircuit:
        isa = self._pass_manager.run(circuit)
        if not self.mps:
            return isa
        # Aer's target has no coupling map, so the preset pass manager keeps qubit i as qubit i;
        # the chain order is applied afterwards as the ISA circuit's layout.
        positions = chain_positions(isa, self.params.mps_qubit_order)
        self.chain = positions.tolist()
        return relabelled(isa, positions)

    def _estimate(self, isa: QuantumCircuit, observables: list[SparsePauliOp], parameters: np.ndarray) -> np.ndarray:
        if self.mps:
            self._last = (isa, parameters[0].copy())
        from qiskit_aer.primitives import EstimatorV2

        estimator = EstimatorV2(options={"backend_options": self.backend_options, "default_precision": 0.0})
        return run_estimator(estimator, isa, observables, parameters, precision=0.0)

    def _sample(self, isa: QuantumCircuit, parameters: np.ndarray, shots: int) -> list[np.ndarray]:
        if self.mps:
            self._last = (isa, parameters[0].copy())
        from qiskit_aer.primitives import SamplerV2

        sampler = SamplerV2(seed=self.next_seed(), options={"backend_options": self.backend_options})
        return run_sampler(sampler, isa, parameters, shots)
