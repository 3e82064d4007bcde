"""What a sampling method is compared with: bitstrings of its QUBO drawn uniformly at random.

A method that chooses its answer from a sampled distribution over the ``2^n`` bitstrings of a
QUBO (:func:`qbench.sampling.select_answer`) only shows skill where its probabilities of drawing
a feasible or an optimal solution exceed those of uniform guessing; and a final sampling of
``S`` shots over ``2^n`` states finds the optimum by coverage alone when ``S`` is comparable to
``2^n``. :func:`compare` puts these numbers next to the method's own (the record fields of the
same names):

- ``p_feasible_uniform``, ``p_optimal_uniform``: the probability that a uniformly random
  bitstring of the QUBO decodes to a feasible / an optimal solution, judged by the same native
  evaluation as the method's samples. Exact (``uniform_method="exact"``) by enumerating every
  bitstring when the QUBO has at most :data:`EXACT_MAX_VARIABLES` variables and at most
  :data:`EXACT_MAX_EVALUATIONS` distinct decoded assignments; otherwise a Monte-Carlo estimate
  from :data:`MONTE_CARLO_SAMPLES` bitstrings drawn with the run seed (``"monte_carlo"``).
- ``uniform_stderr``: the standard error of ``p_optimal_uniform``: 0 when exact, else the
  binomial ``sqrt(p (1 - p) / N)`` of the estimate (0 when no drawn bitstring was optimal: read
  it as "below about 3 / N"); ``None`` without a reference.
- ``optimal_lift`` / ``feasible_lift``: the method's probability over the uniform one; ``None``
  when either is unknown or the uniform one is 0 (never an invented infinity).
- ``final_coverage``: final shots / ``2^n``; ``covers_space``: final shots >= ``2^n / 4``, where
  drawing the optimum says little about the method.
- ``energy_approximation_ratio``: ``(<E> - E_max) / (E_min - E_max)`` of the QUBO energy
  expectation ``<E>`` over the distribution the answer was chosen from
  (:attr:`qbench.sampling.Answer.energy_expectation`: for circuit methods the empirical
  frequencies of the final shots, not the exact expectation of the state), with ``E_min`` and
  ``E_max`` the QUBO's extreme energies by enumeration; 1 = all mass on ground states, 0 = all
  on the highest. ``None`` above :data:`EXACT_MAX_VARIABLES` or when the QUBO is constant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from qbench.formulations.base import Encoding
from qbench.problem import Problem
from qbench.qubo import Qubo
from qbench.sample_rows import unique_rows
from qbench.sampling import judge
from qbench.solver import FinalSampling

#: Largest QUBO whose bitstrings are enumerated (2^20 rows, decoded in chunks).
EXACT_MAX_VARIABLES = 20
#: Most native evaluations (distinct decoded assignments, or decoder calls for a decoder that is
#: not affine) an exact count may take; beyond it Monte-Carlo is used. 2^16 evaluations of MIS
#: take about 0.4 s.
EXACT_MAX_EVALUATIONS = 2**16
#: Bitstrings drawn for a Monte-Carlo estimate (standard error <= 0.005 on any probability).
MONTE_CARLO_SAMPLES = 10_000
#: Second entry of the Monte-Carlo generator's seed, so its draws are not the stream a solver
#: seeded with the run seed alone draws (``solver=random`` would otherwise repeat them).
MONTE_CARLO_STREAM = 1
_CHUNK = 2**16

UniformMethod = Literal["exact", "monte_carlo"]


@dataclass(frozen=True)
class UniformProbabilities:
    """Probabilities that a uniformly random bitstring of a QUBO decodes to a feasible / an
    optimal solution (``p_optimal`` is ``None`` without a reference); ``stderr`` belongs to
    ``p_optimal``; ``samples``: bitstrings enumerated (``2^n``) or drawn."""

    p_feasible: float
    p_optimal: float | None
    method: UniformMethod
    stderr: float | None
    samples: int


@dataclass(frozen=True)
class SamplingComparison:
    """A sampling method's distribution against uniform sampling; the field names are the
    :class:`~qbench.records.RunRecord` fields they fill (see the module docstring)."""

    p_feasible_uniform: float
    p_optimal_uniform: float | None
    uniform_method: UniformMethod
    uniform_stderr: float | None
    feasible_lift: float | None
    optimal_lift: float | None
    final_coverage: float
    covers_space: bool
    energy_approximation_ratio: float | None


def compare(problem: Problem, sampling: FinalSampling, seed: int) -> SamplingComparison:
    """Compare the distribution ``sampling`` with uniform sampling of the same QUBO."""
    encoding, answer = sampling.encoding, sampling.answer
    n = encoding.qubits
    uniform = uniform_probabilities(problem, encoding, seed)
    extremes = energy_range(encoding.qubo)
    ratio = None
    if extremes is not None and answer.energy_expectation is not None:
        ratio = energy_approximation_ratio(answer.energy_expectation, *extremes)
    return SamplingComparison(
        p_feasible_uniform=uniform.p_feasible,
        p_optimal_uniform=uniform.p_optimal,
        uniform_method=uniform.method,
        uniform_stderr=uniform.stderr,
        feasible_lift=lift(answer.feasible_probability, uniform.p_feasible),
        optimal_lift=lift(answer.optimal_probability, uniform.p_optimal),
        final_coverage=sampling.shots / 2**n,
        covers_space=4 * sampling.shots >= 2**n,
        energy_approximation_ratio=ratio,
    )


def lift(p: float | None, p_uniform: float | None) -> float | None:
    """``p / p_uniform``; ``None`` when either is unknown or ``p_uniform`` is 0."""
    if p is None or p_uniform is None or p_uniform <= 0:
        return None
    return float(p / p_uniform)


def uniform_probabilities(problem: Problem, encoding: Encoding, seed: int) -> UniformProbabilities:
    """Exact when affordable (see the module docstring), else Monte-Carlo with ``seed``."""
    exact = _exact(problem, encoding)
    return exact if exact is not None else _monte_carlo(problem, encoding, seed)


def energy_range(qubo: Qubo) -> tuple[float, float] | None:
    """``(E_min, E_max)`` over all bitstrings, or ``None`` above :data:`EXACT_MAX_VARIABLES`."""
    if qubo.num_variables > EXACT_MAX_VARIABLES:
        return None
    energies = qubo.all_energies(max_variables=EXACT_MAX_VARIABLES)
    return float(energies.min()), float(energies.max())


def energy_approximation_ratio(expectation: float, e_min: float, e_max: float) -> float | None:
    """``(<E> - E_max) / (E_min - E_max)``, in [0, 1] for an expectation over the QUBO's states
    (rounding below 1e-9 is clipped; anything further out is an error); ``None`` for a
    constant QUBO."""
    if e_max - e_min <= 1e-12 * max(1.0, abs(e_min), abs(e_max)):
        return None
    ratio = (expectation - e_max) / (e_min - e_max)
    if not -1e-9 <= ratio <= 1 + 1e-9:
        raise ValueError(f"energy expectation {expectation} outside the QUBO's range [{e_min}, {e_max}]")
    return float(min(max(ratio, 0.0), 1.0))


def _exact(problem: Problem, encoding: Encoding) -> UniformProbabilities | None:
    """Count every bitstring by its decoded assignment's verdict, or ``None`` when that is
    over the bounds: too many variables, decoder calls (a decoder that is not affine is called
    once per bitstring) or distinct assignments (at most ``2^k`` for ``k`` decoded binaries,
    checked before decoding anything)."""
    n, decoded = encoding.qubits, encoding.num_original
    states = 2**n
    if n > EXACT_MAX_VARIABLES or 2 ** min(n, decoded) > EXACT_MAX_EVALUATIONS:
        return None
    if states > EXACT_MAX_EVALUATIONS and not encoding.decodes_affinely:
        return None
    shifts = np.arange(n, dtype=np.int64)
    parts, counts = [], []
    for start in range(0, states, _CHUNK):
        index = np.arange(start, min(start + _CHUNK, states), dtype=np.int64)
        bits = ((index[:, None] >> shifts) & 1).astype(np.int8)
        distinct, inverse = unique_rows(encoding.decode_many(bits))
        parts.append(distinct)
        counts.append(np.bincount(inverse, minlength=len(distinct)))
    distinct, inverse = unique_rows(np.vstack(parts))
    if len(distinct) > EXACT_MAX_EVALUATIONS:  # a decoder with values other than 0 and 1
        return None
    count = np.bincount(inverse, weights=np.concatenate(counts), minlength=len(distinct))
    verdicts = judge(problem, distinct)
    p_optimal = None
    if problem.reference.value is not None:
        p_optimal = float(count[verdicts.optimal].sum() / states)
    return UniformProbabilities(
        p_feasible=float(count[verdicts.feasible].sum() / states), p_optimal=p_optimal,
        method="exact", stderr=0.0 if p_optimal is not None else None, samples=states,
    )


def _monte_carlo(problem: Problem, encoding: Encoding, seed: int) -> UniformProbabilities:
    """Estimate from :data:`MONTE_CARLO_SAMPLES` uniform bitstrings drawn with ``seed``."""
    rng = np.random.default_rng([seed, MONTE_CARLO_STREAM])
    draws = MONTE_CARLO_SAMPLES
    bits = rng.integers(0, 2, size=(draws, encoding.qubits), dtype=np.int8)
    distinct, inverse = unique_rows(encoding.decode_many(bits))
    verdicts = judge(problem, distinct)
    p_optimal, stderr = None, None
    if problem.reference.value is not None:
        p_optimal = float(np.count_nonzero(verdicts.optimal[inverse]) / draws)
        stderr = math.sqrt(p_optimal * (1 - p_optimal) / draws)
    return UniformProbabilities(
        p_feasible=float(np.count_nonzero(verdicts.feasible[inverse]) / draws), p_optimal=p_optimal,
        method="monte_carlo", stderr=stderr, samples=draws,
    )
