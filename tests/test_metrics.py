"""Success and time to solution: hand-computed cases, the bootstrap against numpy done by hand,
edge cases, QOBLIB's success count."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from qbench import metrics


def test_tts99_of_ten_runs_with_three_successes_at_two_seconds():
    assert metrics.tts99(0.3, 2.0) == pytest.approx(2 * math.log(0.01) / math.log(0.7))
    assert metrics.tts99(0.3, 2.0) == pytest.approx(25.8228, abs=1e-4)


def test_tts99_edge_cases():
    assert metrics.tts99(0.0, 2.0) == math.inf  # never succeeds
    assert metrics.tts99(1.0, 2.0) == 2.0  # one run suffices
    assert metrics.tts99(0.995, 2.0) == 2.0  # p_s >= 0.99: one run already has 99 % confidence
    assert metrics.tts99(0.99, 2.0) == 2.0
    just_below = metrics.tts99(0.98, 2.0)
    assert just_below == pytest.approx(2 * math.log(0.01) / math.log(0.02)) and just_below > 2.0
    vector = metrics.tts99(np.array([0.0, 0.3, 1.0]), np.array([2.0, 2.0, 4.0]))
    assert vector.tolist() == [math.inf, pytest.approx(25.8228, abs=1e-4), 4.0]


def _bootstrap_by_hand(successes, seconds, resamples, seed, confidence):
    """The percentile bootstrap written out with numpy, independently of qbench.metrics."""
    successes, seconds = np.asarray(successes, float), np.asarray(seconds, float)
    n = len(successes)
    picks = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    values = []
    for row in picks:
        p, t = successes[row].mean(), seconds[row].mean()
        if p >= 0.99:
            values.append(t)
        elif p == 0:
            values.append(math.inf)
        else:
            values.append(t * math.log(0.01) / math.log(1 - p))
    values = np.sort(values)
    # Empirical quantile (inverted CDF): the smallest value whose ECDF reaches q.
    low = values[math.ceil((1 - confidence) / 2 * resamples) - 1]
    high = values[math.ceil((1 + confidence) / 2 * resamples) - 1]
    return low, high


def test_bootstrap_interval_equals_the_direct_numpy_computation():
    successes = [True] * 3 + [False] * 7
    seconds = [2.0] * 10
    low, high = metrics.bootstrap_tts99(successes, seconds, resamples=2000, seed=7)
    assert (low, high) == pytest.approx(_bootstrap_by_hand(successes, seconds, 2000, 7, 0.95), rel=1e-12)
    assert low < metrics.tts99(0.3, 2.0) < high
    # Varying run times enter through the mean time of each resample.
    times = [1.0, 2.0, 3.0, 2.5, 1.5, 4.0, 2.0, 1.0, 3.5, 2.5]
    assert metrics.bootstrap_tts99(successes, times, 500, 3) == \
        pytest.approx(_bootstrap_by_hand(successes, times, 500, 3, 0.95), rel=1e-12)
    assert metrics.bootstrap_tts99(successes, times, 500, 3, confidence=0.5) == \
        pytest.approx(_bootstrap_by_hand(successes, times, 500, 3, 0.5), rel=1e-12)


def test_bootstrap_is_seeded():
    successes = [k % 3 == 0 for k in range(20)]
    seconds = [1.0 + 0.1 * k for k in range(20)]
    first = metrics.bootstrap_tts99(successes, seconds, resamples=200, seed=1)
    assert first == metrics.bootstrap_tts99(successes, seconds, resamples=200, seed=1)
    assert first != metrics.bootstrap_tts99(successes, seconds, resamples=200, seed=2)


def test_bootstrap_edge_cases():
    assert metrics.bootstrap_tts99([False] * 6, [1.0] * 6) == (math.inf, math.inf)  # p_s = 0
    low, high = metrics.bootstrap_tts99([True] * 5, [1.0, 2.0, 3.0, 4.0, 5.0])  # p_s = 1: TTS99 = t
    assert 1.0 <= low < 3.0 < high <= 5.0
    assert metrics.bootstrap_tts99([True], [2.0]) == (2.0, 2.0)  # a single run
    with pytest.raises(ValueError):
        metrics.bootstrap_tts99([True, False], [1.0])


def runs(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"status": ["ok"] * n, "feasible": [True] * n, "gap": [0.0] * n, "reference": [10.0] * n,
            "success_probability": [np.nan] * n, "time_total": [2.0] * n, "time_to_best": [np.nan] * n}
    base.update(columns)
    return pd.DataFrame(base)


def test_method_metrics_counts_every_record_as_a_run():
    frame = runs(status=["ok"] * 8 + ["error", "timeout"],
                 feasible=[True] * 5 + [False] * 3 + [None, None],
                 gap=[0.0, 0.0, 0.0, 0.05, 0.2, None, None, None, None, None],
                 success_probability=[0.1, 0.3, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
                 time_to_best=[1.0, 1.5, 0.5, 2.0, 2.0, np.nan, np.nan, np.nan, np.nan, np.nan])
    result = metrics.method_metrics(frame)
    assert (result.runs, result.feasible_runs, result.successful_runs) == (10, 5, 3)
    assert result.run_success_probability == 0.3
    assert result.tts99.seconds == pytest.approx(25.8228, abs=1e-4)
    assert (result.tts99.low, result.tts99.high) == metrics.bootstrap_tts99([True] * 3 + [False] * 7, [2.0] * 10)
    assert result.shot_success_probability == pytest.approx(0.2)
    assert result.time_to_best == pytest.approx(7.0 / 5)
    assert result.mean_run_seconds == 2.0
    looser = metrics.method_metrics(frame, epsilon=0.05)
    assert looser.successful_runs == 4 and looser.run_success_probability == 0.4
    assert metrics.method_metrics(frame, epsilon=0.2).successful_runs == 5


def test_success_needs_a_reference_and_a_time_for_tts():
    result = metrics.method_metrics(runs(reference=[np.nan] * 3, gap=[None] * 3))
    assert result.successful_runs is None and result.run_success_probability is None and result.tts99 is None
    assert result.feasible_runs == 3
    untimed = metrics.method_metrics(runs(time_total=[1.0, np.nan]))
    assert untimed.run_success_probability == 1.0 and untimed.tts99 is None
    with pytest.raises(ValueError):
        metrics.method_metrics(runs(status=["ok"]), epsilon=-0.1)


def test_is_successful_is_a_threshold_on_the_gap():
    assert metrics.is_successful(0.0, 0.0) and not metrics.is_successful(1e-6, 0.0)
    assert metrics.is_successful(0.01, 0.01) and not metrics.is_successful(0.0101, 0.01)
    assert not metrics.is_successful(None, 0.5) and not metrics.is_successful(float("nan"), 0.5)
    assert metrics.is_successful(-0.01, 0.0)  # better than a best-known (unproven) reference


def test_qoblib_successful_runs_is_relative_to_the_methods_own_best():
    # Maximisation (MIS): best 10; epsilon 0.1 admits >= 9.
    assert metrics.qoblib_successful_runs([10, 9, 8, 10], "max") == 2
    assert metrics.qoblib_successful_runs([10, 9, 8, 10], "max", epsilon=0.1) == 3
    # Minimisation (market split violation): best 0; (1 + eps) * 0 admits only 0.
    assert metrics.qoblib_successful_runs([0, 0, 3], "min", epsilon=0.5) == 2
    assert metrics.qoblib_successful_runs([4, 5, 8], "min", epsilon=0.25) == 2
    assert metrics.qoblib_successful_runs([], "min") == 0
    assert metrics.qoblib_successful_runs([3323.0, 3323.0 + 1e-9, 3324.0], "min") == 2  # summation noise
