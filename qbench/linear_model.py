"""A problem's constrained model as arrays, in minimisation form, and QUBOs built from it.

Slack-free constraint handling (Lagrangian relaxation, unbalanced penalization) adds terms of
the constraints' left-hand sides straight to the objective, with the original binaries as the
only variables. Both read the model here, once, as ``min g(x) = sign * f(x)`` subject to
``A x <= b`` (``>=`` rows are negated) and ``E x = d``, and build their QUBOs with
:meth:`LinearModel.qubo`, so there is one way of turning such terms into a :class:`Qubo`.

(qiskit-optimization's converters do this for penalties with slack; the Lagrangian needs new
multipliers every iteration, where rebuilding and converting a QuadraticProgram each time would
be slow and would hide the arithmetic the dual bound relies on.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qiskit_optimization import QuadraticProgram
from qiskit_optimization.problems import Constraint

from qbench.errors import ConfigError
from qbench.formulations.base import Encoding
from qbench.problem import Problem
from qbench.qubo import Qubo


@dataclass(frozen=True, eq=False)
class LinearModel:
    """``min offset + c.x + x^T Q x`` (``Q`` symmetric) s.t. ``A x <= b``, ``E x = d``, x binary.

    ``sign`` is +1 for a minimisation problem and -1 for a maximisation one: native objective
    ``f(x) = sign * g(x)``. Row names keep the problem's constraint names.
    """

    names: tuple[str, ...]
    sign: float
    offset: float
    linear: np.ndarray
    quadratic: np.ndarray
    ineq: np.ndarray
    ineq_rhs: np.ndarray
    ineq_names: tuple[str, ...]
    eq: np.ndarray
    eq_rhs: np.ndarray
    eq_names: tuple[str, ...]

    @classmethod
    def from_program(cls, qp: QuadraticProgram, kind: str = "problem") -> LinearModel:
        if qp.get_num_quadratic_constraints():
            raise ConfigError(f"{kind}: quadratic constraints cannot be handled without slack here")
        if qp.get_num_binary_vars() != qp.get_num_vars():
            raise ConfigError(f"{kind}: slack-free methods need an all-binary model")
        sign = 1.0 if qp.objective.sense == qp.objective.sense.MINIMIZE else -1.0
        n = qp.get_num_vars()
        ineq, ineq_rhs, ineq_names, eq, eq_rhs, eq_names = [], [], [], [], [], []
        for c in qp.linear_constraints:
            row = c.linear.to_array().astype(float)
            if c.sense == Constraint.Sense.EQ:
                eq.append(row), eq_rhs.append(float(c.rhs)), eq_names.append(c.name)
            else:
                flip = 1.0 if c.sense == Constraint.Sense.LE else -1.0
                ineq.append(flip * row), ineq_rhs.append(flip * float(c.rhs)), ineq_names.append(c.name)
        return cls(
            names=tuple(v.name for v in qp.variables),
            sign=sign,
            offset=sign * float(qp.objective.constant),
            linear=sign * qp.objective.linear.to_array().astype(float),
            quadratic=sign * np.asarray(qp.objective.quadratic.to_array(symmetric=True), dtype=float),
            ineq=np.array(ineq, dtype=float).reshape(len(ineq), n),
            ineq_rhs=np.array(ineq_rhs, dtype=float),
            ineq_names=tuple(ineq_names),
            eq=np.array(eq, dtype=float).reshape(len(eq), n),
            eq_rhs=np.array(eq_rhs, dtype=float),
            eq_names=tuple(eq_names),
        )

    @classmethod
    def from_problem(cls, problem: Problem) -> LinearModel:
        return cls.from_program(problem.to_quadratic_program(), problem.kind)

    @property
    def num_variables(self) -> int:
        return len(self.names)

    def objective(self, x: np.ndarray) -> float:
        """``g(x)``, the minimisation-form objective."""
        x = np.asarray(x, dtype=float)
        return float(self.offset + self.linear @ x + x @ self.quadratic @ x)

    def ineq_residual(self, x: np.ndarray) -> np.ndarray:
        """``A x - b`` (feasible where every entry is <= 0)."""
        return self.ineq @ np.asarray(x, dtype=float) - self.ineq_rhs

    def eq_residual(self, x: np.ndarray) -> np.ndarray:
        return self.eq @ np.asarray(x, dtype=float) - self.eq_rhs

    def native_objectives(self, xs: np.ndarray) -> np.ndarray:
        """``f(x) = sign * g(x)`` of every row of ``xs``: the native objective wherever the row
        is feasible (see :class:`~qbench.problem.Problem`)."""
        xs = np.asarray(xs, dtype=float)
        values = self.offset + xs @ self.linear
        if np.any(self.quadratic):
            values += np.sum((xs @ self.quadratic) * xs, axis=1)
        return self.sign * values

    def feasible_rows(self, xs: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        """Whether each row of ``xs`` satisfies every row of the model (within ``tol`` relative
        to each right-hand side)."""
        xs = np.asarray(xs, dtype=float)
        ok = np.ones(len(xs), dtype=bool)
        for rows, rhs, equal in ((self.ineq, self.ineq_rhs, False), (self.eq, self.eq_rhs, True)):
            if rows.shape[0]:
                residual = xs @ rows.T - rhs
                slack = tol * np.maximum(1.0, np.abs(rhs))
                ok &= np.all(np.abs(residual) <= slack if equal else residual <= slack, axis=1)
        return ok

    def qubo(
        self,
        ineq_linear: np.ndarray | None = None,
        ineq_square: np.ndarray | None = None,
        eq_linear: np.ndarray | None = None,
        eq_square: np.ndarray | float | None = None,
    ) -> Qubo:
        """The QUBO of ``g(x) + sum_i u_i r_i(x) + sum_i v_i r_i(x)^2`` over the inequality
        residuals ``r = A x - b`` (weights ``ineq_linear``, ``ineq_square``) and likewise over
        the equality residuals ``E x - d`` (``eq_linear``, ``eq_square``; a scalar applies to
        every row). ``x_i^2 = x_i`` folds the diagonal into the linear part."""
        n = self.num_variables
        linear = self.linear.copy()
        full = self.quadratic.copy()
        offset = self.offset
        for rows, rhs, lin, sq in (
            (self.ineq, self.ineq_rhs, ineq_linear, ineq_square),
            (self.eq, self.eq_rhs, eq_linear, eq_square),
        ):
            m = rows.shape[0]
            if m == 0:
                continue
            if lin is not None:
                lin = np.broadcast_to(np.asarray(lin, dtype=float), (m,))
                linear += lin @ rows
                offset -= float(lin @ rhs)
            if sq is not None:
                sq = np.broadcast_to(np.asarray(sq, dtype=float), (m,))
                # v (a.x - b)^2 = v x^T a a^T x - 2 v b a.x + v b^2
                full += (rows.T * sq) @ rows
                linear -= 2 * (sq * rhs) @ rows
                offset += float(sq @ rhs**2)
        return symmetric_to_qubo(linear, full, offset, self.names[:n])


def symmetric_to_qubo(linear: np.ndarray, full: np.ndarray, offset: float, names=()) -> Qubo:
    """``offset + linear.x + x^T full x`` (``full`` symmetric) as a :class:`Qubo` (upper form)."""
    full = np.asarray(full, dtype=float)
    upper = np.triu(full, 1) + np.tril(full, -1).T
    return Qubo(
        linear=np.asarray(linear, dtype=float) + np.diag(full),
        quadratic=upper,
        offset=float(offset),
        names=tuple(names),
    )


def identity_encoding(qubo: Qubo, formulation: str, info: dict | None = None,
                      relaxes_model: bool = False) -> Encoding:
    """An encoding whose bits are the problem's variables (no slack: decoding is the identity);
    ``relaxes_model`` as in :class:`~qbench.formulations.base.Encoding`."""
    return Encoding(
        formulation=formulation,
        qubo=qubo,
        decoder=lambda bits: np.asarray(bits),
        num_original=qubo.num_variables,
        info=dict(info or {}),
        relaxes_model=relaxes_model,
    )
