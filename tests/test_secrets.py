"""Credentials never reach a file or the terminal, whatever path they arrive by: an override
with or without ``+``, a backend field such as ``backend.instance``, a sweep value, an
experiment config, an interpolation, or the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qbench import secrets
from qbench.records import RunRecord, write_record
from tests.helpers import repo_root

TOKEN = "qbench-test-token-5b1e9d07c4a3f862"  # fixed: xdist workers must collect the same test ids


@pytest.fixture(autouse=True)
def _fresh_secrets(monkeypatch):
    """Each test starts with no registered secrets (the registry is process-wide)."""
    monkeypatch.setattr(secrets, "_secrets", set())


def _qbench(*args: str, env: dict | None = None, experiments: Path | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(repo_root()), "QISKIT_IBM_TOKEN": TOKEN, **(env or {})}
    if experiments is not None:
        environment["QBENCH_EXPERIMENTS"] = str(experiments)
    return subprocess.run([sys.executable, "-m", "qbench", *args], capture_output=True, text=True,
                          cwd=repo_root(), env=environment, timeout=300)


def _assert_nowhere(root: Path, out: subprocess.CompletedProcess, secret: str = TOKEN) -> None:
    """Not in any file name or file content under ``root``, nor on stdout/stderr."""
    assert secret not in out.stdout and secret not in out.stderr, out.stdout + out.stderr
    for path in root.rglob("*"):
        assert secret not in str(path.relative_to(root)), path
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def _records(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("record.json"))]


TINY = ("problem=mdkp", "problem.generator.n_items=4", "solver=exact")


@pytest.mark.slow
@pytest.mark.parametrize("backend,override", [
    ("ibm", f"+backend.token={TOKEN}"),                    # a new field: Hydra would save it, then refuse it
    ("statevector", f"+backend.token={TOKEN}"),
    ("ibm", f"backend.token={TOKEN}"),                     # no such field: Hydra's error echoes the value
    ("ibm", f"backend.instance={TOKEN}"),                  # a real field holding the registered token
    ("ibm", "backend.instance=${oc.env:QISKIT_IBM_TOKEN}"),  # resolved into the config only
    ("statevector", f"+backend.api_key={TOKEN}-other"),    # a credential-like name, value not in the env
], ids=["plus-token-ibm", "plus-token-statevector", "token", "instance", "instance-interpolated", "api-key"])
def test_a_credential_given_as_config_is_refused_and_written_nowhere(tmp_path, backend, override):
    out = _qbench("run", *TINY, f"backend={backend}", override, f"output_root={tmp_path}")
    assert out.returncode == 2, out.stdout + out.stderr
    (line,) = [l for l in out.stderr.splitlines() if l.startswith("qbench: error:")]
    assert "credential" in line and "backend." in line, line
    (record,) = _records(tmp_path)  # the refused run still leaves its error record
    assert record["status"] == "error"
    _assert_nowhere(tmp_path, out)
    _assert_nowhere(tmp_path, out, f"{TOKEN}-other")


@pytest.mark.slow
def test_a_credential_among_multirun_values_is_refused_before_hydra_saves_it(tmp_path):
    out = _qbench("run", "-m", *TINY, "backend=ibm", f"backend.instance=open,{TOKEN}", f"output_root={tmp_path}")
    assert out.returncode == 2 and "backend.instance: holds a registered credential" in out.stderr
    assert not list(tmp_path.rglob(".hydra"))
    _assert_nowhere(tmp_path, out)


@pytest.mark.slow
def test_the_environment_token_is_in_no_file_of_a_run(tmp_path):
    out = _qbench("run", *TINY, f"output_root={tmp_path}")
    assert out.returncode == 0, out.stderr
    (record,) = _records(tmp_path)
    assert record["status"] == "ok" and list(tmp_path.rglob(".hydra/config.yaml"))
    _assert_nowhere(tmp_path, out)


EXPERIMENT = """\
# @package _global_
# Credential test grid: 2 runs.
defaults:
  - override /backend: ibm
output_root: {root}
timeout_s: 60
progress: false
problem:
  generator: {{n_items: 4, n_constraints: 2}}
sweep:
  experiment: leaky
hydra:
  sweeper:
    params:
      solver: scip,exact
"""


@pytest.mark.slow
@pytest.mark.parametrize("where", ["override", "experiment"])
def test_a_sweep_refuses_a_credential_in_its_grid(tmp_path, where):
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    root = tmp_path / "out"
    text = EXPERIMENT.format(root=root)
    if where == "experiment":
        text += "backend:\n  instance: ${oc.env:QISKIT_IBM_TOKEN}\n"
    (experiments / "leaky.yaml").write_text(text)
    extra = [f"backend.instance={TOKEN}"] if where == "override" else []
    out = _qbench("sweep", "experiment=leaky", *extra, "--no-progress", experiments=experiments)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith("qbench: error: backend.instance: holds a registered credential")
    assert not root.exists() or not _records(root)
    _assert_nowhere(tmp_path, out)


# ------------------------------------------------------------------ the pieces, in process


def test_records_mask_registered_secrets_and_credential_fields(tmp_path):
    secrets.register(TOKEN)
    record = RunRecord(key="k", problem="mdkp", instance="i", formulation="penalty", solver="scip",
                       backend=None, seed=0, status="error", error=f"refused {TOKEN}",
                       config={"backend": {"instance": TOKEN, "api_key": "not-registered", "token": None},
                               "overrides": [f"backend.instance={TOKEN}"]})
    text = write_record(record, tmp_path).read_text()
    data = json.loads(text)
    assert TOKEN not in text and "not-registered" not in text
    assert data["error"] == "refused ***" and data["config"]["overrides"] == ["backend.instance=***"]
    assert data["config"]["backend"] == {"instance": "***", "api_key": "***", "token": None}


def test_environment_credentials_are_masked_even_unregistered(monkeypatch):
    monkeypatch.setenv("QISKIT_IBM_TOKEN", TOKEN)
    assert secrets.redact(f"token {TOKEN}.") == "token ***."


def test_hydra_yaml_files_holding_a_secret_are_rewritten_masked(tmp_path):
    secrets.register(TOKEN)
    (tmp_path / "overrides.yaml").write_text(f"- +backend.token={TOKEN}\n- solver=scip\n")
    (tmp_path / "config.yaml").write_text(f"backend:\n  token: {TOKEN}\n  device: null\nseed: 0\n")
    clean = "seed: 3\n"
    (tmp_path / "hydra.yaml").write_text(clean)
    secrets.redact_yaml_files(tmp_path)
    assert yaml.safe_load((tmp_path / "overrides.yaml").read_text()) == ["+backend.token=***", "solver=scip"]
    assert yaml.safe_load((tmp_path / "config.yaml").read_text()) == {"backend": {"token": "***", "device": None}, "seed": 0}
    assert (tmp_path / "hydra.yaml").read_text() == clean  # untouched


def test_credential_names():
    assert all(secrets.is_credential_name(n) for n in
               ("backend.token", "+backend.api_key", "password", "x.client_secret", "AUTH_KEY", "credentials"))
    assert not any(secrets.is_credential_name(n) for n in ("sweep.key", "backend.instance", "seed", "keys"))
