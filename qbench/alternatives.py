"""What to run instead when a circuit does not fit its backend.

A :class:`~qbench.errors.QubitCapacityError` says how many qubits were refused and which qubit
counts would fit; this adds the backend settings that lift the limit and the qubit-compressing
solvers (PCE, QRAO, with their default settings) whose circuits for this QUBO would fit, never
the solver already in use, so the one-line refusal names only things that would run.
"""

from __future__ import annotations

from collections.abc import Callable

from qbench.errors import QubitCapacityError
from qbench.qubo import Qubo


def compressed_qubits(qubo: Qubo) -> dict[str, int]:
    """Qubits PCE and QRAO (default settings) need for ``qubo``."""
    from qbench.solvers.pce import PceParams, pce_qubits
    from qbench.solvers.qrao import QraoParams, qrao_qubits

    return {
        "pce": pce_qubits(qubo, PceParams()),
        "qrao": qrao_qubits(qubo, QraoParams().max_vars_per_qubit),
    }


def with_alternatives(error: QubitCapacityError, qubo: Qubo | None, in_use: set[str]) -> str:
    """``error``'s message followed by what would fit instead (``qubo``: the run's QUBO, if known)."""
    return f"{error}; " + instead(qubo, error.num_qubits, error.fits, in_use, error.backend_hints)


def instead(qubo: Qubo | None, num_qubits: int, fits: Callable[[int], bool], in_use: set[str],
            backend_hints: tuple[str, ...] = ()) -> str:
    """"use ..." naming ``backend_hints`` and the compressing solvers (not in ``in_use``) whose
    qubit count for ``qubo`` is below ``num_qubits`` and ``fits``; or says that none would."""
    options = list(backend_hints)
    if qubo is not None:
        for name, qubits in compressed_qubits(qubo).items():
            if name not in in_use and qubits < num_qubits and fits(qubits):
                options.append(f"solver={name} ({qubits} qubits)")
    if not options:
        return "neither PCE nor QRAO would fit either"
    return "use " + (" or ".join(options) if len(options) <= 2 else
                     ", ".join(options[:-1]) + " or " + options[-1])
