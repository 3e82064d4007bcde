"""The state-vector engine interface: what ``backend=statevector`` asks of a simulator.

An engine turns a circuit into a program once (:meth:`StateVectorEngine.prepare`), evolves the
program's state at a parameter vector (:meth:`~StateVectorEngine.evolve`, which returns the
engine's own handle on the state) and reads results off that state: exact expectation values
of diagonals and Pauli sums, CVaR of a diagonal, probabilities, seeded samples and the complex
vector. Exact gradients (adjoint method) and many parameter sets at once have default
implementations that an engine may replace with faster ones.

Implementations (chosen by :class:`qbench.backends.sv_engines.EngineChoice`):

* :class:`qbench.backends.sv_reference.ReferenceEngine`: plain NumPy, gate by gate, written
  to be read (``backend.engine=reference``);
* :class:`qbench.backends.sv_cpu.KernelEngine`: the numba kernels (NumPy twins on small
  states), the CPU default;
* :class:`qbench.backends.sv_gpu.ArrayQaoaEngine`: QAOA layouts as array expressions on CuPy
  (a CUDA GPU) or NumPy (small states).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from qbench.ansatz import QaoaLayout
from qbench.backends.sv_diagonal import Diagonal
from qbench.backends.sv_program import Observable, PauliSum, Program

#: An engine's handle on the state it evolved (its own type: a complex vector, split parts, a
#: device array); valid until the engine's next :meth:`~StateVectorEngine.evolve`.
State = Any


def inverse_cdf_samples(probabilities: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """``shots`` basis states drawn from ``probabilities`` (2^n of them, not necessarily
    normalised) by inverse CDF, as ``(shots, n)`` int8 bits (column q = qubit q). The vector is
    overwritten with its cumulative sum: sampling adds no 8 bytes per amplitude of its own
    (``Generator.choice(p=...)`` would add 16-24)."""
    cdf = np.cumsum(probabilities, out=probabilities)
    draws = np.searchsorted(cdf, rng.random(shots) * cdf[-1], side="right")
    draws = np.minimum(draws, cdf.shape[0] - 1)
    n = cdf.shape[0].bit_length() - 1
    return ((draws[:, None] >> np.arange(n)) & 1).astype(np.int8)


class StateVectorEngine(ABC):
    """Exact state-vector simulation of QAOA layouts and gate circuits (see the module
    docstring). ``name`` says which engine ran, for the record."""

    name: str

    @abstractmethod
    def prepare(self, circuit: QuantumCircuit, layout: QaoaLayout | None) -> Program:
        """The program that evolves ``circuit``: a QAOA program when ``layout`` (the circuit's
        QAOA structure) is given, else a gate program of the circuit's one- and two-qubit gates
        (a ConfigError names any other instruction)."""

    @abstractmethod
    def evolve(self, program: Program, x: np.ndarray, observe: Diagonal | None = None) -> State:
        """The state of ``program`` at parameters ``x``. ``observe``: a diagonal whose
        expectation is asked for next, which an engine may compute during the evolution."""

    @abstractmethod
    def expectation(self, state: State, observable: Observable) -> float:
        """``<psi|O|psi>`` (exact)."""

    @abstractmethod
    def cvar(self, state: State, diagonal: Diagonal, alpha: float) -> float:
        """The mean of the lowest ``alpha`` of the distribution of ``diagonal``'s values under
        ``|psi|^2``, the boundary value counted in part (:func:`qbench.qubo_cost.cvar`)."""

    @abstractmethod
    def probabilities(self, state: State) -> np.ndarray:
        """``|psi_z|^2`` as a host float64 vector the caller may overwrite (it may be the
        engine's buffer, valid until its next call)."""

    @abstractmethod
    def vector(self, state: State) -> np.ndarray:
        """The state as a host complex vector (it may be the engine's buffer: copy it to keep)."""

    @abstractmethod
    def memory_required(self, num_qubits: int) -> int:
        """Peak bytes of a state of ``num_qubits`` and the engine's working data."""

    def sample(self, state: State, shots: int, rng: np.random.Generator) -> np.ndarray:
        """``shots`` bitstrings drawn from ``|psi|^2`` with ``rng``, ``(shots, n)`` int8."""
        return inverse_cdf_samples(self.probabilities(state), shots, rng)

    def gradient(self, program: Program, x: np.ndarray, observable: PauliSum) -> np.ndarray | None:
        """``d <psi(x)|O|psi(x)> / dx`` where the engine has an exact rule for ``program``;
        ``None`` here (callers then use parameter shift)."""
        return None

    # -- many parameter sets: loops here, batched where an engine has something faster ----------
    def expectations(self, program: Program, parameters: np.ndarray, observables: Sequence[Observable]) -> np.ndarray:
        """:meth:`expectation` of every observable at every row of ``parameters``, shape
        ``(rows, observables)``."""
        values = np.empty((len(parameters), len(observables)))
        for row, x in enumerate(parameters):
            state = self.evolve(program, x)
            values[row] = [self.expectation(state, observable) for observable in observables]
        return values

    def samples(self, program: Program, parameters: np.ndarray, shots: int,
                rngs: Sequence[np.random.Generator]) -> list[np.ndarray]:
        """:meth:`sample` at every row of ``parameters``, row ``k`` drawn with ``rngs[k]``."""
        return [self.sample(self.evolve(program, x), shots, rng) for x, rng in zip(parameters, rngs)]
