"""The error record of a ``run`` refused before Hydra starts it.

``run`` checks its overrides before handing them to Hydra (:mod:`qbench.overrides`), so a run
refused there (an unknown choice, an unknown field, a bad seed, a credential given as a config
value) gets no run directory from Hydra. It still leaves a record with ``status: error``, in
the directory Hydra would have made (``hydra.run.dir``, or job 0 of ``hydra.sweep.dir`` for
``-m``). Its ``config`` is the composed config when the overrides composed, otherwise the
overrides themselves with the names of the chosen (or default) problem, solver, backend and
formulation. Secrets are masked as in every record.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from qbench import registry, secrets
from qbench.overrides import split_overrides
from qbench.records import write_record

#: Overrides that decide where a run's directory is.
_LOCATION_KEYS = ("output_root", "hydra.run.dir", "hydra.sweep.dir", "hydra.sweep.subdir")


def write_refused_record(argv: list[str], error: str, config: dict[str, Any] | None) -> Path | None:
    """Write the error record of the refused run ``argv``; its path, or None where none could
    be written (the directory itself cannot be made)."""
    from qbench.runner import new_record

    overrides = split_overrides(argv)
    config = config if config is not None else _identity(overrides)
    record = new_record(config)
    record.status, record.error = "error", secrets.redact(error)
    try:
        directory = _run_directory(overrides, config, multirun="-m" in argv or "--multirun" in argv)
        return write_record(record, directory)
    except (HydraException, OmegaConfBaseException, OSError):
        return None


def _given(overrides: list[str]) -> dict[str, str]:
    pairs = (o.partition("=") for o in overrides)
    return {key.lstrip("+~"): value for key, sep, value in pairs if sep}


def _identity(overrides: list[str]) -> dict[str, Any]:
    """What is known of a run whose overrides did not compose: the overrides, and the names of
    its components (as given, else the defaults)."""
    given = _given(overrides)
    default = _compose([])
    config: dict[str, Any] = {"overrides": list(overrides)}
    for group in registry.GROUPS:
        config[group] = {"name": given.get(group, default[group].name)}
    config["problem"]["instance"] = given.get("problem.instance")
    seed = given.get("seed", default.seed)
    config["seed"] = int(seed) if re.fullmatch(r"\d+", str(seed)) else seed
    return config


def _run_directory(overrides: list[str], config: dict[str, Any], multirun: bool) -> Path:
    """The directory Hydra would have given this run, from qbench's own ``hydra.run.dir`` /
    ``hydra.sweep.dir`` templates and the location overrides the user gave."""
    location = [o for o in overrides
                if o.partition("=")[0].lstrip("+~") in _LOCATION_KEYS and secrets.redact(o) == o]
    try:
        cfg = _compose(location, hydra=True)
    except (HydraException, OmegaConfBaseException):
        cfg = _compose([], hydra=True)
    for group in ("problem", "solver"):
        name = str((config.get(group) or {}).get("name"))
        OmegaConf.update(cfg, f"{group}.name", re.sub(r"[^\w.-]", "_", secrets.redact(name)), merge=False)
    if multirun:
        OmegaConf.update(cfg, "hydra.job.num", 0, merge=False)
        return Path(cfg.hydra.sweep.dir) / str(cfg.hydra.sweep.subdir)
    return Path(cfg.hydra.run.dir)


def _compose(overrides: list[str], hydra: bool = False) -> DictConfig:
    with initialize_config_dir(config_dir=str(registry.CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=hydra)
