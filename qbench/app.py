"""The Hydra application behind ``python -m qbench run``: one job = one run = one record."""

from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from qbench import runner
from qbench.records import write_record
from qbench.summary import format_summary


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def run_job(cfg: DictConfig) -> str:
    """Execute one configured run, write its record into the job's output directory."""
    hydra_cfg = HydraConfig.get()
    record = runner.execute(cfg)
    path = write_record(record, hydra_cfg.runtime.output_dir)
    stream = sys.stdout if record.status == "ok" else sys.stderr
    print(format_summary(record, path), file=stream, flush=True)
    if record.status != "ok" and hydra_cfg.mode != RunMode.MULTIRUN:
        # A single run that failed exits non-zero; a sweep carries on with its other jobs.
        sys.exit(2)
    return record.status
