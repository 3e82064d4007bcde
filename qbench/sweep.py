"""``python -m qbench sweep experiment=NAME``: an experiment's grid, resumable, on a Hydra launcher.

1. Compose the experiment (``experiments/NAME.yaml``, the ``experiment`` config group) with
   Hydra and expand its grid exactly as Hydra's basic sweeper does (``hydra.sweeper.params``,
   plus command-line sweeps such as ``seed=0,1,2``). ``sweep.grids`` / ``sweep.factors`` /
   ``sweep.products`` make the grid a union of such products, for axes that only make sense together (each problem
   with its own instances, each solver with its own settings); see :func:`_grids`.
2. Give every run its stable key (:func:`qbench.records.config_key`) and its directory
   ``OUTPUT_ROOT/runs/KEY/``. Keys that already have an ``ok`` record are not run again; ``error``
   and ``timeout`` ones neither unless ``--rerun-failed``. ``skipped`` ones (estimated past
   ``timeout_s`` or the memory available, :mod:`qbench.estimate`) are estimated again, so that a
   longer ``timeout_s`` or ``--force`` starts them. ``--dry-run`` prints each run's estimate and
   the grid's totals.
3. Hand the remaining runs to the configured Hydra launcher (joblib locally, submitit on Slurm;
   ``hydra/launcher=...``). Each launched job runs its configuration in a killable child process
   with the wall-clock limit ``timeout_s`` (:mod:`qbench.isolate`), under a lock on its key.
4. Show progress (done / failed / remaining, ETA) by watching the records appear, then a summary.

One record per key, written atomically into a directory named by the key: a sweep killed at any
point and started again finishes the grid with no duplicate and no missing record.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import itertools
import logging
import os
import shutil
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from qbench import errors, secrets
from qbench.errors import ConfigError
from qbench.params import to_plain
from qbench.registry import GROUPS
from qbench.records import RECORD_FILE, config_key, read_record
from qbench.settings import run_settings

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
#: The sweep's main process, for launcher workers to notice when it is gone (:func:`_watch_sweep`).
_SWEEP_PID_ENV = "QBENCH_SWEEP_PID"


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
        retry = ("error", "timeout", "skipped") if self.rerun_failed else ("skipped",)
        return [r for r in self.runs if r.status is None or r.status in retry]

    def describe(self) -> str:
        c = self.counts()
        failed = c["error"] + c["timeout"]
        parts = [f"{len(self.runs)} runs", f"{c['ok']} done"]
        if failed:
            parts.append(f"{failed} failed ({c['error']} error, {c['timeout']} timeout)"
                         + ("" if self.rerun_failed else " kept; --rerun-failed retries them"))
        if c["skipped"]:
            parts.append(f"{c['skipped']} skipped (estimated past timeout_s or memory; estimated again)")
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
    rest = _sweep_dir_as_output_root(rest)
    given = {a.partition("=")[0] for a in rest}
    overrides = [f"+experiment={experiment}"]
    if "hydra/launcher" not in given:
        overrides.append(f"hydra/launcher={DEFAULT_LAUNCHER}")
    overrides += [f"{k}={v}" for k, v in _QUIET.items() if k not in given]
    overrides += [o for o in _LAYOUT if o.partition("=")[0] not in given]
    return experiment, overrides + rest


def _sweep_dir_as_output_root(args: list[str]) -> list[str]:
    """``hydra.sweep.dir=DIR`` names where the sweep writes: honoured as ``output_root=DIR`` (the
    records always go to ``OUTPUT_ROOT/runs/KEY``, which is what resuming reads)."""
    given = {a.partition("=")[0].lstrip("+"): a.partition("=")[2] for a in args}
    if "hydra.sweep.subdir" in given:
        raise ConfigError("hydra.sweep.subdir: a sweep names each run's directory by its key "
                          f"(OUTPUT_ROOT/{RUNS_DIR}/KEY) so that it can resume; it cannot be set")
    if "hydra.sweep.dir" not in given:
        return args
    if "output_root" in given and given["output_root"] != given["hydra.sweep.dir"]:
        raise ConfigError(f"hydra.sweep.dir={given['hydra.sweep.dir']} and output_root="
                          f"{given['output_root']} disagree: a sweep writes under output_root; set only that")
    return [f"output_root={given['hydra.sweep.dir']}" if a.partition("=")[0].lstrip("+") == "hydra.sweep.dir"
            else a for a in args if a.partition("=")[0] != "output_root"]


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

    secrets.check_overrides(list(args))
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
        composer = _Composer(hydra, master, parser)
        runs: dict[str, Run] = {}
        for grid in grids:
            parsed = parser.parse_overrides([f"{k}={v}" for k, v in grid.items()] + task)
            for combo in BasicSweeper.split_arguments(parsed, None)[0]:
                run = composer.run(combo)
                runs.setdefault(run.key, run)  # grids may overlap: a key runs once
    except (HydraException, OmegaConfBaseException) as exc:
        raise _compose_error(exc) from None
    for run in runs.values():
        # The sweep's own settings (seed, timeout_s, memory limit, reference) and credentials are
        # checked here, for the whole grid; component parameters are each run's to check (an
        # invalid one leaves that run's error record).
        run_settings(run.config)
        secrets.check_config(run.config)
    root = Path(str(master.output_root))
    result = Plan(experiment, root, list(runs.values()), rerun_failed, master)
    refresh(result, warn=errors.warn)
    return result, hydra


def _grids(master: DictConfig) -> list[dict[str, str]]:
    """The grid as a union of Cartesian products, each merged over ``hydra.sweeper.params``.

    ``sweep.grids``: a list of parameter maps (one product each). ``sweep.factors``: a list of
    such lists; every choice of one map per factor is merged into one product (e.g. each
    problem with its instances x each method with its settings). ``sweep.products``: a list of
    such ``factors`` lists, for a grid that pairs different sets (small instances x every
    method on one backend, large ones x some methods on another); a factor may be an
    interpolation of a list kept elsewhere in the config (``${sweep.sets.qaoa_family}``).
    """
    params = _as_sweep_values(to_plain(master.hydra.sweeper.params) or {})
    grids = to_plain(OmegaConf.select(master, "sweep.grids", default=None)) or []
    factors = to_plain(OmegaConf.select(master, "sweep.factors", default=None)) or []
    products = to_plain(OmegaConf.select(master, "sweep.products", default=None)) or []
    for product in ([factors] if factors else []) + products:
        grids = grids + [{k: v for part in choice for k, v in part.items()}
                         for choice in itertools.product(*product)]
    if not grids:
        return [params]
    return [{**params, **_as_sweep_values(grid)} for grid in grids]


def _as_sweep_values(params: dict[str, Any]) -> dict[str, str]:
    """Hydra sweep strings; a YAML list is accepted as shorthand for ``a,b,c``."""
    return {k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in params.items()}


class _Composer:
    """The job config of each grid point, as Hydra composes it for the job.

    Hydra composes a point in 0.1-0.3 s (it re-reads and merges every config file of the
    defaults tree: 100 s of CPU for the comparative study's 1075 points, measured). Points that
    choose the same config groups (``problem=``, ``solver=``, ``backend=``, ``+experiment=``,
    ``hydra/...``) differ only in values, which Hydra applies after composing, one
    ``OmegaConf.update`` each: so each distinct choice of groups is composed once by Hydra and
    each point's values are applied to a copy the way Hydra applies them (``key=v`` must exist,
    ``+key=v`` must not, ``++key=v`` either way). The grid's own definition (``sweep.grids``,
    ``factors``, ``products``, ``sets``: the same in every point) is resolved once per
    composition rather than copied and resolved per point. Points with a deletion (``~key``)
    or a value for ``sweep.*`` are composed in full. A job recomputes its key from the config
    Hydra gives it and refuses to run on a mismatch (:func:`sweep_job`).
    """

    def __init__(self, hydra: Any, master: DictConfig, parser: Any) -> None:
        self.hydra, self.master, self.parser = hydra, master, parser
        self._bases: dict[tuple[str, ...], tuple[DictConfig, DictConfig, dict[str, Any]]] = {}

    def run(self, combo: Sequence[str]) -> Run:
        config = self.job_config(combo)
        key = config_key(config)
        # Quoted: Hydra's override grammar reads an unquoted 249270452331e347 as a float (inf).
        return Run(overrides=[*combo, f"++sweep.key='{key}'"], key=key, config=config)

    def job_config(self, combo: Sequence[str]) -> dict[str, Any]:
        """The plain, resolved job config of the grid point ``combo``."""
        groups, values = [], []
        for override in self.parser.parse_overrides(list(combo)):
            key = override.key_or_group
            is_group = "/" in key or key in _GROUPS or key.startswith("hydra.")
            (groups if is_group else values).append(override)
        lines = tuple(o.input_line for o in groups)
        if any(o.is_delete() or o.is_sweep_override() for o in values):
            return to_plain(_job_part(self.hydra.config_loader.load_sweep_config(self.master, list(combo))))
        if lines not in self._bases:
            full = _job_part(self.hydra.config_loader.load_sweep_config(self.master, list(lines)))
            self._bases[lines] = (full, *_without_grid(full))
        full, lean, grid = self._bases[lines]
        if any(o.key_or_group == "sweep" or o.key_or_group.startswith("sweep.") for o in values):
            cfg = copy.deepcopy(full)
            for override in values:
                _apply_value(cfg, override)
            return to_plain(cfg)
        cfg = copy.deepcopy(lean)
        for override in values:
            _apply_value(cfg, override)
        config = to_plain(cfg)
        config["sweep"].update(copy.deepcopy(grid))
        return config


#: Keys of ``sweep`` that define the grid (the same in every point of it).
_GRID_KEYS = ("grids", "factors", "products", "sets")


def _without_grid(cfg: DictConfig) -> tuple[DictConfig, dict[str, Any]]:
    """``cfg`` without the grid's definition in ``sweep``, and that definition resolved."""
    sweep = cfg.get("sweep")
    if sweep is None:
        return cfg, {}
    grid = {k: to_plain(sweep[k]) for k in _GRID_KEYS if k in sweep}
    lean = copy.deepcopy(cfg)
    with open_dict(lean):
        for k in grid:
            del lean.sweep[k]
    return lean, grid


#: Config groups a grid may choose (``qbench/conf/*/`` and the experiments).
_GROUPS = frozenset((*GROUPS, "experiment"))


def _job_part(cfg: DictConfig) -> DictConfig:
    """The job's own config (no ``hydra`` node), struct as Hydra leaves it."""
    job = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])
    OmegaConf.set_struct(job, True)
    return job


def _apply_value(cfg: DictConfig, override: Any) -> None:
    """One value override, as Hydra's config loader applies it after composition."""
    key, value = override.key_or_group, override.value()
    try:
        if override.is_add():
            if OmegaConf.select(cfg, key, throw_on_missing=False) is not None and not isinstance(value, (dict, list)):
                raise ConfigError(f"Could not append to config. An item is already at '{key}'; "
                                  f"use {override.input_line[1:]!r} or '+{override.input_line}'")
            OmegaConf.update(cfg, key, value, merge=True, force_add=True)
        elif override.is_force_add():
            OmegaConf.update(cfg, key, value, merge=True, force_add=True)
        else:
            OmegaConf.update(cfg, key, value, merge=True)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"Could not override '{key}'. To append to your config use "
                          f"+{override.input_line} ({type(exc).__name__})") from None


def _plain_job_config(cfg: DictConfig) -> dict[str, Any]:
    cfg = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])
    return to_plain(cfg)


def run_key(cfg: DictConfig) -> str:
    """The key of the run that the job config ``cfg`` describes (the runner computes the same)."""
    return config_key(_plain_job_config(cfg))


def refresh(plan_: Plan, warn: Callable[[str], None] | None = None) -> None:
    """Re-read the status of every run's record (``warn``: told about each invalid one)."""
    for run in plan_.runs:
        run.status = record_status(plan_.runs_dir / run.key / RECORD_FILE, warn)


def record_status(path: Path, warn: Callable[[str], None] | None = None) -> str | None:
    """Status of the record at ``path``; None if there is none, or it is not a valid record (the
    run is then run again; ``warn`` is told which file and field)."""
    if not path.exists():
        return None
    try:
        return read_record(path).status
    except ValueError as exc:  # the reader's BadRecordError, naming the file and field
        if warn is not None:
            warn(f"{exc}; the run counts as not done")
        return None


# --------------------------------------------------------------------------- launching


def execute(plan_: Plan, hydra: Any, progress: bool = True) -> Plan:
    """Launch the plan's pending runs on its launcher, show progress, return the refreshed plan."""
    # The public launcher factory (Plugins.instantiate_launcher) wants a HydraContext, whose
    # callbacks object only Hydra's internals construct.
    from hydra._internal.callbacks import Callbacks
    from hydra.core.plugins import Plugins
    from hydra.types import HydraContext

    plan_.runs_dir.mkdir(parents=True, exist_ok=True)
    pending = [run for run in plan_.pending if not _record_if_refused(plan_, run)]
    if not pending:
        refresh(plan_)
        return plan_
    master = plan_.master
    check_launcher(master)
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
    os.environ[_SWEEP_PID_ENV] = str(os.getpid())  # inherited by the workers the launcher starts
    with _progress(plan_, pending, enabled=progress):
        callbacks.on_multirun_start(config=master, config_name="config")
        results = launcher.launch([run.overrides for run in pending], initial_job_idx=0)
        callbacks.on_multirun_end(config=master, config_name="config")
    for result in results:
        if result.status.name == "FAILED":  # the job wrapper itself failed; the run has no record
            log.warning("a sweep job failed outside its run: %s", result._return_value)
    refresh(plan_, warn=errors.warn)
    return plan_


def check_launcher(master: DictConfig) -> None:
    """Refuse, with one line, launcher settings the launcher would only fail on with a traceback."""
    target = str(OmegaConf.select(master, "hydra.launcher._target_", default=""))
    choice = HydraConfig.get().runtime.choices.get("hydra/launcher")
    if target.endswith("JoblibLauncher"):
        n_jobs = OmegaConf.select(master, "hydra.launcher.n_jobs")
        if n_jobs == 0:
            raise ConfigError("hydra.launcher.n_jobs: must be a number of parallel runs >= 1, or "
                              "negative (-1 = one per CPU core, -2 = all but one), got 0")
    if target.endswith("SlurmLauncher"):
        missing = [tool for tool in ("sbatch", "srun") if shutil.which(tool) is None]
        if missing:
            raise ConfigError(f"hydra/launcher={choice}: Slurm's {' and '.join(missing)} not found on "
                              "PATH; run the sweep on a Slurm login node, or use hydra/launcher=local")
def _record_if_refused(plan_: Plan, run: Run) -> bool:
    """Record a run estimated past its limits as ``skipped`` (no job is launched for it: on
    Slurm a job each would be wasted); True when it was refused."""
    from qbench.records import write_record
    from qbench.runner import admitted, new_record

    record = new_record(run.config)
    if admitted(run.config, record):
        return False
    directory = plan_.runs_dir / run.key
    with _locked(directory / LOCK_FILE):
        if record_status(directory / RECORD_FILE) != "ok":
            write_record(record, directory)
    return True


@contextlib.contextmanager
def _progress(plan_: Plan, pending: list[Run], enabled: bool) -> Iterator[None]:
    """A tqdm bar over the pending runs, fed by the records appearing on disk (any launcher)."""
    from tqdm import tqdm

    stop = threading.Event()
    bar = tqdm(total=len(pending), desc=plan_.experiment, unit="run", disable=not enabled,
               dynamic_ncols=True)
    # A retried run's old record stays until its run starts and removes it: a record counts
    # once it is another file than the one there now (records are replaced, never rewritten).
    before = {run.key: _file_identity(plan_.runs_dir / run.key / RECORD_FILE) for run in pending}
    seen: dict[str, str] = {}

    def poll_once() -> None:
        new = 0
        for run in pending:
            path = plan_.runs_dir / run.key / RECORD_FILE
            if run.key in seen or _file_identity(path) in (None, before[run.key]):
                continue
            if status := record_status(path):
                seen[run.key] = status
                new += 1
        if new:
            skipped = sum(1 for s in seen.values() if s == "skipped")
            failed = sum(1 for s in seen.values() if s not in ("ok", "skipped"))
            bar.set_postfix(ok=len(seen) - failed - skipped, failed=failed, skipped=skipped,
                            remaining=len(pending) - len(seen), refresh=False)
            bar.update(new)

    def poll() -> None:
        while True:
            stopping = stop.wait(1.0)
            poll_once()  # once more after the launcher returned: the last runs land just before
            if stopping:
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
    from qbench.records import write_record
    from qbench.runner import admitted, new_record

    _watch_sweep()
    hydra_cfg = HydraConfig.get()
    directory = Path(hydra_cfg.runtime.output_dir)
    if hydra_cfg.output_subdir is not None:
        secrets.redact_yaml_files(directory / hydra_cfg.output_subdir)
    config = _plain_job_config(cfg)
    expected = str(OmegaConf.select(cfg, "sweep.key"))
    with _locked(directory / LOCK_FILE):
        # Another process may have finished this key meanwhile (an overlapping sweep, or a
        # worker of a killed sweep that was still running): never run an ``ok`` key twice.
        if record_status(directory / RECORD_FILE) == "ok":
            return "done"
        for stale in directory.glob(".record-*.tmp"):  # left by a process killed mid-write
            stale.unlink(missing_ok=True)
        if config_key(config) != expected:
            raise RuntimeError(f"run key changed between planning and running ({expected}); "
                               "does the config use a non-deterministic interpolation?")
        # A run estimated past its limits is recorded here, without starting a child for it
        # (the child, started otherwise, estimates it again: the same code decides).
        record = new_record(config)
        if not admitted(config, record):
            write_record(record, directory)
            return record.status
        settings = run_settings(config)  # checked when the sweep was planned
        return run_isolated(config, directory, settings.timeout_s, settings.memory_limit_mb)


_watch_started = threading.Lock()  # held once a worker's watchdog runs


def _watch_sweep() -> None:
    """In a local launcher's worker process: end this worker, and the run it supervises, as soon
    as the sweep's main process is gone (killed, even by SIGKILL), instead of finishing its
    queue as an orphan. A watchdog thread polls the parent pid: unlike ``PR_SET_PDEATHSIG`` it
    does not depend on which thread of the main process started the worker, and works on any
    POSIX system. Workers of other launchers (Ray, Slurm) have other parents and are left alone;
    so is a job that runs in the main process itself."""
    sweep_pid = int(os.environ.get(_SWEEP_PID_ENV) or 0)
    if not sweep_pid or os.getppid() != sweep_pid or not _watch_started.acquire(blocking=False):
        return

    def watch() -> None:
        from qbench.isolate import kill_running_children

        while os.getppid() == sweep_pid:
            time.sleep(0.25)
        kill_running_children()
        os._exit(1)

    threading.Thread(target=watch, name="qbench-sweep-watchdog", daemon=True).start()


def _file_identity(path: Path) -> tuple[int, int] | None:
    """(inode, modification time in ns) of the file at ``path``; None if there is none."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


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


# --------------------------------------------------------------------------- estimates


def print_estimates(plan_: Plan) -> None:
    """Each run's status and estimate (``skip`` where it would not start, with the reason and
    what the estimate rests on), then the totals: hours of the runs that would start (CPU on
    this machine's kind, and IBM device time apart), of those that would not, the largest peak
    memory, and the same per solver."""
    from qbench.cost_model import PROCESS_START_S
    from qbench.estimate import admit, available_memory, format_seconds
    from qbench.memory import format_bytes

    started = time.perf_counter()
    memory = available_memory(plan_.runs[0].config) if plan_.runs else 0
    totals: Counter = Counter()
    counts: Counter = Counter()
    by_solver: dict[str, Counter] = {}
    peak, peak_label = 0, "-"
    for run in plan_.runs:
        verdict = admit(run.config, memory=memory)
        found = verdict.estimate
        skip = bool(verdict.reason) and not run.config.get("force")
        text = found.describe() if found else f"no estimate ({verdict.problem})"
        print(f"  {run.key}  {run.status or 'pending':<8} {'skip' if skip else 'run':<4} {text:<26} {run.label}")
        if skip:
            print(f"      {verdict.reason}")
        if found is None:
            counts["unknown"] += 1
            continue
        device = (run.config.get("backend") or {}).get("name") == "ibm" and found.qubits is not None
        bucket = "skip" if skip else "device" if device else "bound" if found.bound else "cpu"
        counts[bucket] += 1
        totals[bucket] += found.seconds
        by_solver.setdefault(str((run.config.get("solver") or {}).get("name")), Counter())[bucket] += found.seconds
        if not skip and found.peak_bytes > peak:
            peak, peak_label = found.peak_bytes, run.label
    started_runs = counts["cpu"] + counts["bound"] + counts["device"]
    print(f"estimate of {len(plan_.runs)} runs (a model's estimate, not a measurement; made in "
          f"{time.perf_counter() - started:.1f} s):")
    print(f"  {started_runs} would start: {(totals['cpu'] + totals['bound']) / 3600:.3g} CPU-hours"
          + (f" ({counts['bound']} SCIP runs counted at their time limit, "
             f"{totals['bound'] / 3600:.3g} h)" if counts["bound"] else "")
          + (f"; {counts['device']} on IBM hardware: {totals['device'] / 3600:.3g} device-hours, queue "
             "not counted" if counts["device"] else ""))
    workers = _local_workers(plan_)
    if workers:
        wall = (totals["cpu"] + totals["bound"] + started_runs * PROCESS_START_S) / workers
        print(f"  on this machine's {workers} local workers: about {format_seconds(wall)} of wall time "
              f"(each run's process start-up, ~{PROCESS_START_S:g} s, included"
              + ("; IBM device and queue time not)" if counts["device"] else ")"))
    print(f"  largest peak memory {format_bytes(peak)} of {format_bytes(memory)} available ({peak_label})")
    print(f"  {counts['skip']} would be skipped (estimated past timeout_s or the memory; --force starts "
          f"them): {format_seconds(totals['skip'])} if forced")
    if counts["unknown"]:
        print(f"  {counts['unknown']} without an estimate")
    print("  per solver, hours: CPU (SCIP at its limit) / IBM device / skipped")
    for name, hours in sorted(by_solver.items()):
        print(f"    {name:<10} {(hours['cpu'] + hours['bound']) / 3600:>9.3g} / {hours['device'] / 3600:>7.3g} / "
              f"{format_seconds(hours['skip'])}")


def _local_workers(plan_: Plan) -> int | None:
    """Parallel workers of a local (joblib) launcher; None for other launchers."""
    if plan_.master is None or "joblib" not in str(OmegaConf.select(plan_.master, "hydra.launcher._target_")):
        return None
    jobs = int(OmegaConf.select(plan_.master, "hydra.launcher.n_jobs", default=-1) or -1)
    return jobs if jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + jobs)


# --------------------------------------------------------------------------- command


def main(args: Sequence[str], rerun_failed: bool = False, dry_run: bool = False,
         progress: bool = True) -> int:
    """The ``sweep`` command. Exit status 0 when every run of the grid has a record."""
    plan_, hydra = plan(args, rerun_failed)
    print(plan_.describe(), flush=True)
    if dry_run:
        print_estimates(plan_)
        return 0
    started = time.perf_counter()
    plan_ = execute(plan_, hydra, progress=progress)
    c = plan_.counts()
    print(f"{plan_.experiment}: {c['ok']} ok, {c['error']} error, {c['timeout']} timeout, "
          f"{c['skipped']} skipped, {c['missing']} missing of {len(plan_.runs)} runs in "
          f"{time.perf_counter() - started:.1f} s; report: python -m qbench report {plan_.root}", flush=True)
    return 0 if not c["missing"] else 1

