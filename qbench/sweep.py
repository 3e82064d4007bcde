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
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from qbench import errors, secrets
from qbench.errors import ConfigError
from qbench.params import to_plain
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
        runs: dict[str, Run] = {}
        for grid in grids:
            parsed = parser.parse_overrides([f"{k}={v}" for k, v in grid.items()] + task)
            for combo in BasicSweeper.split_arguments(parsed, None)[0]:
                run = _compose_run(hydra, master, combo)
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

    pending = plan_.pending
    if not pending:
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
    plan_.runs_dir.mkdir(parents=True, exist_ok=True)
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
            failed = sum(1 for s in seen.values() if s != "ok")
            bar.set_postfix(ok=len(seen) - failed, failed=failed,
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
            return "skipped"
        for stale in directory.glob(".record-*.tmp"):  # left by a process killed mid-write
            stale.unlink(missing_ok=True)
        if config_key(config) != expected:
            raise RuntimeError(f"run key changed between planning and running ({expected}); "
                               "does the config use a non-deterministic interpolation?")
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

