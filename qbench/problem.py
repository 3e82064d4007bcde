"""What every problem class provides: a constrained model, a native evaluation, a MIP, a reference.

A *problem* here is one concrete instance (data plus its reference optimum). Its decision vector
``x`` is always the binary variable vector of :meth:`Problem.to_quadratic_program`, in that
model's variable order; solvers return such a vector and :meth:`Problem.evaluate` judges it in the
problem's own terms, never through a QUBO.

The canonical model *is* the native problem: on every ``x`` feasible in it, ``evaluate(x)``'s
objective equals the model's objective, and the native optimum (the reference) is the model's
optimum. Relaxations and penalty QUBOs built from the model therefore bound and certify native
optima (:mod:`qbench.optimality`).
"""

from __future__ import annotations

import hashlib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

if TYPE_CHECKING:
    import pyscipopt
    from qiskit_optimization import QuadraticProgram

Sense = Literal["min", "max"]


@dataclass(frozen=True)
class Evaluation:
    """A solution judged natively: objective in the problem's units, feasibility, total violation."""

    objective: float
    feasible: bool
    violation: float


@dataclass(frozen=True)
class Reference:
    """A reference optimum and where it comes from.

    ``proven`` says whether ``value`` is known to be optimal (a published proof, an exact solver,
    brute force), as opposed to a best-known value.
    """

    value: float | None
    source: str
    proven: bool = False

    @classmethod
    def unknown(cls) -> Reference:
        return cls(value=None, source="unknown", proven=False)


#: Extracts the problem's decision vector from a solved SCIP model.
MipExtractor = Callable[["pyscipopt.Model"], np.ndarray]


class Problem(ABC):
    """One problem instance. Subclasses are frozen dataclasses holding the instance data."""

    kind: ClassVar[str]
    sense: ClassVar[Sense]

    name: str
    reference: Reference

    @abstractmethod
    def to_quadratic_program(self) -> QuadraticProgram:
        """The canonical constrained binary model (the input of every QUBO formulation); its
        optimum is the native optimum (see the module docstring)."""

    @abstractmethod
    def evaluate(self, x: np.ndarray) -> Evaluation:
        """Judge a decision vector in the problem's own terms."""

    def objective_is_integral(self) -> bool:
        """Whether every objective value is an integer: the canonical model has integer
        variables only and integer objective coefficients (integer data)."""
        qp = self.to_quadratic_program()
        if qp.get_num_continuous_vars():
            return False
        objective = qp.objective
        coefficients = [objective.constant, *objective.linear.to_dict().values(),
                        *objective.quadratic.to_dict().values()]
        return all(float(c).is_integer() for c in coefficients)

    @abstractmethod
    def build_mip(self, model: pyscipopt.Model) -> MipExtractor:
        """Write the strongest standard MIP of this instance into ``model``.

        Sets the objective with the problem's sense, in the problem's native units, so SCIP's
        primal value and dual bound are directly comparable with :meth:`evaluate` and the
        reference. Returns a function that reads the decision vector from the solved model.
        """

    @abstractmethod
    def payload(self) -> dict[str, Any]:
        """The instance data as plain JSON-able values; the basis of :meth:`content_hash`."""

    def size(self) -> dict[str, int]:
        """Model size: number of binary variables and constraints of the canonical model."""
        qp = self.to_quadratic_program()
        return {
            "variables": qp.get_num_vars(),
            "constraints": qp.get_num_linear_constraints() + qp.get_num_quadratic_constraints(),
        }

    def content_hash(self) -> str:
        """sha256 of the canonical instance data, so records can tell identical instances apart."""
        text = json.dumps(self.payload(), sort_keys=True, default=_json_default)
        return hashlib.sha256(text.encode()).hexdigest()

    def repair(self, x: np.ndarray) -> np.ndarray:
        """A decision vector close to ``x``, feasible where the heuristic can reach feasibility
        (market split's descent need not), and no worse than ``x`` for a feasible ``x``;
        deterministic. :mod:`qbench.repair` applies it to a run's answer and keeps the result
        only when it is better."""
        raise NotImplementedError(f"{self.kind} has no repair heuristic")

    def forbids_tie(self, i: int, j: int, same: bool) -> bool:
        """Whether tying decision variables ``i`` and ``j`` (``x_i = x_j`` when ``same``, else
        ``x_i = 1 - x_j``) would force a constraint violation whenever they are 1 together.

        Graph shrinking asks this before merging two variables: MIS never equates two adjacent
        vertices, a knapsack never ties two items that do not fit together, an assignment never
        equates two variables of one row or column. The default knows no rule.
        """
        return False

    def describe(self) -> str:
        """A short human description, e.g. ``"28 items x 4 constraints"``."""
        size = self.size()
        return f"{size['variables']} variables, {size['constraints']} constraints"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


#: Relative difference below which an objective equals the reference (also used to count
#: optimal samples in :mod:`qbench.sampling`).
GAP_TOLERANCE = 1e-9


def optimality_gap(objective: float, reference: float | None, sense: Sense) -> float | None:
    """Relative gap to the reference, >= 0 when the reference is optimal, whatever the sense.

    ``(ref - obj) / |ref|`` when maximising, ``(obj - ref) / |ref|`` when minimising. Undefined
    (``None``) without a reference; with a zero reference the absolute difference is returned,
    since relative terms are meaningless there (market split's optimum is a violation of 0).
    """
    if reference is None:
        return None
    diff = (reference - objective) if sense == "max" else (objective - reference)
    if abs(diff) <= GAP_TOLERANCE * max(1.0, abs(reference)):
        # Floating-point noise (sums taken in another order), not a difference in quality.
        return 0.0
    if reference == 0:
        return float(diff)
    return float(diff / abs(reference))


#: Relative distance within which a solver's value is taken for the integer next to it: SCIP's
#: feasibility tolerance (``numerics/feastol``), the precision its primal and dual values have.
INTEGRALITY_TOLERANCE = 1e-6


def integral_bound(bound: float, sense: Sense) -> float:
    """A bound on an integral objective, tightened to an integer on the side it bounds.

    When maximising the bound is an upper bound, so ``floor(bound + tol)``; when minimising a
    lower bound, ``ceil(bound - tol)``. ``tol`` (:data:`INTEGRALITY_TOLERANCE`, relative) keeps a
    solver's numerical noise from costing a whole unit: 4014.9999999999995 on a maximisation
    problem is 4015, while 4014.9 is 4014.
    """
    tol = INTEGRALITY_TOLERANCE * max(1.0, abs(bound))
    return float(math.floor(bound + tol) if sense == "max" else math.ceil(bound - tol))


def approximation_ratio(objective: float, reference: float | None, sense: Sense) -> float | None:
    """Quality ratio in (0, 1] for positive objectives: obj/ref when maximising, ref/obj when minimising.

    ``None`` when either value is not positive (the ratio would not mean "fraction of optimal").
    """
    if reference is None or reference <= 0 or objective <= 0:
        return None
    return float(objective / reference) if sense == "max" else float(reference / objective)


@dataclass(frozen=True)
class ProblemFamily:
    """A problem class as the harness sees it: how to generate and how to load an instance.

    Each module in ``problems/`` defines one as ``FAMILY``. ``Generator`` and ``Options`` are
    validated parameter dataclasses: generator settings (including its ``seed``) and options that
    apply to generated and loaded instances alike (a budget, an index into a multi-instance file).
    ``load(path, options, entry)`` gets the manifest entry when the file is a known instance.
    """

    kind: str
    description: str
    Generator: type
    Options: type
    generate: Callable[[Any, Any], Problem]
    load: Callable[..., Problem]
