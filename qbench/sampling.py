"""Choosing the answer from a distribution of sampled QUBO assignments.

Every sampling method (annealing reads, measured shots, an exact final distribution) ends
here, so they are all judged alike: each distinct sample is decoded and evaluated natively; the
answer is the best feasible one by native objective (ties: the more probable), or, when no
sample is feasible, the lowest-energy one. The probabilities of drawing a feasible and an
optimal solution are recorded, as is what the lowest-energy sample alone would have given.
A method that decodes a single assignment instead (:func:`decoded_answer`) is judged alike but
records no probabilities.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from qbench.problem import GAP_TOLERANCE, Problem
from qbench.sample_rows import merged_rows, unique_rows

if TYPE_CHECKING:
    from qbench.formulations.base import Encoding

#: How an answer is chosen from samples: the best feasible by native objective (a run's answer),
#: or the lowest QUBO energy (an inner solve that must minimise its own QUBO).
Selection = Literal["native", "energy"]


@dataclass(frozen=True)
class Answer:
    """The chosen assignment and what the distribution it came from says.

    ``feasible_probability`` / ``optimal_probability``: probability mass of the samples whose
    decoded assignment is feasible / optimal (``optimal_probability`` is ``None`` without a
    reference; both are ``None`` for a single deterministic decode, which has no distribution).
    ``energy_expectation``: the QUBO energy averaged over the distribution passed to
    :func:`select_answer` with its probabilities -- for a sampling backend the empirical
    frequencies of the final shots, not the exact expectation of the prepared state.
    ``samples`` / ``sample_probabilities``: the distinct assignments judged (one per row) and the
    probability of each (graph shrinking reads sampled correlations from them).
    """

    x: np.ndarray
    bits: np.ndarray
    energy: float
    feasible_probability: float | None
    optimal_probability: float | None
    distinct_samples: int
    lowest_energy: float
    lowest_energy_feasible: bool
    lowest_energy_objective: float
    energy_expectation: float | None
    samples: np.ndarray
    sample_probabilities: np.ndarray

    def info(self) -> dict[str, Any]:
        return {
            "answer_bitstring": "".join(map(str, self.bits[::-1].tolist())),
            "answer_energy": self.energy,
            "feasible_probability": self.feasible_probability,
            "optimal_probability": self.optimal_probability,
            "energy_expectation": self.energy_expectation,
            "distinct_samples": self.distinct_samples,
            "lowest_energy": self.lowest_energy,
            "lowest_energy_feasible": self.lowest_energy_feasible,
            "lowest_energy_objective": self.lowest_energy_objective,
        }


def is_optimal(objective: float, reference: float | None) -> bool:
    if reference is None:
        return False
    return abs(objective - reference) <= GAP_TOLERANCE * max(1.0, abs(reference))


@dataclass(frozen=True)
class Verdicts:
    """Native verdicts on decoded assignments, one entry per row."""

    feasible: np.ndarray
    objective: np.ndarray
    optimal: np.ndarray


def judge(problem: Problem, xs: np.ndarray) -> Verdicts:
    """Evaluate each row of ``xs`` (decoded assignments; pass distinct rows, each costs one
    :meth:`Problem.evaluate`) and mark the feasible ones that reach the reference."""
    reference = problem.reference.value
    native = [problem.evaluate(x) for x in xs]
    feasible = np.array([ev.feasible for ev in native], dtype=bool)
    objective = np.array([ev.objective for ev in native], dtype=float)
    optimal = np.array([ev.feasible and is_optimal(ev.objective, reference) for ev in native], dtype=bool)
    return Verdicts(feasible, objective, optimal)


def select_answer(encoding: Encoding, problem: Problem, bits: np.ndarray, probabilities: np.ndarray,
                  selection: Selection = "native") -> Answer:
    """Pick the answer from samples ``bits`` of ``encoding``'s QUBO (one assignment per row) with
    their probabilities, judged natively on ``problem``, by the rule ``selection``."""
    bits = np.asarray(bits, dtype=np.int8)
    unique, probs = merged_rows(bits, np.asarray(probabilities, float))
    energies = encoding.qubo.energies(unique)
    reference = problem.reference.value
    sign = 1.0 if problem.sense == "max" else -1.0

    # Decode all rows at once, then evaluate each distinct decoded assignment once (slack bits
    # are dropped, so many samples share one x). Same results as decoding and evaluating every
    # sample in turn: sums run in sample order (cumsum is sequential), ties go to the first.
    decoded = encoding.decode_many(unique)
    distinct_x, x_of = unique_rows(decoded)
    verdicts = judge(problem, distinct_x)
    feasible = verdicts.feasible[x_of]
    objective = verdicts.objective[x_of]
    optimal = verdicts.optimal[x_of]
    feasible_p = float(np.cumsum(probs[feasible])[-1]) if feasible.any() else 0.0
    optimal_p = float(np.cumsum(probs[optimal])[-1]) if optimal.any() else 0.0
    best: int | None = None
    if feasible.any():
        rows = np.flatnonzero(feasible)
        # Largest (sign * objective, probability, -energy); among equal ranks the first sample.
        order = np.lexsort((rows, energies[rows], -probs[rows], -(sign * objective[rows])))
        best = int(rows[order[0]])
    lowest = int(np.argmin(energies))
    if selection == "energy":
        # Lowest energy; among equal energies the most probable (deterministic either way).
        chosen = int(np.lexsort((-probs, energies))[0])
    else:
        chosen = best if best is not None else lowest
    return Answer(
        x=decoded[chosen],
        bits=unique[chosen],
        energy=float(energies[chosen]),
        feasible_probability=float(feasible_p),
        optimal_probability=float(optimal_p) if reference is not None else None,
        distinct_samples=int(len(unique)),
        lowest_energy=float(energies[lowest]),
        lowest_energy_feasible=bool(feasible[lowest]),
        lowest_energy_objective=float(objective[lowest]),
        energy_expectation=float(probs @ energies / probs.sum()),
        samples=unique,
        sample_probabilities=probs,
    )


def decoded_answer(encoding: Encoding, problem: Problem, bits: np.ndarray) -> Answer:
    """The answer of a method that decodes one QUBO assignment ``bits`` instead of sampling:
    judged as :func:`select_answer` judges a sample, but with no probabilities (``None``): a
    deterministic decode has no distribution, and a probability of 1 would read as certain
    success."""
    answer = select_answer(encoding, problem, np.asarray(bits)[None, :], np.ones(1))
    return dataclasses.replace(answer, feasible_probability=None, optimal_probability=None,
                               energy_expectation=None)
