"""Methods that choose the next Lagrange multipliers from the cuts collected so far.

The dual is written for the minimisation form ``min g(x) s.t. r(x) = A x - b <= 0``: the dual
function ``d(u) = min_x g(x) + u.r(x)`` is concave, and every inner answer ``x_k`` at ``u_k``
gives the affine over-estimate ``d(u) <= g(x_k) + u.r(x_k)`` (a *cut*, exact at ``u_k`` when
``x_k`` is a proven minimiser) with supergradient ``r(x_k)``. Each method maximises ``d``:

- ``subgradient``: projected supergradient ascent, diminishing steps ``a / sqrt(k+1)`` along the
  normalised direction, or Polyak steps ``theta (target - d_k) / |s_k|^2`` (Polyak 1969);
- ``dual_averaging``: Nesterov's simple dual averaging (2009) of the normalised supergradients;
- ``cutting_plane``: Kelley (1960): maximise the model ``min_k cut_k(u)`` over a box with
  HiGHS (scipy.optimize.linprog);
- ``bundle``: proximal bundle (Lemarechal 1978; Kiwiel 1990): maximise the model minus
  ``|u - centre|^2 / (2 t)``, a QP solved with cvxpy; a *serious* step moves the centre when the
  true increase is at least ``m`` times the predicted one, otherwise a *null* step only adds the cut;
- ``augmented``: the method of multipliers (Hestenes 1969; Powell 1969; Bertsekas 1982):
  equality rows get ``mu.r + rho/2 |r|^2``, their multipliers move by ``rho * residual`` and
  ``rho`` grows when the equality violation does not fall below a quarter of the last one;
  inequality multipliers take subgradient steps.

Coordinates with ``lower = -inf`` are free (equality multipliers), the others are kept
``>= lower``. Each method's ``last`` dict says what it did, for the run's iteration trace.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class Cut:
    """One inner answer: the multipliers it was solved at, its relaxed objective value and the
    constraint residual (the supergradient)."""

    point: np.ndarray
    value: float
    subgradient: np.ndarray

    @property
    def constant(self) -> float:
        """``c`` in the cut's affine form ``c + s.u``."""
        return float(self.value - self.subgradient @ self.point)


@dataclass(frozen=True)
class DualSettings:
    """Numbers the methods share. ``scale``: the problem's multiplier scale (objective units
    per constraint unit) that step sizes are measured in; ``upper``: box of the LP/QP models."""

    scale: float
    upper: float
    step: str = "polyak"
    step_size: float = 1.0
    bundle_m: float = 0.1
    rho: float = 1.0
    rho_growth: float = 2.0
    rho_max: float = 1e6
    tol: float = 1e-6


class MultiplierMethod(ABC):
    name: ClassVar[str]

    def __init__(self, settings: DualSettings, lower: np.ndarray, start: np.ndarray) -> None:
        self.settings = settings
        self.lower = np.asarray(lower, dtype=float)
        self.start = np.maximum(np.asarray(start, dtype=float), self.lower)
        self.cuts: list[Cut] = []
        self.last: dict[str, Any] = {}
        #: Set when the method knows it cannot improve the dual any further.
        self.converged = False

    def project(self, u: np.ndarray) -> np.ndarray:
        return np.maximum(u, self.lower)

    def eq_square(self) -> float | None:
        """Weight of the squared equality residuals, when the method sets it (augmented)."""
        return None

    def next(self, cut: Cut, best_dual: float, target: float | None) -> np.ndarray:
        """The next multipliers after ``cut``; ``best_dual`` is the best dual value so far and
        ``target`` the best primal (minimisation form) known, if any."""
        self.cuts.append(cut)
        self.last = {}
        return self._next(cut, best_dual, target)

    @abstractmethod
    def _next(self, cut: Cut, best_dual: float, target: float | None) -> np.ndarray: ...


def _norm(s: np.ndarray) -> float:
    return float(np.linalg.norm(s))


class Subgradient(MultiplierMethod):
    """Projected supergradient ascent. Polyak's ``theta`` is halved after ``patience`` steps
    without a better dual value (Held, Wolfe & Crowder 1974), which stops the zig-zag between
    two faces of the dual that a fixed ``theta`` keeps up on integer problems."""

    name = "subgradient"
    patience = 3

    def __init__(self, settings, lower, start) -> None:
        super().__init__(settings, lower, start)
        self.theta = settings.step_size
        self.best = -np.inf
        self.stale = 0

    def _next(self, cut, best_dual, target):
        s, k = cut.subgradient, len(self.cuts) - 1
        norm = _norm(s)
        if norm == 0:
            self.converged = True
            return cut.point
        diminishing = self.settings.step_size * self.settings.scale / (np.sqrt(k + 1) * norm)
        if self.settings.step == "polyak":
            if cut.value > self.best + self.settings.tol * max(1.0, abs(self.best)):
                self.best, self.stale = cut.value, 0
            else:
                self.stale += 1
                if self.stale >= self.patience:
                    self.theta, self.stale = self.theta / 2, 0
            # Without a primal value yet, aim a little above the best dual value.
            goal = target if target is not None else best_dual + 0.1 * max(1.0, abs(best_dual))
            step = self.theta * max(goal - cut.value, 0.0) / norm**2
            # Once the target is reached, a diminishing step keeps the iterates moving.
            step = step if step > 0 else diminishing
            self.last = {"step": float(step), "theta": float(self.theta)}
        else:
            step = diminishing
            self.last = {"step": float(step)}
        return self.project(cut.point + step * s)


class DualAveraging(MultiplierMethod):
    name = "dual_averaging"

    def __init__(self, settings, lower, start) -> None:
        super().__init__(settings, lower, start)
        self.total = np.zeros_like(self.start)

    def _next(self, cut, best_dual, target):
        norm = _norm(cut.subgradient)
        if norm == 0:
            self.converged = True
            return cut.point
        self.total = self.total + cut.subgradient / norm
        k = len(self.cuts)
        # u_{k+1} = argmax_u { <sum s_i, u> - beta_k/2 |u - u_0|^2 }, beta_k = sqrt(k) / (a * scale).
        weight = self.settings.step_size * self.settings.scale / np.sqrt(k)
        self.last = {"weight": float(weight)}
        return self.project(self.start + weight * self.total)


class _ModelMethod(MultiplierMethod):
    """Methods that keep the piecewise-linear model ``min_k c_k + s_k.u`` over a box."""

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lower = np.where(np.isfinite(self.lower), self.lower, -self.settings.upper)
        return lower, np.full_like(lower, self.settings.upper)

    def model(self, u: np.ndarray) -> float:
        return min(c.constant + c.subgradient @ u for c in self.cuts)

    def scaled_cuts(self, origin: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, float, float]:
        """The cuts in units where the LP/QP is well scaled (instances' profits range from 10
        to 10^5): ``u = origin + su * v`` and ``value = level + sf * w``. Returns the cuts as
        ``w <= c_k + g_k.v`` (``c``, ``g``) and the units ``su``, ``sf``."""
        su = self.settings.scale
        sf = max(1.0, abs(level))
        c = np.array([(cut.value + cut.subgradient @ (origin - cut.point) - level) / sf for cut in self.cuts])
        g = np.array([cut.subgradient * su / sf for cut in self.cuts])
        return c, g, su, sf


class CuttingPlane(_ModelMethod):
    name = "cutting_plane"

    def _next(self, cut, best_dual, target):
        from scipy.optimize import linprog

        m = cut.point.shape[0]
        if m == 0:
            self.converged = True
            return cut.point
        lower, upper = self.bounds()
        origin = np.zeros(m)
        c, g, su, sf = self.scaled_cuts(origin, best_dual)
        # variables (v, w): maximise w s.t. w - g_k.v <= c_k, with u = su * v in the box.
        a_ub = np.hstack([-g, np.ones((len(c), 1))])
        objective = np.zeros(m + 1)
        objective[-1] = -1.0
        box = [*zip(lower / su, upper / su), (None, None)]
        result = linprog(objective, A_ub=a_ub, b_ub=c, bounds=box, method="highs")
        if result.status != 0:
            raise RuntimeError(f"cutting-plane LP failed: {result.message}")
        model_value = best_dual + sf * float(-result.fun)
        self.last = {"model_value": model_value}
        # The model over-estimates d everywhere: once it meets the best value, u is optimal in the box.
        if model_value - best_dual <= self.settings.tol * max(1.0, abs(best_dual)):
            self.converged = True
        return np.clip(su * np.asarray(result.x[:m]), lower, upper)


class Bundle(_ModelMethod):
    name = "bundle"

    def __init__(self, settings, lower, start) -> None:
        super().__init__(settings, lower, start)
        self.centre: np.ndarray | None = None
        self.centre_value = -np.inf
        self.predicted: float | None = None
        self.t: float | None = None

    def _next(self, cut, best_dual, target):
        import cvxpy as cp

        m = cut.point.shape[0]
        if m == 0:
            self.converged = True
            return cut.point
        if self.centre is None:
            self.centre, self.centre_value = cut.point, cut.value
            norm = _norm(cut.subgradient)
            # t in multiplier^2 per objective unit: a first step of about `scale` multiplier units.
            self.t = self.settings.step_size * self.settings.scale / max(norm, 1e-12)
            step = "start"
        elif cut.value - self.centre_value >= self.settings.bundle_m * self.predicted:
            self.centre, self.centre_value, step = cut.point, cut.value, "serious"
        else:
            step = "null"
        lower, upper = self.bounds()
        c, g, su, sf = self.scaled_cuts(self.centre, self.centre_value)
        # In scaled units (u = centre + su v, value = centre_value + sf w) the prox term
        # |u - centre|^2 / (2 t) is su^2 |v|^2 / (2 t sf).
        v, w = cp.Variable(m), cp.Variable()
        constraints = [v >= (lower - self.centre) / su, v <= (upper - self.centre) / su, w <= c + g @ v]
        weight = su**2 / (2 * self.t * sf)
        problem = cp.Problem(cp.Maximize(w - weight * cp.sum_squares(v)), constraints)
        problem.solve(solver=cp.CLARABEL)
        if v.value is None:
            raise RuntimeError(f"bundle QP failed: {problem.status}")
        new = np.clip(self.centre + su * np.asarray(v.value, dtype=float), lower, upper)
        self.predicted = self.model(new) - self.centre_value
        self.last = {"step": step, "predicted_increase": float(self.predicted), "centre_value": float(self.centre_value)}
        if self.predicted <= self.settings.tol * max(1.0, abs(self.centre_value)):
            self.converged = True
        return new


class Augmented(MultiplierMethod):
    """Method of multipliers on the equality rows; the inequality multipliers (which have no
    quadratic term without slack, so no step size of their own) take the subgradient method's
    steps. Without equality rows this is the subgradient method."""

    name = "augmented"

    def __init__(self, settings, lower, start) -> None:
        super().__init__(settings, lower, start)
        self.rho = settings.rho
        self.previous_violation: float | None = None
        self.free = ~np.isfinite(self.lower)
        bounded = ~self.free
        self.inequalities = Subgradient(settings, self.lower[bounded], self.start[bounded])

    def eq_square(self) -> float | None:
        return self.rho / 2

    def _next(self, cut, best_dual, target):
        s, new = cut.subgradient, cut.point.copy()
        bounded = ~self.free
        if bounded.any():
            part = Cut(cut.point[bounded], cut.value, s[bounded])
            new[bounded] = self.inequalities.next(part, best_dual, target)
            self.last.update(self.inequalities.last)
        new[self.free] = cut.point[self.free] + self.rho * s[self.free]
        violation = _norm(s[self.free])
        self.converged = bool(violation == 0 and (not bounded.any() or self.inequalities.converged))
        rho = self.rho
        if self.previous_violation is not None and violation > 0.25 * self.previous_violation:
            self.rho = min(self.rho * self.settings.rho_growth, self.settings.rho_max)
        self.previous_violation = violation
        self.last.update({"rho": float(rho), "next_rho": float(self.rho), "equality_violation": violation})
        return new


METHODS: dict[str, type[MultiplierMethod]] = {
    cls.name: cls for cls in (Subgradient, DualAveraging, CuttingPlane, Bundle, Augmented)
}


def make_method(name: str, settings: DualSettings, lower: np.ndarray, start: np.ndarray) -> MultiplierMethod:
    return METHODS[name](settings, lower, start)
