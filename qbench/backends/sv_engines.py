"""Which state-vector engine evolves a circuit of ``backend=statevector``.

``engine=reference``: :class:`~qbench.backends.sv_reference.ReferenceEngine` for everything.
``engine=auto`` (the default), by circuit:

* QAOA layouts on a CUDA GPU through CuPy when one is usable and the state fits in its free
  memory (``device=auto``; ``device=gpu`` refuses otherwise, ``device=cpu`` never asks);
* QAOA layouts of fewer than ``sv_kernel_sets.NUMPY_BELOW`` qubits on NumPy arrays
  (:class:`~qbench.backends.sv_gpu.ArrayQaoaEngine` with ``xp=numpy``: nothing to compile);
* everything else on the numba kernels (:class:`~qbench.backends.sv_cpu.KernelEngine`, which
  runs small gate circuits on the kernels' NumPy twins).
"""

from __future__ import annotations

import numpy as np

from qbench.backends import sv_gpu, sv_kernel_sets, sv_numpy
from qbench.backends.engine import StateVectorEngine
from qbench.backends.sv_cpu import KernelEngine
from qbench.backends.sv_diagonal import DiagonalCache
from qbench.backends.sv_gpu import ArrayQaoaEngine
from qbench.backends.sv_reference import ReferenceEngine
from qbench.errors import ConfigError, ResourceLimitError
from qbench.memory import format_bytes


class EngineChoice:
    """The engines of one backend (sharing one :class:`DiagonalCache`, so that a circuit's cost
    layer and the cost it is measured by share their diagonal) and the choice among them.

    ``engine``: ``auto`` or ``reference``; ``device``: ``auto``, ``cpu`` or ``gpu``; ``dtype``:
    complex128 or complex64; ``block_qubits`` and ``threads``: the numba kernels' memory pass
    and worker threads."""

    def __init__(self, engine: str = "auto", device: str = "auto", dtype=np.complex128, block_qubits: int = 0,
                 threads: int = 1) -> None:
        self.engine = engine
        self.device = device
        self.diagonals = DiagonalCache(numpy_only=engine == "reference")
        self.reference: ReferenceEngine | None = None
        self.cpu: KernelEngine | None = None
        self.small: ArrayQaoaEngine | None = None
        self.gpu: ArrayQaoaEngine | None = None
        if engine == "reference":
            self.reference = ReferenceEngine(self.diagonals, dtype)
            self.device_note = "engine=reference runs on the CPU"
            return
        self.cpu = KernelEngine(self.diagonals, dtype, block_qubits, threads)
        real_dtype = self.cpu.real_dtype
        #: QAOA layouts of fewer than NUMPY_BELOW qubits (when not on a GPU): nothing to compile.
        self.small = ArrayQaoaEngine(np, real_dtype, host=sv_numpy, diagonals=self.diagonals)
        self.gpu, self.device_note = self._gpu_engine(real_dtype)

    def _gpu_engine(self, real_dtype) -> tuple[ArrayQaoaEngine | None, str]:
        """The GPU engine for QAOA layouts and why (or why not)."""
        if self.device == "cpu":
            return None, "device=cpu"
        ok, reason = sv_gpu.gpu_status()
        if not ok:
            if self.device == "gpu":
                raise ConfigError(f"backend.device=gpu: {reason}")
            return None, reason
        import cupy

        return ArrayQaoaEngine(cupy, real_dtype, diagonals=self.diagonals), reason

    @property
    def cpu_engine(self) -> StateVectorEngine:
        """The engine of circuits that run on the CPU (whose memory the backend's guard counts)."""
        return self.reference if self.reference is not None else self.cpu

    def memory_required(self, num_qubits: int) -> int:
        """Host bytes of a state of ``num_qubits`` on the CPU engine."""
        return self.cpu_engine.memory_required(num_qubits)

    def engine_for(self, num_qubits: int, qaoa: bool) -> StateVectorEngine:
        """The engine that evolves a circuit of ``num_qubits`` (a QAOA layout or not)."""
        if self.reference is not None:
            return self.reference
        if qaoa and self._fits_gpu(num_qubits):
            return self.gpu
        if qaoa and num_qubits < sv_kernel_sets.NUMPY_BELOW:
            return self.small
        return self.cpu

    def _fits_gpu(self, n: int) -> bool:
        """Whether a QAOA layout of ``n`` qubits runs on the GPU: its state and working data fit
        in the device's free memory (with device=gpu, one that does not is refused)."""
        if self.gpu is None:
            return False
        needed, free = self.gpu.memory_required(n), self.gpu.free_bytes()
        if free is None or needed <= free:
            return True
        if self.device == "gpu":
            raise ResourceLimitError(f"{n} qubits need about {format_bytes(needed)} on the GPU but only "
                                     f"{format_bytes(free)} is free; use backend.device=cpu")
        return False
