"""Penalty QUBO with binary-encoded slack variables.

The pipeline is qiskit-optimization's ``QuadraticProgramToQubo``: special-case inequalities
(``x + y <= 1`` and friends) become exact penalty terms without slack, other inequalities get an
integer slack variable that is binary-encoded, equalities become squared penalties, and the
result is minimised. What this class adds is a penalty per constraint group (``capacity``,
``row``, ``col``, ...): each group is penalised by ``penalty * group_penalties[group]``.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field

from qiskit_optimization import QuadraticProgram
from qiskit_optimization.converters import (
    InequalityToEquality,
    IntegerToBinary,
    LinearEqualityToPenalty,
    LinearInequalityToPenalty,
    MaximizeToMinimize,
)

from qbench.errors import ConfigError
from qbench.formulations.base import (
    Encoding,
    Formulation,
    constraint_group,
    objective_range_penalty,
)
from qbench.params import check
from qbench.problem import Problem
from qbench.qubo import Qubo


@dataclass(frozen=True)
class PenaltyParams:
    """``penalty``: ``"auto"`` (objective range + 1) or a positive number; ``group_penalties``:
    multipliers for named constraint groups (others use 1)."""

    penalty: float | str = "auto"
    group_penalties: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.penalty, str):
            check(self.penalty == "auto", "penalty", f"expected 'auto' or a number, got {self.penalty!r}")
        else:
            check(self.penalty > 0, "penalty", f"must be positive, got {self.penalty}")
        for group, factor in self.group_penalties.items():
            check(
                isinstance(factor, (int, float)) and factor > 0,
                f"group_penalties.{group}",
                f"must be a positive number, got {factor!r}",
            )


class PenaltyQubo(Formulation):
    """Penalty QUBO with slack variables (the comparative study's formulation)."""

    name = "penalty"
    Params = PenaltyParams

    def __init__(self, params: PenaltyParams | None = None) -> None:
        self.params = params or PenaltyParams()

    def base_penalty(self, qp: QuadraticProgram) -> float:
        if self.params.penalty == "auto":
            return objective_range_penalty(qp)
        return float(self.params.penalty)

    def factors(self, qp: QuadraticProgram) -> dict[str, float]:
        """Penalty multiplier of every constraint group of ``qp``, after checking the config."""
        groups = {constraint_group(c.name) for c in qp.linear_constraints}
        unknown = sorted(set(self.params.group_penalties) - groups)
        if unknown:
            raise ConfigError(
                f"formulation.group_penalties: unknown constraint group(s) {', '.join(unknown)}; "
                f"this problem has: {', '.join(sorted(groups)) or 'none'}"
            )
        return {g: float(self.params.group_penalties.get(g, 1.0)) for g in groups}

    def encode(self, problem: Problem) -> Encoding:
        qp = problem.to_quadratic_program()
        if qp.get_num_quadratic_constraints():
            raise ConfigError(f"{problem.kind}: quadratic constraints cannot be penalised here")
        base = self.base_penalty(qp)
        factors = self.factors(qp)
        penalised = penalise_by_group(qp, LinearInequalityToPenalty, base, factors)
        to_equality = InequalityToEquality(mode="integer")
        to_binary = IntegerToBinary()
        binary = to_binary.convert(to_equality.convert(penalised))
        # Slack variables were named after their constraint, so their groups are unchanged.
        qubo_program = MaximizeToMinimize().convert(
            penalise_by_group(binary, LinearEqualityToPenalty, base, factors)
        )

        def decode(bits):
            return to_equality.interpret(to_binary.interpret(bits))

        return Encoding(
            formulation=self.name,
            qubo=Qubo.from_quadratic_program(qubo_program),
            decoder=decode,
            num_original=qp.get_num_vars(),
            info={"penalty": base, "group_penalties": {g: base * f for g, f in sorted(factors.items())}},
            # Squared equality residuals (with the exact integer slack of an inequality) and
            # qiskit's slack-free inequality terms (P (x - x y) for x <= y, P sum x_i x_j for
            # sum x_i <= 1, ...) are all 0 on feasible points.
            relaxes_model=True,
        )


def penalise_by_group(qp, converter_cls, base: float, factors: dict[str, float]) -> QuadraticProgram:
    """Apply a qiskit-optimization penalty converter with a penalty per constraint group.

    With one factor for all groups this is just the converter. Otherwise each group's
    constraints are converted on their own (in a copy of ``qp`` with a zero objective), and the
    resulting penalty terms are added to ``qp``'s objective; constraints a converter leaves alone
    (e.g. inequalities with no slack-free form) are kept.
    """
    if len(set(factors.values())) <= 1:
        factor = next(iter(factors.values()), 1.0)
        return converter_cls(penalty=base * factor).convert(qp)

    by_group: dict[str, list] = defaultdict(list)
    for constraint in qp.linear_constraints:
        by_group[constraint_group(constraint.name)].append(constraint)
    result = _without_constraints(qp)
    linear = defaultdict(float, qp.objective.linear.to_dict(use_name=True))
    quadratic = defaultdict(float, qp.objective.quadratic.to_dict(use_name=True))
    constant = qp.objective.constant
    kept = []
    for group, constraints in by_group.items():
        part = _without_constraints(qp)
        _set_objective(part, qp, 0.0, {}, {})
        for c in constraints:
            part.linear_constraint(c.linear.to_dict(use_name=True), c.sense, c.rhs, c.name)
        converted = converter_cls(penalty=base * factors[group]).convert(part)
        for name, w in converted.objective.linear.to_dict(use_name=True).items():
            linear[name] += w
        for names, w in converted.objective.quadratic.to_dict(use_name=True).items():
            quadratic[names] += w
        constant += converted.objective.constant
        kept.extend(converted.linear_constraints)
    _set_objective(result, qp, constant, dict(linear), dict(quadratic))
    for c in kept:
        result.linear_constraint(c.linear.to_dict(use_name=True), c.sense, c.rhs, c.name)
    return result


def _without_constraints(qp: QuadraticProgram) -> QuadraticProgram:
    result = copy.deepcopy(qp)
    for c in list(result.linear_constraints):
        result.remove_linear_constraint(c.name)
    return result


def _set_objective(target: QuadraticProgram, like: QuadraticProgram, constant, linear, quadratic) -> None:
    if like.objective.sense == like.objective.sense.MINIMIZE:
        target.minimize(constant=constant, linear=linear, quadratic=quadratic)
    else:
        target.maximize(constant=constant, linear=linear, quadratic=quadratic)
