"""Which implementation of the state-vector kernels runs a state of a given size: NumPy twins
(:mod:`qbench.backends.sv_numpy`) on small states, the numba kernels' serial twins on mid-sized
ones, the parallel numba kernels (:mod:`qbench.backends.sv_kernels`) on large ones."""

from __future__ import annotations

from types import ModuleType, SimpleNamespace

from qbench.backends import sv_kernels as kernels
from qbench.backends import sv_numpy

#: States of fewer qubits than this run on plain NumPy (:mod:`qbench.backends.sv_numpy`, and
#: QAOA layouts on :class:`~qbench.backends.sv_gpu.ArrayQaoaEngine` with ``xp=numpy``), so that a
#: small run compiles no numba kernel: with an empty numba cache, compiling the kernels of a
#: 14-qubit QAOA run took 34 s of its 37 s here. Measured (one QAOA p = 3 energy, integer costs,
#: CPU time, medians): NumPy vs numba 0.5 vs 0.04 ms at 10 qubits, 1.0 vs 0.09 at 12, 3.4 vs 0.33
#: at 14, 6.4 vs 0.7 at 15, 13 vs 1.2 at 16: from 16 qubits a run's evaluations outweigh loading
#: the compiled kernels from numba's cache (about a second per process).
NUMPY_BELOW = 16

#: Below this many qubits a state is evolved by the kernels' serial twins (``sv_kernels.SERIAL``):
#: dispatching a parallel region costs more than the work, and on a loaded machine a thread
#: barrier can stall for milliseconds (measured, one QAOA p = 2 energy, medians: n = 16 1.2 ms
#: serial vs 2.1-2.4 ms parallel on two threads; n = 17-18 either way by turns; n = 20 19 vs
#: 12-17 ms).
SERIAL_BELOW = 18


def kernels_for(size: int) -> ModuleType | SimpleNamespace:
    """The kernel set for a state of ``size`` amplitudes: NumPy twins on small states (nothing
    to compile), the serial numba twins on mid-sized ones, the parallel kernels from
    :data:`SERIAL_BELOW` qubits."""
    if size < 1 << NUMPY_BELOW:
        return sv_numpy
    kernels.vector_layer()
    return kernels.SERIAL if size < 1 << SERIAL_BELOW else kernels


def module_for(size: int) -> ModuleType:
    """The kernels that have no serial twin (diagonals, tables, CVaR) for a state of ``size``
    amplitudes: their NumPy twins on small states, else :mod:`~qbench.backends.sv_kernels`."""
    if size < 1 << NUMPY_BELOW:
        return sv_numpy
    kernels.vector_layer()
    return kernels
