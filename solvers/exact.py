"""Exhaustive search over the QUBO: the ground truth of small encodings.

The status is ``optimal`` only when the QUBO's minimum is provably the problem's native optimum
(:func:`qbench.optimality.certify_minimum`); otherwise ``qubo_optimal``: the QUBO's minimum,
e.g. of an unbalanced penalty or of a penalty too small to make it feasible, with the reason in
``info.optimality_note``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qbench.optimality import certify_minimum
from qbench.params import check
from qbench.solver import SolveContext, Solver, SolverResult


@dataclass(frozen=True)
class ExactParams:
    max_variables: int = 26

    def __post_init__(self) -> None:
        check(1 <= self.max_variables <= 34, "max_variables", f"must be in 1..34, got {self.max_variables}")


def index_to_bits(index: int, n: int) -> np.ndarray:
    """Bits of a basis-state index, bit ``i`` = variable ``i`` (Qiskit's order)."""
    return np.array([(index >> i) & 1 for i in range(n)], dtype=np.int8)


class ExactSolver(Solver):
    """Enumerate all 2^n QUBO assignments and return the (lowest-index) ground state.

    ``degeneracy`` counts ground states; when it is above 1 and the status is ``qubo_optimal``,
    another ground state may decode to a different native objective."""

    name = "exact"
    Params = ExactParams

    def solve(self, ctx: SolveContext) -> SolverResult:
        encoding = ctx.encoding()
        energies = encoding.qubo.all_energies(max_variables=self.params.max_variables)
        ground = float(energies.min())
        index = int(np.argmin(energies))
        degeneracy = int(np.count_nonzero(np.isclose(energies, ground, rtol=0, atol=1e-9)))
        bits = index_to_bits(index, encoding.qubits)
        certificate = certify_minimum(ctx.problem, encoding, bits, ground)
        return SolverResult(
            x=encoding.decode(bits),
            status="optimal" if certificate.proven else "qubo_optimal",
            info={"ground_energy": ground, "degeneracy": degeneracy, "bitstring": bits.tolist(),
                  "optimality_note": certificate.note},
        )
