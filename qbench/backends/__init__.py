"""Execution backends: where a solver's circuits run (Aer, noisy IBM devices, IBM hardware,
and the in-process state-vector engine). Each is named by a config in qbench/conf/backend."""

from qbench.backends.base import Backend, CircuitMetrics, PreparedCircuit, Samples

__all__ = ["Backend", "CircuitMetrics", "PreparedCircuit", "Samples"]
