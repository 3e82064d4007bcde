"""A run's key reaches its run unchanged, whatever hex digits it has."""

from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from qbench import sweep


@pytest.mark.parametrize("key", ["249270452331e347", "0123456789012345", "1e10000000000000", "00ff00ff00ff00ff"])
def test_keys_that_read_as_numbers_stay_strings(key, monkeypatch):
    monkeypatch.setattr(sweep, "config_key", lambda config: key)
    composer = sweep._Composer.__new__(sweep._Composer)
    monkeypatch.setattr(composer, "job_config", lambda combo: {}, raising=False)
    run = composer.run(["seed=0"])
    (override,) = [o for o in run.overrides if "sweep.key" in o]
    (parsed,) = OverridesParser.create().parse_overrides([override])
    assert parsed.value() == key and run.key == key
