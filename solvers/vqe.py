"""VQE and CVaR-VQE with a hardware-efficient ansatz (Kandala et al. 2017; Barkoutsos et al. 2020)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from qbench.ansatz import hardware_efficient
from qbench.params import check
from qbench.solver import SolveContext, Solver, SolverResult
from qbench.variational import VariationalParams, run_diagonal_variational


@dataclass(frozen=True)
class VqeParams(VariationalParams):
    """``ansatz``: ``efficient_su2`` (RY and RZ layers) or ``real_amplitudes`` (RY); ``reps``
    entangling layers with ``entanglement`` (Qiskit's names: linear, reverse_linear, full,
    circular, sca, pairwise); ``initial_point``: ``random`` (uniform in [0, 2 pi), as the
    comparative study) or ``zeros``."""

    ansatz: Literal["efficient_su2", "real_amplitudes"] = "efficient_su2"
    reps: int = 2
    entanglement: Literal["linear", "reverse_linear", "full", "circular", "sca", "pairwise"] = "reverse_linear"
    initial_point: Literal["random", "zeros"] = "random"

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.reps >= 1, "reps", f"must be >= 1, got {self.reps}")


@dataclass(frozen=True)
class CvarVqeParams(VqeParams):
    alpha: float = 0.25


class Vqe(Solver):
    """VQE minimising the QUBO energy; with ``alpha < 1`` the CVaR of the energy distribution."""

    name = "vqe"
    Params = VqeParams

    def solve(self, ctx: SolveContext) -> SolverResult:
        qubo = ctx.encoding().qubo
        circuit = hardware_efficient(qubo.num_variables, self.params.ansatz, self.params.reps, self.params.entanglement)
        if self.params.initial_point == "random":
            x0 = ctx.rng().uniform(0, 2 * np.pi, circuit.num_parameters)
        else:
            x0 = np.zeros(circuit.num_parameters)
        result = run_diagonal_variational(
            ctx, self.params.cost(qubo), circuit, x0, self.params.optimizer_settings(),
            self.params.sampling_settings(), label=self.name,
        )
        result.info.update(ansatz=self.params.ansatz, reps=self.params.reps, entanglement=self.params.entanglement)
        return result


class CvarVqe(Vqe):
    """CVaR-VQE: the same ansatz, optimising the mean of the best ``alpha`` fraction of samples."""

    name = "cvar_vqe"
    Params = CvarVqeParams
