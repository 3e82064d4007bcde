"""Success and time to solution of one method on one instance, over its runs.

Definitions (the README's "Metrics" section gives the same with their sources):

- A run is *successful* at threshold ``epsilon`` when it finished (``ok``), its answer is
  feasible and its relative optimality gap to the reference (:func:`qbench.problem.optimality_gap`,
  which already reads rounding noise as 0) is at most ``epsilon``; without a reference no run
  can be judged and success is undefined.
- ``p_s`` = successful runs / runs, every record counting as a run (a failed or timed-out run is
  a run that did not succeed).
- TTS99, the time to solution with 99 % confidence of stochastic benchmarking (Ronnow et al.,
  Science 345, 420 (2014); usra-riacs/stochastic-benchmark, ``src/success_metrics.py``, class
  ``RTT``: ``scale * log(1 - s) / log(1 - p)``): ``t * ln(1 - 0.99) / ln(1 - p_s)`` with ``t``
  the mean wall time of a run; ``t`` when ``p_s >= 0.99`` (one run already succeeds with that
  confidence) and infinite when ``p_s = 0``.
- Its 95 % interval is a percentile bootstrap over runs: resample the runs with replacement
  (``resamples`` times, a seeded generator), recompute ``p_s``, ``t`` and TTS99 on each resample,
  and take the 2.5 % and 97.5 % quantiles of those values (stochastic-benchmark, the same class:
  percentiles of the bootstrap distribution).
- QOBLIB's "Time to Solution" (ZIB-AOPT/QOBLIB, CONTRIBUTING.md, "Runtime Reporting": "Time to
  find the best solution", reported as the average over repetitions): the mean over the runs
  with a feasible answer of ``time_to_best``, the time at which the run first held its final
  best; QOBLIB's "# Successful Runs" counts runs within ``epsilon`` of the algorithm's *own*
  best (:func:`qoblib_successful_runs`), not of the reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from qbench.problem import GAP_TOLERANCE

#: Confidence of TTS99 (the 99 %).
TARGET = 0.99
#: Bootstrap settings of the TTS99 interval.
RESAMPLES = 2000
SEED = 0
CONFIDENCE = 0.95


@dataclass(frozen=True)
class TimeToSolution:
    """TTS99 in seconds (``inf`` when no run succeeded) and its bootstrap interval."""

    seconds: float
    low: float
    high: float


@dataclass(frozen=True)
class MethodMetrics:
    """One method on one instance over its runs. ``successful_runs``, ``run_success_probability``
    and ``tts99`` are ``None`` without a reference (nothing to succeed against); ``tts99`` is also
    ``None`` when a run has no wall time."""

    runs: int
    feasible_runs: int
    epsilon: float
    successful_runs: int | None
    run_success_probability: float | None
    shot_success_probability: float | None
    mean_run_seconds: float | None
    tts99: TimeToSolution | None
    time_to_best: float | None


def tts99(p_s, seconds, target: float = TARGET):
    """``seconds * ln(1 - target) / ln(1 - p_s)``; ``seconds`` when ``p_s >= target``, ``inf`` when
    ``p_s == 0``. Scalars or arrays (element-wise)."""
    p = np.asarray(p_s, dtype=float)
    t = np.asarray(seconds, dtype=float)
    clipped = np.clip(p, 0.0, target)  # keeps log1p finite where the other branches apply
    with np.errstate(divide="ignore"):
        repeated = t * math.log1p(-target) / np.log1p(-clipped)
    value = np.where(p >= target, t, np.where(p <= 0.0, np.inf, repeated))
    return float(value) if value.ndim == 0 else value


def bootstrap_tts99(successes: Sequence[bool], seconds: Sequence[float], resamples: int = RESAMPLES,
                    seed: int = SEED, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile-bootstrap interval of TTS99 over runs (``successes[i]``, ``seconds[i]`` of run i).

    The resampled runs are ``numpy.random.default_rng(seed).integers(0, n, (resamples, n))``; the
    bounds are the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` empirical quantiles
    (``method="inverted_cdf"``, i.e. bootstrap values themselves). Not
    ``scipy.stats.bootstrap``: a resample without a success has an infinite TTS99, and
    interpolating between order statistics next to an infinite value is undefined (numpy's
    default percentile returns NaN there); scipy also refuses a single run.
    """
    success = np.asarray(successes, dtype=float)
    times = np.asarray(seconds, dtype=float)
    n = len(success)
    if n == 0 or len(times) != n:
        raise ValueError(f"need one time per run, got {n} runs and {len(times)} times")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(resamples, n))
    values = tts99(success[picks].mean(axis=1), times[picks].mean(axis=1))
    low, high = np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2], method="inverted_cdf")
    return float(low), float(high)


def is_successful(gap: float | None, epsilon: float) -> bool:
    """A feasible answer with relative gap ``gap`` is a success at threshold ``epsilon``."""
    return gap is not None and not (isinstance(gap, float) and math.isnan(gap)) and gap <= epsilon


def method_metrics(runs: pd.DataFrame, epsilon: float = 0.0, resamples: int = RESAMPLES,
                   seed: int = SEED) -> MethodMetrics:
    """The metrics of one method on one instance from its rows of the results table
    (:func:`qbench.store.load`): columns ``status``, ``feasible``, ``gap``, ``reference``,
    ``success_probability``, ``time_total`` and, where present, ``time_to_best``."""
    if epsilon < 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")
    ok = (runs["status"] == "ok").to_numpy()
    feasible = ok & runs["feasible"].fillna(False).astype(bool).to_numpy()
    has_reference = runs["reference"].notna().any()
    successful = None
    p_s = None
    interval = None
    seconds = _column(runs, "time_total").to_numpy(dtype=float)
    timed = len(runs) > 0 and bool(np.isfinite(seconds).all())
    if has_reference:
        success = feasible & np.array([is_successful(g, epsilon) for g in runs["gap"]], dtype=bool)
        successful = int(success.sum())
        p_s = successful / len(runs)
        if timed:
            low, high = bootstrap_tts99(success, seconds, resamples, seed)
            interval = TimeToSolution(tts99(p_s, seconds.mean()), low, high)
    shots = _column(runs, "success_probability")[ok].dropna()
    best_times = _column(runs, "time_to_best")[feasible].dropna()
    return MethodMetrics(
        runs=len(runs),
        feasible_runs=int(feasible.sum()),
        epsilon=float(epsilon),
        successful_runs=successful,
        run_success_probability=p_s,
        shot_success_probability=float(shots.mean()) if len(shots) else None,
        mean_run_seconds=float(seconds.mean()) if timed else None,
        tts99=interval,
        time_to_best=float(best_times.mean()) if len(best_times) else None,
    )


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """``frame[name]`` as floats (NaN where missing); all NaN when the column is absent."""
    if name not in frame:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    return pd.to_numeric(frame[name], errors="coerce").astype(float)


def qoblib_successful_runs(objectives: Sequence[float], sense: str, epsilon: float = 0.0) -> int:
    """QOBLIB's "# Successful Runs" over the *feasible* runs' objectives: those ``<= (1 + epsilon)
    f_min`` (minimisation) or ``>= (1 - epsilon) f_max`` (maximisation), where ``f_min`` /
    ``f_max`` is the best objective the algorithm found (CONTRIBUTING.md, "For Stochastic
    Algorithms"), up to rounding noise (relative ``GAP_TOLERANCE``, as the optimality gap)."""
    values = np.asarray(objectives, dtype=float)
    if values.size == 0:
        return 0
    slack = GAP_TOLERANCE * max(1.0, float(np.abs(values).max()))
    if sense == "max":
        best = values.max()
        return int((values >= (1 - epsilon) * best - slack).sum())
    best = values.min()
    return int((values <= (1 + epsilon) * best + slack).sum())
