"""``python -m qbench sweep experiment=NAME``: an experiment's grid, resumable, on a Hydra launcher.

1. Compose the experiment (``experiments/NAME.yaml``, the ``experiment`` config group) with
   Hydra and expand its grid exactly as Hydra's basic sweeper does (``hydra.sweeper.params``,
   plus command-line sweeps such as ``seed=0,1,2``). ``sweep.grids`` / ``sweep.factors`` make
   the grid a union of such products, for axes that only make sense together (each problem
   with its own instances, each solver with its own settings); see :func:`_grids`.
2. Give every run its stable key (:func:`qbench.records.config_key`) and its directory
   ``OUTPUT_ROOT/runs/KEY/``. Keys that already have an ``ok`` record are skipped; ``error`` and
   ``timeout`` ones too unless ``--rerun-failed``.
3. Hand the remaining runs to the configured Hydra launcher (joblib locally, submitit on Slurm;
   ``hydra/launcher=...``). Each launched job runs its configuration in a killable child process
   with the wall-clock limit ``timeout_s`` (:mod:`qbench.isolate`), under a lock on its key.
4. Show progress (done / failed / remaining, ETA) by watching the records appear, then a summary.

One record per key, written atomically into a directory named by the key: a sweep killed at any
point and started again finishes the grid with no duplicate and no missing record.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from qbench.errors import ConfigError
from qbench.params import to_plain
from qbench.records import RECORD_FILE, config_key, read_record

log = logging.getLogger(__name__)

RUNS_DIR = "runs"
LOCK_FILE = ".lock"
DEFAULT_LAUNCHER = "local"

# Hydra settings a resumable sweep relies on: each run's directory is named by its key.
_LAYOUT = ("hydra.sweep.dir=${output_root}", "hydra.sweep.subdir=" + RUNS_DIR + "/${sweep.key}")
# The hydra/launcher/ray preset shares its name with hydra-ray-launcher's schema on purpose, so
# Hydra validates the preset against it; Hydra's notice that this matching is deprecated is noise.
warnings.filterwarnings("ignore",
                        message=r"\s*'hydra/launcher/ray' is validated against ConfigStore")
# Quiet defaults (the progress bar and run.log files say what happens); overridable.
_QUIET = {"hydra/hydra_logging": "disabled", "hydra/job_logging": "disabled"}


@dataclass
class Run:
    """One point of the grid."""

    overrides: list[str]
    key: str
    config: dict[str, Any]
    status: str | None = None  # status of its existing record, None when it has none

    @property
    def label(self) -> str:
        return " ".join(o for o in self.overrides if not o.startswith("+experiment="))


@dataclass
class Plan:
    experiment: str
    root: Path
    runs: list[Run]
    rerun_failed: bool = False
    master: DictConfig | None = field(default=None, repr=False)

    @property
    def runs_dir(self) -> Path:
        return self.root / RUNS_DIR

    def counts(self) -> Counter:
        return Counter(run.status or "missing" for run in self.runs)

    @property
    def pending(self) -> list[Run]:
        retry = ("error", "timeout") if self.rerun_failed else ()
        return [r for r in self.runs if r.status is None or r.status in retry]

    def describe(self) -> str:
        c = self.counts()
        failed = c["error"] + c["timeout"]
        parts = [f"{len(self.runs)} runs", f"{c['ok']} done"]
        if failed:
            parts.append(f"{failed} failed ({c['error']} error, {c['timeout']} timeout)"
                         + ("" if self.rerun_failed else " kept; --rerun-failed retries them"))
        parts.append(f"{len(self.pending)} to run")
        return f"{self.experiment}: " + ", ".join(parts) + f"  [{self.runs_dir}]"


# --------------------------------------------------------------------------- planning


def sweep_overrides(args: Sequence[str]) -> tuple[str, list[str]]:
    """The experiment name and the Hydra overrides for the master config of a sweep."""
    from qbench import experiment_source

    names = experiment_source.experiment_names()
    experiment, rest = None, []
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and key.lstrip("+") == "experiment":
            experiment = value
        else:
            rest.append(arg)
    if not experiment:
        raise ConfigError(f"name an experiment: experiment=NAME, one of: {', '.join(names)}")
    if experiment not in names:
        raise ConfigError(f"unknown experiment {experiment!r}; choose one of: {', '.join(names)}"
                          f" (configs in {experiment_source.experiments_dir()})")
    given = {a.partition("=")[0] for a in rest}
    overrides = [f"+experiment={experiment}"]
    if "hydra/launcher" not in given:
        overrides.append(f"hydra/launcher={DEFAULT_LAUNCHER}")
    overrides += [f"{k}={v}" for k, v in _QUIET.items() if k not in given]
    overrides += [o for o in _LAYOUT if o.partition("=")[0] not in given]
    return experiment, overrides + rest


def _create_hydra():
    """A Hydra instance whose search path has qbench's configs and the experiments group."""
    # Hydra's internals: its public initialisers (initialize_config_dir and the like) take one
    # config directory, and the public way to add another (a hydra.searchpath override) would
    # replace a user's own hydra.searchpath.
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.core.global_hydra import GlobalHydra

    from qbench import experiment_source
    from qbench.registry import CONF_DIR

    GlobalHydra.instance().clear()
    search_path = create_config_search_path(str(CONF_DIR))
    search_path.append("qbench-experiments", experiment_source.search_path_entry(),
                       anchor=SearchPathQuery(provider="main"))
    return Hydra.create_main_hydra2(task_name="qbench_sweep", config_search_path=search_path)


def _compose_error(exc: BaseException) -> ConfigError:
    from qbench.overrides import _one_line

    return ConfigError(_one_line(exc))


def plan(args: Sequence[str], rerun_failed: bool = False) -> tuple[Plan, Any]:
    """Compose the experiment, expand its grid, read existing records. Returns (plan, hydra)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode
    # The basic sweeper's own expansion of sweep overrides into runs; Hydra's public Sweeper
    # interface only launches them, it has no call that returns the grid.
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    from qbench import registry

    experiment, overrides = sweep_overrides(args)
    for override in overrides:
        group, _, values = override.partition("=")
        if group.lstrip("+~") in registry.GROUPS:
            for value in values.split(","):
                registry.check_choice(group.lstrip("+~"), value)
    hydra = _create_hydra()
    try:
        # The public ConfigLoader interface: hydra.compose composes for a single run only.
        master = hydra.config_loader.load_configuration("config", overrides, run_mode=RunMode.MULTIRUN)
        HydraConfig.instance().set_config(master)
        grids = _grids(master)
        parser = OverridesParser.create(config_loader=hydra.config_loader)
        task = list(master.hydra.overrides.task)
        runs: dict[str, Run] = {}
        for grid in grids:
            parsed = parser.parse_overrides([f"{k}={v}" for k, v in grid.items()] + task)
            for combo in BasicSweeper.split_arguments(parsed, None)[0]:
                run = _compose_run(hydra, master, combo)
                runs.setdefault(run.key, run)  # grids may overlap: a key runs once
    except (HydraException, OmegaConfBaseException) as exc:
        raise _compose_error(exc) from None
    root = Path(str(master.output_root))
    result = Plan(experiment, root, list(runs.values()), rerun_failed, master)
    refresh(result)
    return result, hydra


def _grids(master: DictConfig) -> list[dict[str, str]]:
    """The grid as a union of Cartesian products, each merged over ``hydra.sweeper.params``.

    ``sweep.grids``: a list of parameter maps (one product each). ``sweep.factors``: a list of
    such lists; every choice of one map per factor is merged into one product (e.g. each
    problem with its instances x each method with its settings).
    """
    params = _as_sweep_values(to_plain(master.hydra.sweeper.params) or {})
    grids = to_plain(OmegaConf.select(master, "sweep.grids", default=None)) or []
    factors = to_plain(OmegaConf.select(master, "sweep.factors", default=None)) or []
    if factors:
        grids = grids + [{k: v for part in choice for k, v in part.items()}
                         for choice in itertools.product(*factors)]
    if not grids:
        return [params]
    return [{**params, **_as_sweep_values(grid)} for grid in grids]


def _as_sweep_values(params: dict[str, Any]) -> dict[str, str]:
    """Hydra sweep strings; a YAML list is accepted as shorthand for ``a,b,c``."""
    return {k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in params.items()}


def _compose_run(hydra: Any, master: DictConfig, combo: list[str]) -> Run:
    cfg = hydra.config_loader.load_sweep_config(master, list(combo))
    key = run_key(cfg)
    return Run(overrides=[*combo, f"++sweep.key={key}"], key=key, config=_plain_job_config(cfg))


def _plain_job_config(cfg: DictConfig) -> dict[str, Any]:
    cfg = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])
    return to_plain(cfg)


def run_key(cfg: DictConfig) -> str:
    """The key of the run that the job config ``cfg`` describes (the runner computes the same)."""
    return config_key(_plain_job_config(cfg))


def refresh(plan_: Plan) -> None:
    """Re-read the status of every run's record."""
    for run in plan_.runs:
        run.status = record_status(plan_.runs_dir / run.key / RECORD_FILE)


def record_status(path: Path) -> str | None:
    """Status of the record at ``path``; None if there is none (or it cannot be read)."""
    try:
        return read_record(path).status
    except (OSError, ValueError, TypeError):
        return None


# --------------------------------------------------------------------------- launching


def execute(plan_: Plan, hydra: Any, progress: bool = True) -> Plan:
    """Launch the plan's pending runs on its launcher, show progress, return the refreshed plan."""
    # The public launcher factory (Plugins.instantiate_launcher) wants a HydraContext, whose
    # callbacks object only Hydra's internals construct.
    from hydra._internal.callbacks import Callbacks
    from hydra.core.plugins import Plugins
    from hydra.types import HydraContext

    pending = plan_.pending
    if not pending:
        return plan_
    master = plan_.master
    callbacks = Callbacks(master)
    try:
        launcher = Plugins.instance().instantiate_launcher(
            hydra_context=HydraContext(config_loader=hydra.config_loader, callbacks=callbacks),
            task_function=sweep_job, config=master,
        )
    except (HydraException, OmegaConfBaseException, ImportError) as exc:
        raise _compose_error(exc) from None
    except RuntimeError as exc:  # Hydra: "Unknown plugin class" when the plugin is not installed
        choice = HydraConfig.get().runtime.choices.get("hydra/launcher")
        raise ConfigError(f"hydra/launcher={choice}: {exc}; its plugin is not installed (see "
                          f"qbench/conf/hydra/launcher/{choice}.yaml)") from None
    plan_.runs_dir.mkdir(parents=True, exist_ok=True)
    with _progress(plan_, pending, enabled=progress):
        callbacks.on_multirun_start(config=master, config_name="config")
        results = launcher.launch([run.overrides for run in pending], initial_job_idx=0)
        callbacks.on_multirun_end(config=master, config_name="config")
    for result in results:
        if result.status.name == "FAILED":  # the job wrapper itself failed; the run has no record
            log.warning("a sweep job failed outside its run: %s", result._return_value)
    refresh(plan_)
    return plan_


@contextlib.contextmanager
def _progress(plan_: Plan, pending: list[Run], enabled: bool) -> Iterator[None]:
    """A tqdm bar over the pending runs, fed by the records appearing on disk (any launcher)."""
    from tqdm import tqdm

    started = time.time()
    stop = threading.Event()
    bar = tqdm(total=len(pending), desc=plan_.experiment, unit="run", disable=not enabled,
               dynamic_ncols=True)

    def poll() -> None:
        seen: dict[str, str] = {}
        while True:
            new = 0
            for run in pending:
                path = plan_.runs_dir / run.key / RECORD_FILE
                if run.key in seen or not path.exists():
                    continue
                with contextlib.suppress(OSError):
                    # A retried run's old record is removed when it starts; this guards the gap.
                    if path.stat().st_mtime >= started - 1 and (status := record_status(path)):
                        seen[run.key] = status
                        new += 1
            if new:
                failed = sum(1 for s in seen.values() if s != "ok")
                bar.set_postfix(ok=len(seen) - failed, failed=failed,
                                remaining=len(pending) - len(seen), refresh=False)
                bar.update(new)
            if stop.wait(1.0):
                return

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        bar.close()


# --------------------------------------------------------------------------- one job


def sweep_job(cfg: DictConfig) -> str:
    """The task function each launcher runs: one grid point = one run = one record."""
    from qbench.isolate import run_isolated

    directory = Path(HydraConfig.get().runtime.output_dir)
    config = _plain_job_config(cfg)
    expected = str(OmegaConf.select(cfg, "sweep.key"))
    with _locked(directory / LOCK_FILE):
        # Another process may have finished this key meanwhile (an overlapping sweep, or a
        # worker of a killed sweep that was still running): never run an ``ok`` key twice.
        if record_status(directory / RECORD_FILE) == "ok":
            return "skipped"
        for stale in directory.glob(".record-*.tmp"):  # left by a process killed mid-write
            stale.unlink(missing_ok=True)
        if config_key(config) != expected:
            raise RuntimeError(f"run key changed between planning and running ({expected}); "
                               "does the config use a non-deterministic interpolation?")
        timeout = config.get("timeout_s")
        memory = (config.get("sweep") or {}).get("memory_limit_mb")
        return run_isolated(config, directory, float(timeout) if timeout else None, memory)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on one key for the time of its run (released if the process dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- command


def main(args: Sequence[str], rerun_failed: bool = False, dry_run: bool = False,
         progress: bool = True) -> int:
    """The ``sweep`` command. Exit status 0 when every run of the grid has a record."""
    plan_, hydra = plan(args, rerun_failed)
    print(plan_.describe(), flush=True)
    if dry_run:
        for run in plan_.runs:
            print(f"  {run.key}  {run.status or 'pending':<8} {run.label}")
        return 0
    started = time.perf_counter()
    plan_ = execute(plan_, hydra, progress=progress)
    c = plan_.counts()
    print(f"{plan_.experiment}: {c['ok']} ok, {c['error']} error, {c['timeout']} timeout, "
          f"{c['missing']} missing of {len(plan_.runs)} runs in {time.perf_counter() - started:.1f} s"
          f"; report: python -m qbench report {plan_.root}", flush=True)
    return 0 if not c["missing"] else 1

