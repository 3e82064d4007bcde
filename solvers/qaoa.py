"""The QAOA family: QAOA and CVaR-QAOA, warm-start QAOA, multi-angle QAOA."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import minimize as scipy_minimize

from qbench.ansatz import QaoaLayout, qaoa_layout
from qbench.params import check
from qbench.qubo import Qubo
from qbench.solver import SolveContext, Solver, SolverResult
from qbench.variational import VariationalParams, run_diagonal_variational


@dataclass(frozen=True)
class QaoaParams(VariationalParams):
    """``reps``: depth p. ``initial_point``: ``linear_ramp`` (gamma rising, beta falling over
    the layers with step ``ramp_delta``; Montanez-Barrera & Michielsen 2024), ``fixed``
    (``initial_gamma``, ``initial_beta`` in every layer; the comparative study used pi and pi/2)
    or ``random`` (uniform in [0, 2 pi) for gamma and [0, pi) for beta, from the run seed)."""

    reps: int = 2
    initial_point: Literal["linear_ramp", "fixed", "random"] = "linear_ramp"
    ramp_delta: float = 0.75
    initial_gamma: float = 0.5
    initial_beta: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.reps >= 1, "reps", f"must be >= 1, got {self.reps}")
        check(self.ramp_delta > 0, "ramp_delta", f"must be positive, got {self.ramp_delta}")


@dataclass(frozen=True)
class WarmStartParams(QaoaParams):
    """``epsilon``: regularisation of the relaxed solution, clipped to [epsilon, 1 - epsilon]
    so that no qubit starts in a basis state the mixer cannot leave (Egger et al. 2021)."""

    epsilon: float = 0.25

    def __post_init__(self) -> None:
        super().__post_init__()
        check(0 <= self.epsilon < 0.5, "epsilon", f"must be in [0, 0.5), got {self.epsilon}")


def initial_angles(params: QaoaParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer (gamma, beta) starting angles."""
    p = params.reps
    if params.initial_point == "fixed":
        return np.full(p, params.initial_gamma), np.full(p, params.initial_beta)
    if params.initial_point == "random":
        return rng.uniform(0, 2 * np.pi, p), rng.uniform(0, np.pi, p)
    fractions = (np.arange(p) + 0.5) / p
    return fractions * params.ramp_delta, (1 - fractions) * params.ramp_delta


class Qaoa(Solver):
    """QAOA with the X mixer; ``alpha < 1`` makes it CVaR-QAOA (Barkoutsos et al. 2020)."""

    name = "qaoa"
    Params = QaoaParams
    multi_angle = False

    def layout(self, ctx: SolveContext, qubo: Qubo, hamiltonian) -> QaoaLayout:
        return qaoa_layout(hamiltonian, self.params.reps, multi_angle=self.multi_angle)

    def solve(self, ctx: SolveContext) -> SolverResult:
        qubo = ctx.encoding().qubo
        cost = self.params.cost(qubo)
        layout = self.layout(ctx, qubo, cost.circuit_hamiltonian)
        gammas, betas = initial_angles(self.params, ctx.rng())
        x0 = layout.pack(gammas[:, None], betas[:, None])
        result = run_diagonal_variational(
            ctx, cost, layout.circuit, x0, self.params.optimizer_settings(),
            self.params.sampling_settings(), label=self.name, structure=layout,
        )
        result.info["reps"] = self.params.reps
        return result


class MultiAngleQaoa(Qaoa):
    """Multi-angle QAOA (Herrman et al. 2022): one gamma per cost term and one beta per qubit
    in every layer, started from the same per-layer angles as QAOA."""

    name = "ma_qaoa"
    multi_angle = True


class WarmStartQaoa(Qaoa):
    """Warm-start QAOA (Egger et al. 2021): the initial state and mixer come from the solution
    c* of the QUBO's continuous relaxation over [0, 1]^n, theta_i = 2 arcsin(sqrt(c*_i))."""

    name = "ws_qaoa"
    Params = WarmStartParams

    def layout(self, ctx: SolveContext, qubo: Qubo, hamiltonian) -> QaoaLayout:
        relaxed = continuous_relaxation(qubo)
        clipped = np.clip(relaxed, self.params.epsilon, 1 - self.params.epsilon)
        self._relaxed = relaxed
        return qaoa_layout(hamiltonian, self.params.reps, warm_angles=2 * np.arcsin(np.sqrt(clipped)))

    def solve(self, ctx: SolveContext) -> SolverResult:
        result = super().solve(ctx)
        result.info["relaxed_solution"] = self._relaxed.tolist()
        result.info["epsilon"] = self.params.epsilon
        return result


def continuous_relaxation(qubo: Qubo) -> np.ndarray:
    """Minimise the QUBO's energy over the box [0, 1]^n (L-BFGS-B with the exact gradient,
    from the centre). Exact when the quadratic form is convex, as penalty QUBOs of linear
    objectives are (their quadratic part is a sum of squares); a local minimum otherwise."""
    symmetric = qubo.quadratic + qubo.quadratic.T

    def energy(x):
        return qubo.offset + qubo.linear @ x + x @ qubo.quadratic @ x, qubo.linear + symmetric @ x

    n = qubo.num_variables
    result = scipy_minimize(energy, np.full(n, 0.5), jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * n)
    return np.clip(result.x, 0.0, 1.0)
