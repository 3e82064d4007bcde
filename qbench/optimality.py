"""When a QUBO's minimum is the problem's native optimum.

Let ``E`` be a QUBO whose encoding relaxes the canonical model (``Encoding.relaxes_model``:
every feasible ``y`` has an assignment with ``E <= g(y)``, ``g`` the model's objective in
minimisation form) and ``b*`` a proven minimiser of ``E`` decoding to ``x*``. If ``x*`` is
feasible in the model and ``g(x*) <= E(b*)``, then for every feasible ``y``:
``g(x*) <= E(b*) <= E(y's assignment) <= g(y)``, so ``x*`` is optimal in the model, and the
model's optimum is the native one (:mod:`qbench.problem`). For a penalty QUBO this holds exactly
when the minimum is feasible, whatever the penalty; for a Lagrangian relaxation when the minimum
is also complementary (``u . r(x*) = 0``). Anything else is only the QUBO's optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qbench.formulations.base import Encoding
from qbench.problem import GAP_TOLERANCE, Problem


@dataclass(frozen=True)
class Certificate:
    """Whether a QUBO minimum is proven natively optimal, and if not, why (one line)."""

    proven: bool
    note: str


def certify_minimum(problem: Problem, encoding: Encoding, bits: np.ndarray, energy: float) -> Certificate:
    """Check the argument of the module docstring for the proven QUBO minimiser ``bits``."""
    if not encoding.relaxes_model:
        return Certificate(False, f"the {encoding.formulation} QUBO is not a relaxation of the problem's "
                                  "model: its minimum need not be the optimum")
    x = encoding.decode(bits)
    model = problem.to_quadratic_program()
    if not model.is_feasible(x):
        return Certificate(False, "the QUBO minimum violates the problem's constraints (the penalty is too "
                                  "small or the instance is infeasible)")
    value = float(model.objective.evaluate(x))
    tol = GAP_TOLERANCE * max(1.0, abs(value))
    native = problem.evaluate(x).objective
    if abs(native - value) > tol:
        return Certificate(False, f"the native objective {native:g} differs from the model's {value:g}")
    minimising = value if model.objective.sense == model.objective.sense.MINIMIZE else -value
    if minimising > energy + tol:
        return Certificate(False, "the QUBO minimum lies below the objective there (not complementary)")
    return Certificate(True, "the QUBO minimum is feasible and meets the objective: natively optimal")
