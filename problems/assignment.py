"""The permutation-matrix structure QAP and TSP share: variables, constraints, objective, repair.

Both classes decide an n x n 0/1 matrix ``X`` with ``X[i, p] = 1`` iff row object ``i`` (a
facility, a city) sits in column slot ``p`` (a location, a tour position), and ``X`` must be a
permutation matrix. Some cells may be fixed in advance (TSP fixes city 0 at position 0); the
decision vector is then the free cells only, in row-major order, named ``x[i,p]`` with the
original labels. Constraint groups are ``row[i]`` (each object placed once) and ``col[p]`` (each
slot filled once), so per-group penalty factors apply to them by name.

Both objectives are quadratic assignment forms, ``f(X) = sum_{i,j,p,q} A[i,j] B[p,q] X[i,p]
X[j,q]`` (TSP: ``A`` = distances, ``B`` = the directed cycle of positions), i.e. ``x^T kron(A, B)
x`` on the row-major vector of ``X``; :class:`AssignmentLayout` folds the fixed cells into
linear terms and a constant, once, for the QP and for evaluating any (also infeasible) ``x``.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field

import numpy as np
from qiskit_optimization import QuadraticProgram
from scipy.optimize import linear_sum_assignment

from qbench.problem import Problem

#: Weight that makes the Hungarian repair keep fixed cells as they are.
_FIXED_WEIGHT = 1e9


@dataclass(frozen=True)
class AssignmentLayout:
    """An n x n assignment with some cells fixed; maps decision vectors to matrices and back.

    ``fixed`` maps ``(i, p)`` to 0 or 1; the fixed ones must themselves be consistent with some
    permutation (checked), and every other cell is a binary decision variable.
    """

    n: int
    fixed: dict[tuple[int, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ones = [cell for cell, value in self.fixed.items() if value == 1]
        rows, cols = [i for i, _ in ones], [p for _, p in ones]
        if len(set(rows)) != len(rows) or len(set(cols)) != len(cols):
            raise ValueError("fixed ones must lie in distinct rows and columns")
        free = np.ones((self.n, self.n), dtype=bool)
        for i, p in self.fixed:
            free[i, p] = False
        object.__setattr__(self, "_free", free)
        object.__setattr__(self, "_cells", [tuple(c) for c in np.argwhere(free).tolist()])
        base = np.zeros((self.n, self.n))
        for cell, value in self.fixed.items():
            base[cell] = value
        object.__setattr__(self, "_base", base)

    @classmethod
    def with_fixed_ones(cls, n: int, ones: list[tuple[int, int]]) -> AssignmentLayout:
        """Fix the given cells to 1 and, as a permutation requires, the rest of their rows and
        columns to 0."""
        fixed: dict[tuple[int, int], int] = {}
        for i, p in ones:
            for k in range(n):
                fixed[(i, k)] = 0
                fixed[(k, p)] = 0
        for cell in ones:
            fixed[cell] = 1
        return cls(n, fixed)

    @property
    def cells(self) -> list[tuple[int, int]]:
        """``(i, p)`` of every decision variable, in decision-vector order."""
        return self._cells

    @property
    def num_variables(self) -> int:
        return len(self._cells)

    def names(self) -> list[str]:
        return [f"x[{i},{p}]" for i, p in self._cells]

    def matrix(self, x: np.ndarray) -> np.ndarray:
        """The full n x n matrix of a decision vector (fixed cells filled in)."""
        x = np.asarray(x, dtype=float).ravel()
        if x.shape != (self.num_variables,):
            raise ValueError(f"expected {self.num_variables} values, got shape {x.shape}")
        full = self._base.copy()
        full[self._free] = x
        return full

    def vector(self, matrix: np.ndarray) -> np.ndarray:
        """The decision vector of a full matrix (its free cells)."""
        return np.asarray(matrix)[self._free].astype(np.int8)

    def from_permutation(self, perm: np.ndarray) -> np.ndarray:
        """Decision vector of the permutation ``perm[i] = p``."""
        full = np.zeros((self.n, self.n), dtype=np.int8)
        full[np.arange(self.n), np.asarray(perm)] = 1
        return self.vector(full)

    def violation(self, x: np.ndarray) -> float:
        """``sum_i |row sum_i - 1| + sum_p |col sum_p - 1|`` of the full matrix (0 iff feasible
        for 0/1 values, since fixed cells never break a row or column on their own)."""
        full = self.matrix(x)
        return float(np.abs(full.sum(axis=1) - 1).sum() + np.abs(full.sum(axis=0) - 1).sum())

    def permutation(self, x: np.ndarray) -> np.ndarray | None:
        """``perm[i] = p`` when ``x`` (0/1) is a permutation matrix consistent with the fixed
        cells, else ``None``."""
        full = self.matrix(np.asarray(x).round())
        if np.any((full != 0) & (full != 1)) or self.violation(self.vector(full)) > 0:
            return None
        return full.argmax(axis=1)

    def add_to_program(self, qp: QuadraticProgram) -> list[str]:
        """Add the binaries and the ``row[i]`` / ``col[p]`` one-hot equalities to ``qp``.

        A row or column whose cells are all fixed has no constraint; otherwise the right-hand
        side is 1 minus its fixed ones. Returns the variable names.
        """
        names = self.names()
        for name in names:
            qp.binary_var(name)
        index = {cell: name for cell, name in zip(self._cells, names)}
        for axis, group in ((0, "row"), (1, "col")):
            for k in range(self.n):
                cells = [(k, m) if axis == 0 else (m, k) for m in range(self.n)]
                terms = {index[c]: 1 for c in cells if c in index}
                if terms:
                    rhs = 1 - sum(self.fixed.get(c, 0) for c in cells)
                    qp.linear_constraint(terms, "==", rhs, f"{group}[{k}]")
        return names

    def quadratic_form(self, a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """``sum A[i,j] B[p,q] X[i,p] X[j,q]`` over the decision vector, as
        ``(constant, linear, upper)`` with ``upper`` strictly upper triangular (binaries: x^2 = x).
        """
        q = np.kron(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
        free = self._free.ravel()
        ones = self._base.ravel() == 1
        q_ff = q[np.ix_(free, free)]
        constant = float(q[np.ix_(ones, ones)].sum())
        linear = q[np.ix_(free, ones)].sum(axis=1) + q[np.ix_(ones, free)].sum(axis=0) + np.diag(q_ff)
        upper = np.triu(q_ff, 1) + np.tril(q_ff, -1).T
        return constant, linear, upper

    def repair(self, x: np.ndarray) -> np.ndarray:
        """The permutation matrix agreeing most with ``x`` (Hungarian method): maximises the sum
        of ``x`` over the chosen cells, so every 1 of ``x`` that can stay does, while fixed cells
        keep their values."""
        weights = self.matrix(np.clip(np.asarray(x, dtype=float), 0.0, 1.0))
        for cell, value in self.fixed.items():
            weights[cell] = _FIXED_WEIGHT if value == 1 else -_FIXED_WEIGHT
        rows, cols = linear_sum_assignment(weights, maximize=True)
        perm = np.empty(self.n, dtype=int)
        perm[rows] = cols
        return self.from_permutation(perm)

    def shares_line(self, u: int, v: int) -> bool:
        """Whether decision variables ``u`` and ``v`` lie in one row or one column."""
        (i, p), (j, q) = self._cells[u], self._cells[v]
        return i == j or p == q


def add_objective(qp: QuadraticProgram, layout: AssignmentLayout, a: np.ndarray, b: np.ndarray) -> None:
    """Set ``qp``'s objective to minimise the quadratic assignment form of ``a`` and ``b``."""
    constant, linear, upper = layout.quadratic_form(a, b)
    names = layout.names()
    rows, cols = np.nonzero(upper)
    qp.minimize(
        constant=constant,
        linear={names[k]: float(linear[k]) for k in np.flatnonzero(linear)},
        quadratic={(names[r], names[c]): float(upper[r, c]) for r, c in zip(rows, cols)},
    )


class AssignmentProblem(Problem):
    """A :class:`Problem` whose decision vector is an :class:`AssignmentLayout`'s free cells.

    Provides repair and the tie rule; subclasses provide ``layout``.
    """

    @property
    @abstractmethod
    def layout(self) -> AssignmentLayout:
        """Which cells of the n x n matrix are decision variables (and which are fixed)."""

    def repair(self, x: np.ndarray) -> np.ndarray:
        """Hungarian repair: the permutation matrix closest to ``x`` (see :meth:`AssignmentLayout.repair`)."""
        return self.layout.repair(x)

    def forbids_tie(self, i: int, j: int, same: bool) -> bool:
        """Equating two variables of one row or column would put two ones in it."""
        return same and self.layout.shares_line(i, j)
