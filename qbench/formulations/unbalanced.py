"""Unbalanced penalization: inequality constraints without slack variables.

Montanez-Barrera, Willsch, Maldonado-Romo & Michielsen, "Unbalanced penalization: a new approach
to encode inequality constraints of combinatorial problems for quantum optimization algorithms",
Quantum Sci. Technol. 9, 025022 (2024), arXiv:2211.13914. For a constraint written as
``h(x) = b - a.x >= 0`` the minimisation objective gets ``-lambda1 h(x) + lambda2 h(x)^2``: a
quadratic that is small on the feasible side near the boundary and grows fast on the violating
side, so no slack variables are needed (qubits = the problem's binaries). Equality constraints
keep the usual squared penalty. The defaults ``lambda1 = 0.96``, ``lambda2 = 0.0371`` are the
paper's knapsack coefficients (also those of the PennyLane QUBO demo and of dimod's
``add_linear_inequality_constraint(..., penalization_method="unbalanced")``). They are a
heuristic: the QUBO's ground state need not be feasible, nor optimal when feasible.

(dimod implements the same terms on its BQMs, but adds ``-ub`` instead of ``-lambda1 * ub`` to
the offset, so its energies are shifted; the terms are written here on the problem's own model.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qbench.formulations.base import Encoding, Formulation, objective_range_penalty
from qbench.linear_model import LinearModel, identity_encoding
from qbench.params import check
from qbench.problem import Problem


@dataclass(frozen=True)
class UnbalancedParams:
    """``lambda1``, ``lambda2``: the linear and quadratic coefficients of every inequality's
    term; ``equality_penalty``: ``"auto"`` (objective range + 1) or a positive number."""

    lambda1: float = 0.96
    lambda2: float = 0.0371
    equality_penalty: float | str = "auto"

    def __post_init__(self) -> None:
        check(self.lambda1 >= 0, "lambda1", f"must be >= 0, got {self.lambda1}")
        check(self.lambda2 > 0, "lambda2", f"must be positive, got {self.lambda2}")
        if isinstance(self.equality_penalty, str):
            check(self.equality_penalty == "auto", "equality_penalty",
                  f"expected 'auto' or a number, got {self.equality_penalty!r}")
        else:
            check(self.equality_penalty > 0, "equality_penalty", f"must be positive, got {self.equality_penalty}")


class UnbalancedPenalty(Formulation):
    """Slack-free QUBO: unbalanced terms for inequalities, squared penalty for equalities."""

    name = "unbalanced"
    Params = UnbalancedParams

    def __init__(self, params: UnbalancedParams | None = None) -> None:
        self.params = params or UnbalancedParams()

    def encode(self, problem: Problem) -> Encoding:
        qp = problem.to_quadratic_program()
        model = LinearModel.from_program(qp, problem.kind)
        penalty = self.params.equality_penalty
        penalty = objective_range_penalty(qp) if penalty == "auto" else float(penalty)
        # Rows are A x <= b, i.e. h = b - A x = -r with r = A x - b:
        # -l1 h + l2 h^2 = l1 r + l2 r^2.
        m = len(model.ineq_names)
        qubo = model.qubo(
            ineq_linear=np.full(m, self.params.lambda1),
            ineq_square=np.full(m, self.params.lambda2),
            eq_square=penalty,
        )
        return identity_encoding(qubo, self.name, {
            "lambda1": self.params.lambda1,
            "lambda2": self.params.lambda2,
            "equality_penalty": penalty if model.eq_names else None,
        })
