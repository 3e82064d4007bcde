"""Run records: one schema, atomic writes, stable keys, secrets never stored."""

import json
import math
import os

import pytest

from qbench.records import RunRecord, config_key, read_record, write_record
from qbench.problem import approximation_ratio, optimality_gap


def record(**fields) -> RunRecord:
    base = dict(key="k", problem="mdkp", instance="i", formulation="penalty", solver="scip", backend=None, seed=0)
    return RunRecord(**{**base, **fields})


def test_round_trip_and_non_finite_numbers_become_null(tmp_path):
    path = write_record(record(objective=math.inf, solver_info={"trace": [1.0, math.nan]}), tmp_path)
    data = json.loads(path.read_text())
    assert data["objective"] is None and data["solver_info"]["trace"] == [1.0, None]
    assert read_record(path).solver == "scip"


def test_failed_write_leaves_the_previous_record_intact(tmp_path, monkeypatch):
    write_record(record(objective=1.0), tmp_path)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_record(record(objective=2.0), tmp_path)
    assert read_record(tmp_path / "record.json").objective == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


def test_key_ignores_volatile_settings_only():
    a = {"problem": {"name": "mdkp"}, "seed": 1, "output_root": "x", "progress": True}
    b = {"problem": {"name": "mdkp"}, "seed": 1, "output_root": "y", "progress": False}
    c = {"problem": {"name": "mdkp"}, "seed": 2, "output_root": "x", "progress": True}
    assert config_key(a) == config_key(b) != config_key(c)


@pytest.mark.parametrize("objective,reference,sense,gap", [
    (90, 100, "max", 0.10), (100, 100, "max", 0.0), (110, 100, "min", 0.10),
    (-1.0, -1.25, "min", 0.2), (3, 0, "min", 3.0), (5, None, "min", None),
    # float noise from summing in another order is no gap; a real 1e-6 difference is one
    (-1.2332071988780002, -1.233207198878, "min", 0.0), (3418 - 1e-10, 3418, "max", 0.0),
    (-1.233206, -1.233207, "min", 1e-6 / 1.233207),
])
def test_gap_is_sign_correct(objective, reference, sense, gap):
    value = optimality_gap(objective, reference, sense)
    assert value == (None if gap is None else pytest.approx(gap, rel=1e-6, abs=0))


def test_approximation_ratio_only_for_positive_values():
    assert approximation_ratio(90, 100, "max") == pytest.approx(0.9)
    assert approximation_ratio(125, 100, "min") == pytest.approx(0.8)
    assert approximation_ratio(-1, -2, "min") is None
