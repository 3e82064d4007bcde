"""The Hydra application behind ``python -m qbench run``: one job = one run = one record."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from qbench import runner, secrets
from qbench.records import write_record
from qbench.summary import format_summary


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def run_job(cfg: DictConfig) -> str:
    """Execute one configured run, write its record into the job's output directory."""
    hydra_cfg = HydraConfig.get()
    _redact_hydra_files(hydra_cfg)
    record = runner.execute(cfg)
    _redact_hydra_files(hydra_cfg)  # again: the run may have registered a secret (a saved account's)
    path = write_record(record, hydra_cfg.runtime.output_dir)
    stream = sys.stdout if record.status == "ok" else sys.stderr
    print(secrets.redact(format_summary(record, path)), file=stream, flush=True)
    if record.error_traceback and os.environ.get("QBENCH_DEBUG"):
        print(record.error_traceback, file=sys.stderr, flush=True)  # redacted by the runner
    if record.status != "ok" and hydra_cfg.mode != RunMode.MULTIRUN:
        # A single run that failed exits non-zero; a sweep carries on with its other jobs.
        sys.exit(2)
    return record.status


def _redact_hydra_files(hydra_cfg: DictConfig) -> None:
    """Mask secrets in the config and overrides Hydra saved before the job ran. Credentials are
    refused before Hydra starts (:mod:`qbench.overrides`); this covers whatever slips through."""
    if hydra_cfg.output_subdir is not None:
        secrets.redact_yaml_files(Path(hydra_cfg.runtime.output_dir) / hydra_cfg.output_subdir)
    if hydra_cfg.mode == RunMode.MULTIRUN:
        secrets.redact_yaml_files(hydra_cfg.sweep.dir)  # multirun.yaml
