"""A qbench :class:`~qbench.backends.base.Backend` presented as a Qiskit ``BaseSamplerV2``.

Library code that takes a SamplerV2 (qiskit-optimization's ``MagicRounding``) can then run on
any qbench backend, with the backend's transpilation, noise, seeds and counters. Each PUB is a
circuit ending in ``measure_all`` (one classical register over all qubits); it is prepared on
the backend and sampled with ``Backend.sample``, so every PUB costs one compilation: fine for a
few circuits, slow for thousands (batch those as parameter sets of one circuit instead).
"""

from __future__ import annotations

import numpy as np
from qiskit.primitives import BaseSamplerV2, DataBin, PrimitiveResult, SamplerPubResult
from qiskit.primitives.containers import BitArray
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.primitives.primitive_job import PrimitiveJob

from qbench.backends.base import Backend


class BackendSampler(BaseSamplerV2):
    """SamplerV2 over a qbench backend (see the module docstring)."""

    def __init__(self, backend: Backend, default_shots: int = 1024) -> None:
        self.backend = backend
        self.default_shots = int(default_shots)

    def run(self, pubs, *, shots: int | None = None) -> PrimitiveJob:
        coerced = [SamplerPub.coerce(pub, shots or self.default_shots) for pub in pubs]
        job = PrimitiveJob(self._run, coerced)
        job._submit()
        return job

    def _run(self, pubs: list[SamplerPub]) -> PrimitiveResult:
        return PrimitiveResult([self._run_pub(pub) for pub in pubs], metadata={"version": 2})

    def _run_pub(self, pub: SamplerPub) -> SamplerPubResult:
        circuit = pub.circuit
        if len(circuit.cregs) != 1 or circuit.cregs[0].size != circuit.num_qubits:
            raise ValueError("BackendSampler runs circuits measured with measure_all only")
        register = circuit.cregs[0].name
        unmeasured = circuit.remove_final_measurements(inplace=False)
        prepared = self.backend.prepare(unmeasured)
        values = pub.parameter_values
        if unmeasured.num_parameters:
            rows = values.as_array(unmeasured.parameters).reshape(-1, unmeasured.num_parameters)
        else:
            rows = np.zeros((int(np.prod(values.shape, dtype=int)), 0))
        samples = self.backend.sample(prepared, rows, pub.shots)
        arrays = [BitArray.from_bool_array(s.bits.astype(bool), order="little") for s in samples]
        shape = values.shape
        bits = arrays[0] if shape == () else BitArray.concatenate([a.reshape((1,) + a.shape) for a in arrays]).reshape(shape)
        return SamplerPubResult(DataBin(**{register: bits}, shape=shape), metadata={"shots": pub.shots})
