"""``docs/reproduction.md``: qbench's study runs beside the seed studies' published figures.

``python benchmarks/reproduction.py DIR... --out docs/reproduction.md`` reads the records of the
study experiments (one results directory each) and writes one markdown document, its figures
(``docs/reproduction/*.png``) and CSV tables beside them:

1. what was run: per experiment the grid found in the records (problems and instances,
   methods, seeds, backends), runs by status, the qbench commit the records carry and the
   newest record's date, and the command that regenerates the document;
2. per study, per problem x method, the leaderboard's figures pooled over the instances
   (:func:`qbench.report.leaderboard_table`: runs, feasible rate, mean gap before and after
   repair, run success probability ``p_s``, lift over uniform sampling, TTS99 with its
   bootstrap interval, median qubits and two-qubit gates), and per instance;
3. qubits per instance and formulation: penalty QUBO with slack, PCE, QRAO, Lagrangian (the
   problem's own binaries), unbalanced penalization, graph shrinking; from the records where a
   run used it, else computed from the instance (marked); for TSP the position and edge models;
4. the seed studies' published figures (:data:`PUBLISHED`, each with its source) beside
   qbench's figure for the same row;
5. the matched random baseline of every sampled run (:mod:`qbench.random_baseline`);
6. figures (gaps against the random baseline; qubits per formulation);
7. the maintainer's discussion, ``<out stem>_discussion.md`` next to the document, if written.
"""

from __future__ import annotations

import json
import math
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qbench import random_baseline, report, store
from qbench.errors import QbenchError
from qbench.record_reader import BadRecordError, read_data
from qbench.repair import repair_setting

ROOT = Path(__file__).resolve().parent.parent

# -- published figures --------------------------------------------------------------------------

PAPER = ("A Comparative Study of Quantum Optimization Techniques for Solving Combinatorial "
         "Optimization Benchmark Problems (2026)")
REPOSITORY = "https://github.com/SMU-Quantum/quantum-optimization-benchmarks"
SOURCE = f"{PAPER}; the authors' repository {REPOSITORY}"
SOURCE_RANDOM = f"{SOURCE}, additional_experiment/ (matched random baseline, run_random_baseline.py)"
#: The 12 SAC-94 MDKP instances of the comparative study.
SAC94 = ("hp1", "hp2", "pb1", "pb2", "pb4", "pb5", "pet2", "pet3", "pet4", "pet5", "pet6", "pet7")
#: Experiments whose records stand for each study of the published figures.
STUDIES = {"comparative": ("comparative_study", "comparative_small")}
#: The comparative study's quantum methods ("all methods" of its figures; SCIP is its reference).
QUANTUM = ("qaoa", "ws_qaoa", "ma_qaoa", "vqe", "cvar_vqe", "qrao", "pce")


@dataclass(frozen=True)
class PublishedFigure:
    """One figure of a seed study. ``method``: as published; ``solvers`` (and ``params``, solver
    settings a run must have) select qbench's runs of that method (none: every method);
    ``metric`` names how qbench's figure is computed (:data:`METRICS`); ``value``: a fraction
    (gaps) or the published statement; ``instance``: the one instance it is about, if any."""

    study: str
    problem: str
    method: str
    metric: str
    value: float | str
    setting: str
    source: str
    solvers: tuple[str, ...] = ()
    params: tuple[tuple[str, Any], ...] = ()
    instance: str | None = None


_HW = "IBM hardware, 1000 shots, 12 SAC-94 instances, mean gap after a one-round repair"
_SIM = "simulator, 12 SAC-94 instances, mean gap"
_QAOA = (("alpha", 1.0),)
PUBLISHED: tuple[PublishedFigure, ...] = (
    PublishedFigure("comparative", "mdkp", "QRAO", "gap", 0.169, _HW, SOURCE, ("qrao",)),
    PublishedFigure("comparative", "mdkp", "PCE", "gap", 0.187, _HW, SOURCE, ("pce",)),
    PublishedFigure("comparative", "mdkp", "CVaR-VQE", "gap", 0.218, _HW, SOURCE, ("cvar_vqe",)),
    PublishedFigure("comparative", "mdkp", "WS-QAOA", "gap", 0.262, _HW, SOURCE, ("ws_qaoa",)),
    PublishedFigure("comparative", "mdkp", "VQE", "gap", 0.267, _HW, SOURCE, ("vqe",)),
    PublishedFigure("comparative", "mdkp", "MA-QAOA", "gap", 0.277, _HW, SOURCE, ("ma_qaoa",)),
    PublishedFigure("comparative", "mdkp", "QAOA", "gap", 0.312, _HW, SOURCE, ("qaoa",), _QAOA),
    PublishedFigure("comparative", "mdkp", "all methods", "raw_vs_repaired",
                    "raw gaps roughly twice the repaired ones", _HW, SOURCE, QUANTUM),
    PublishedFigure("comparative", "mdkp", "all methods", "feasible", "12 of 12 instances feasible after repair",
                    _HW, SOURCE, QUANTUM),
    PublishedFigure("comparative", "mdkp", "PCE", "gap", 0.250, _SIM, SOURCE, ("pce",)),
    PublishedFigure("comparative", "mdkp", "VQE", "gap", 0.271, _SIM, SOURCE, ("vqe",)),
    PublishedFigure("comparative", "mdkp", "VQE", "feasible", "11 of 12 instances feasible", _SIM, SOURCE,
                    ("vqe",)),
    PublishedFigure("comparative", "mdkp", "CVaR-VQE", "gap", 0.346, _SIM, SOURCE, ("cvar_vqe",)),
    PublishedFigure("comparative", "qap", "all methods", "feasible", "no feasible answer (100-144 qubits)",
                    "QAPLIB n = 10-12", SOURCE, QUANTUM),
    PublishedFigure("comparative", "mis", "all methods", "optimal_methods", "every method optimal",
                    "1tc.8", SOURCE, QUANTUM, instance="1tc.8"),
    PublishedFigure("comparative", "mis", "all methods", "feasible_methods", "only WS-QAOA feasible",
                    "1tc.64 (64 nodes)", SOURCE, QUANTUM, instance="1tc.64"),
    PublishedFigure("comparative", "msp", "all methods", "exact_split", "no exact split found",
                    "QOBLIB market split", SOURCE, QUANTUM),
    PublishedFigure("comparative", "mdkp", "penalty QUBO", "penalty_qubits", "45-122 qubits",
                    "12 SAC-94 instances, penalty QUBO with slack", SOURCE),
    PublishedFigure("comparative", "mdkp", "PCE", "pce_qubits", "6-10 qubits", "12 SAC-94 instances", SOURCE),
    PublishedFigure("comparative", "mdkp", "QAOA, MA-QAOA, WS-QAOA", "random_verdicts",
                    "comparable to or worse than matched uniform random sampling on all 12",
                    "IBM hardware, 12 SAC-94 instances", SOURCE_RANDOM, ("qaoa", "ma_qaoa", "ws_qaoa")),
    PublishedFigure("comparative", "mdkp", "QAOA", "gap_vs_random", "gap 36.2% vs random median 20.6%",
                    "IBM hardware, hp1", SOURCE_RANDOM, ("qaoa",), _QAOA, instance="hp1"),
)

# -- loading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Study:
    """The records of one experiment (``name``) found under ``directory``."""

    name: str
    directory: Path
    frame: pd.DataFrame


def load(directories: Sequence[str | Path]) -> list[Study]:
    """One :class:`Study` per experiment in the records under each directory (the directory's
    name for records without one); a missing directory or one without records is an error."""
    studies = []
    for directory in map(Path, directories):
        if not directory.is_dir():
            raise QbenchError(f"{directory}: no such results directory")
        if not store.record_paths(directory):
            raise QbenchError(f"{directory}: no run records (record.json) under it")
        frame = store.load(directory)
        if frame.empty:
            raise QbenchError(f"{directory}: no readable run records under it")
        names = frame["experiment"].fillna(directory.name)
        for name in sorted(names.unique()):
            studies.append(Study(str(name), directory, frame[names == name].reset_index(drop=True)))
    return studies


def instance_labels(frame: pd.DataFrame) -> pd.Series:
    """The instance name, with the problem settings that tell apart the instances sharing it
    (a network's bit-allocation budgets and fractions)."""
    labels = frame["instance"].astype(str).copy()
    for (_, name), group in frame.groupby(["problem", "instance"]):
        if group["instance_hash"].nunique() <= 1:
            continue
        configs = [_problem_config(p) for p in group["record_path"]]
        varying = [k for k in store.varying_keys(configs) if k not in ("name", "instance")]
        for index, config in zip(group.index, configs):
            labels[index] = " ".join([str(name)] + [f"{k}={store.setting_text(config.get(k))}" for k in varying])
    return labels


_RECORDS: dict[str, dict[str, Any]] = {}


def _record(path: str) -> dict[str, Any]:
    if path not in _RECORDS:
        _RECORDS[path] = read_data(path)
    return _RECORDS[path]


def _problem_config(path: str) -> dict[str, Any]:
    try:
        return dict((_record(path).get("config") or {}).get("problem") or {})
    except BadRecordError:
        return {}


# -- 1. what was run ----------------------------------------------------------------------------


def commits(frame: pd.DataFrame) -> str:
    """The qbench commits the records carry (short), or the checkout's when none does."""
    revisions = sorted({_short_revision(r) for r in frame["git_revision"].dropna()})
    if revisions:
        return ", ".join(f"`{r}`" for r in revisions)
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head = ""
    return f"`{head}` (the checkout's; no record carries a commit)" if head else "unknown"


def _short_revision(revision: str) -> str:
    commit, _, rest = str(revision).partition("+")
    return commit[:7] + (f"+{rest}" if rest else "")


def grid_table(studies: Sequence[Study]) -> str:
    rows = []
    for study in studies:
        frame = study.frame
        counts = frame["status"].value_counts()
        instances = "; ".join(f"{problem}: " + ", ".join(sorted(g["instance_label"].unique()))
                              for problem, g in frame.groupby("problem"))
        seeds = sorted(int(s) for s in frame["seed"].dropna().unique())
        rows.append({
            "experiment": study.name, "directory": f"`{study.directory}`", "runs": len(frame),
            "status": ", ".join(f"{counts.get(s, 0)} {s}" for s in ("ok", "error", "timeout", "skipped")
                                if counts.get(s, 0)),
            "instances": instances,
            "methods": ", ".join(sorted(frame["method"].unique())),
            "seeds": _ranges(seeds),
            "backends": ", ".join(sorted(frame["backend"].dropna().unique())) or "-",
        })
    return report.markdown(pd.DataFrame(rows))


def _ranges(values: Sequence[int]) -> str:
    if not values:
        return "-"
    if list(values) == list(range(values[0], values[-1] + 1)) and len(values) > 2:
        return f"{values[0]}-{values[-1]}"
    return ", ".join(map(str, values))


# -- 2. per study -------------------------------------------------------------------------------

_RESULT_HEADERS = {
    "problem": "problem", "method": "method", "runs": "runs", "feasible_rate": "feasible",
    "raw_gap": "gap raw", "gap": "gap", "p_s": "p_s", "optimal_lift": "lift",
    "tts99": "TTS99 [95% CI] [s]", "qubits": "qubits", "two_qubit_gates": "2q gates",
}
RESULT_DEFINITIONS = """\
Pooled over the study's instances (leaderboard rows of `qbench report` with the instances
merged): `feasible` = feasible answers / runs (failed runs count as not feasible); `gap raw` /
`gap` = mean relative optimality gap before / after the run's repair (feasible answers);
`p_s` = runs with gap <= epsilon / runs; `lift` = mean `optimal_lift` (probability of sampling an
optimum over that of a uniform bitstring; sampling methods only); `TTS99` = mean run time x
ln(0.01) / ln(1 - p_s) with its 95 % bootstrap interval; `qubits`, `2q gates` = medians.
README, "Metrics", has the formulas and their sources.
"""


def results_table(frame: pd.DataFrame, epsilon: float) -> pd.DataFrame:
    """Per problem x method over all instances: the leaderboard with the instances merged."""
    table = report.leaderboard_table(frame.assign(instance="all"), epsilon)
    if table.empty:
        return table
    table["feasible_rate"] = table["feasible_runs"] / table["runs"]
    table["tts99"] = [report.format_tts(*v) for v in zip(table["tts99_s"], table["tts99_low_s"], table["tts99_high_s"])]
    return table.sort_values(["problem", "method"], ignore_index=True)[list(_RESULT_HEADERS)]


# -- 3. qubits ----------------------------------------------------------------------------------

QUBIT_COLUMNS = {
    "penalty": "penalty QUBO (slack)", "pce": "PCE", "qrao": "QRAO",
    "lagrangian": "Lagrangian (native)", "unbalanced": "unbalanced", "shrink": "shrunk",
}
COMPUTED = "*"


@dataclass(frozen=True)
class QubitCount:
    value: int | None
    computed: bool

    def cell(self) -> str:
        return "-" if self.value is None else f"{self.value}{COMPUTED if self.computed else ''}"


def _run_counts(runs: pd.DataFrame) -> dict[str, int | None]:
    """Qubits of each formulation as the instance's ok runs used them (median)."""
    ok = runs[runs["status"] == "ok"]

    def median(rows: pd.DataFrame, column: str) -> int | None:
        value = report._median(rows, column)
        return None if np.isnan(value) else int(round(value))

    return {
        "penalty": median(ok[ok["formulation"] == "penalty"], "qubo_variables"),
        "pce": median(ok[ok["solver"] == "pce"], "qubits"),
        "qrao": median(ok[ok["solver"] == "qrao"], "qubits"),
        "lagrangian": median(ok[ok["solver"] == "lagrangian"], "qubits"),
        "unbalanced": median(ok[ok["formulation"] == "unbalanced"], "qubo_variables"),
        "shrink": median(ok[ok["solver"] == "shrink"], "qubits"),
    }


def _computed_counts(problem_config: dict[str, Any], needed: set[str]) -> dict[str, int | None]:
    """The counts ``needed`` computed from the instance (default settings of each method)."""
    from qbench import registry
    from qbench.alternatives import compressed_qubits
    from qbench.formulations.penalty import PenaltyQubo
    from qbench.formulations.unbalanced import UnbalancedPenalty
    from qbench.linear_model import LinearModel
    from qbench.solvers.shrink import ShrinkParams

    problem = registry.build_problem(problem_config)
    counts: dict[str, int | None] = {}
    penalty = PenaltyQubo().encode(problem)
    counts["penalty"] = penalty.qubits
    if needed & {"pce", "qrao"}:
        counts.update(compressed_qubits(penalty.qubo))
    try:
        counts["lagrangian"] = LinearModel.from_problem(problem).num_variables
    except QbenchError:
        counts["lagrangian"] = None
    try:
        counts["unbalanced"] = UnbalancedPenalty().encode(problem).qubits
    except QbenchError:
        counts["unbalanced"] = None
    counts["shrink"] = max(1, math.ceil(ShrinkParams().ratio * penalty.qubits))
    return counts


def qubit_table(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """One row per instance of the records: native variables and each formulation's qubits
    (:class:`QubitCount`); the notes name instances whose missing counts could not be computed."""
    rows, notes = [], []
    for (problem, label), runs in frame.groupby(["problem", "instance_label"], sort=True):
        counts = {k: QubitCount(v, False) for k, v in _run_counts(runs).items()}
        missing = {k for k, c in counts.items() if c.value is None}
        if missing:
            try:
                computed = _computed_counts(_problem_config(runs["record_path"].iloc[0]), missing)
            except (QbenchError, ValueError) as exc:
                notes.append(f"{problem} {label}: not computed ({exc})")
                computed = {}
            counts.update({k: QubitCount(computed.get(k), True) for k in missing})
        variables = pd.to_numeric(runs["variables"], errors="coerce").dropna()
        rows.append({"problem": problem, "instance": label,
                     "variables": int(variables.median()) if len(variables) else None, **counts})
    return pd.DataFrame(rows), notes


def tsp_table(frame: pd.DataFrame) -> pd.DataFrame:
    """TSP instances of the records: position model against edge model, penalty QUBO (slack)
    against the Lagrangian's native binaries; run where a record has it, else computed."""
    from qbench import registry
    from qbench.linear_model import LinearModel

    rows = []
    for label, runs in frame[frame["problem"] == "tsp"].groupby("instance_label", sort=True):
        config = _problem_config(runs["record_path"].iloc[0])
        model = config.get("model", "position")
        found = _run_counts(runs)
        row = {"instance": label}
        for name in ("position", "edge"):
            try:
                problem = registry.build_problem({**config, "model": name})
            except QbenchError:
                problem = None
            ran = model == name
            row[f"{name} penalty"] = _count(found["penalty"] if ran else None,
                                            lambda: problem and _penalty_qubits(problem))
            row[f"{name} lagrangian"] = _count(found["lagrangian"] if ran else None,
                                               lambda: problem and LinearModel.from_problem(problem).num_variables)
        rows.append(row)
    return pd.DataFrame(rows)


#: Largest edge-model TSP whose penalty QUBO is built here (``benchmarks/tsp_qubits.py`` counts
#: the larger ones).
_TSP_BUILT_ROWS = 200


def _penalty_qubits(problem) -> int | None:
    from qbench.formulations.penalty import PenaltyQubo

    if getattr(problem, "num_subtour_rows", 0) > _TSP_BUILT_ROWS:
        return None
    return PenaltyQubo().encode(problem).qubits


def _count(run: int | None, compute: Callable[[], int | None]) -> str:
    return QubitCount(run, False).cell() if run is not None else QubitCount(compute(), True).cell()


def sac94_qubits() -> dict[str, tuple[int, int]]:
    """Penalty-QUBO and PCE qubits of the 12 SAC-94 instances (those whose files are here)."""
    from qbench import registry
    from qbench.formulations.penalty import PenaltyQubo
    from qbench.solvers.pce import PceParams, pce_qubits

    counts = {}
    for name in SAC94:
        try:
            qubo = PenaltyQubo().encode(registry.build_problem({"name": "mdkp", "instance": name})).qubo
        except QbenchError:
            continue
        counts[name] = (qubo.num_variables, pce_qubits(qubo, PceParams()))
    return counts


# -- 5. matched random baseline -----------------------------------------------------------------

BASELINE_COLUMNS = ["study", "problem", "instance", "method", "seed", "key", "candidates", "candidate_rule",
                    "repetitions", "sampling", "gap", "random_median", "random_low", "random_high",
                    "random_feasible", "quantile", "verdict", "note"]


def baselines(studies: Sequence[Study], seed: int, target: int, max_draws: int,
              log: Callable[[str], None] = lambda line: None) -> pd.DataFrame:
    """One row per ok run with a reference: its matched random baseline, or the reason it has
    none (``note``). Distributions are shared by runs with the same sample space and candidate
    count."""
    spaces: dict[str, Any] = {}
    distributions: dict[tuple[str, int], Any] = {}
    rows = []
    for study in studies:
        started, ok = time.perf_counter(), study.frame[study.frame["status"] == "ok"]
        for _, run in ok.iterrows():
            row = {"study": study.name, "problem": run["problem"], "instance": run["instance_label"],
                   "method": run["method"], "seed": run["seed"], "key": run["key"]}
            rows.append(row)
            data = _record(run["record_path"])
            count = random_baseline.candidate_count(data)
            row.update(candidates=count.count, candidate_rule=count.rule)
            if count.count is None:
                row["note"] = count.rule
                continue
            if data.get("reference") is None:
                row["note"] = "no reference optimum"
                continue
            try:
                config = data["config"]
                key = random_baseline.space_key(config["problem"], config["formulation"], data["reference"],
                                                repair_setting(config))
                if key not in spaces:
                    spaces[key] = random_baseline.build_space(data)
                if (key, count.count) not in distributions:
                    distributions[key, count.count] = spaces[key].distribution(count.count, target, seed, max_draws)
                dist = distributions[key, count.count]
            except (QbenchError, RuntimeError, ValueError, KeyError) as exc:
                row["note"] = f"no baseline: {exc}"
                continue
            if dist is None:
                row["note"] = f"{count.count} candidates: over the cap of {random_baseline.MAX_CANDIDATES}"
                continue
            feasible = run["feasible"] is not pd.NA and bool(run["feasible"])
            gap = float(run["gap"]) if feasible and pd.notna(run["gap"]) else math.inf
            verdict = random_baseline.judge(gap, dist.gaps)
            row.update(repetitions=dist.repetitions, sampling=dist.sampling, gap=gap,
                       random_median=dist.quantile(0.5), random_low=dist.quantile(random_baseline.LOW),
                       random_high=dist.quantile(random_baseline.HIGH), random_feasible=dist.feasible_rate,
                       quantile=verdict.quantile, verdict=verdict.verdict)
        log(f"random baseline: {study.name}: {len(ok)} ok runs in {time.perf_counter() - started:.0f} s")
    return pd.DataFrame(rows, columns=BASELINE_COLUMNS)


def baseline_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per study x problem x instance x method: the runs' baselines together."""
    done = table[table["verdict"].notna()]
    rows = []
    for (study, problem, instance, method), g in done.groupby(["study", "problem", "instance", "method"], sort=True):
        verdicts = g["verdict"].value_counts()
        finite = g["gap"][np.isfinite(g["gap"].astype(float))]
        rows.append({
            "study": study, "problem": problem, "instance": instance, "method": method, "runs": len(g),
            "candidates": int(g["candidates"].median()),
            "repetitions": _span(g["repetitions"]),
            "gap": finite.mean() if len(finite) else math.inf,
            "random_median": float(np.median(g["random_median"].astype(float))),
            "random_range": f"{_gap_text(g['random_low'].min())} - {_gap_text(g['random_high'].max())}",
            "quantile": float(g["quantile"].median()),
            "verdict": verdicts.index[0] if len(verdicts) == 1 else ", ".join(
                f"{n} {v}" for v, n in verdicts.items()),
        })
    return pd.DataFrame(rows)


def _span(values: pd.Series) -> str:
    low, high = int(values.min()), int(values.max())
    return f"{low}" if low == high else f"{low}-{high}"


def _gap_text(value: float | None) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return "infeasible" if np.isinf(value) else f"{100 * float(value):.1f}%"


_BASELINE_HEADERS = {
    "problem": "problem", "instance": "instance", "method": "method", "runs": "runs",
    "candidates": "candidates (median)", "repetitions": "R", "gap_text": "gap",
    "random_median_text": "random median", "random_range": "random 2.5-97.5%", "quantile": "quantile",
    "verdict": "verdict",
}


def baseline_rule(seed: int, target: int, max_draws: int) -> str:
    return (
        "Per run: `R` repetitions of drawing as many uniform bitstrings of the run's QUBO as the run "
        "drew (`candidates`: `solver_info.total_shots` = shots per evaluation x evaluations + final "
        "shots, an exactly computed evaluation counting 0; `sa`: annealing reads; `random`: its shots; "
        "`shrink`: its inner solver's; `lagrangian`: inner solves x the inner solver's final shots, only "
        "where its evaluations draw nothing), choosing the answer as every qbench sampler does (best "
        "feasible by native objective, else lowest energy) and repairing it as the run was; the gap "
        "column is the run's final gap (mean over the feasible runs of the row), `random median` and "
        "`random 2.5-97.5%` describe the best final gaps of the repetitions. `quantile`: the run's gap "
        "in that distribution (mid-rank, ties count half; median over the row's runs). `verdict`: "
        "`outperforms` when random matched or beat the run in under 2.5 % of the repetitions, "
        "`underperforms` when random beat it strictly in over 97.5 %, else `comparable` (ties count "
        f"against the claim). Seed {seed}; R = {target}, lowered where the expected draws of a "
        f"distribution pass {max_draws:,} (never below {random_baseline.MIN_REPETITIONS}); a Monte-Carlo "
        f"baseline (more than {random_baseline.EXACT_BITS} decoded bits) of more than "
        f"{random_baseline.MAX_CANDIDATES:,} candidates is not drawn. Method: `qbench/random_baseline.py`."
    )


# -- 4. published figures -----------------------------------------------------------------------


@dataclass
class Evidence:
    """What qbench's side of the published figures is computed from."""

    frame: pd.DataFrame
    baseline: pd.DataFrame
    sac94: dict[str, tuple[int, int]]


def _runs(figure: PublishedFigure, evidence: Evidence) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, their baselines) of ``figure``'s study, problem, instance and method."""
    frame = evidence.frame
    experiments = STUDIES.get(figure.study, (figure.study,))
    keep = frame["experiment"].isin(experiments) & (frame["problem"] == figure.problem)
    if figure.instance is not None:
        keep &= frame["instance"] == figure.instance
    if figure.solvers:
        keep &= frame["solver"].isin(figure.solvers)
    for name, value in figure.params:
        keep &= np.array([json.loads(p).get(name, value) == value for p in frame["solver_params"]], dtype=bool)
    runs = frame[keep]
    baseline = evidence.baseline[evidence.baseline["key"].isin(runs["key"])]
    return runs, baseline


def _describe_runs(runs: pd.DataFrame) -> str:
    if runs.empty:
        return "no run"
    instances = sorted(runs["instance"].unique())
    shown = ", ".join(instances[:4]) + (", ..." if len(instances) > 4 else "")
    return f"{len(runs)} runs ({', '.join(sorted(runs['experiment'].dropna().unique()))}: {shown})"


def _metric_gap(figure, runs, baseline, evidence) -> str:
    ok = runs[(runs["status"] == "ok") & runs["feasible"].fillna(False).astype(bool)]
    gaps = ok["gap"].dropna()
    return _gap_text(float(gaps.mean())) if len(gaps) else "-"


def _metric_raw_vs_repaired(figure, runs, baseline, evidence) -> str:
    ok = runs[runs["status"] == "ok"]
    raw, final = ok["raw_gap"].dropna(), ok.loc[ok["feasible"].fillna(False).astype(bool), "gap"].dropna()
    if not len(raw) or not len(final) or final.mean() == 0:
        return "-"
    return (f"raw {_gap_text(raw.mean())} vs repaired {_gap_text(final.mean())} ({raw.mean() / final.mean():.2g}x; "
            f"raw feasible {int(ok['raw_feasible'].fillna(False).astype(bool).sum())} of {len(ok)})")


def _metric_feasible(figure, runs, baseline, evidence) -> str:
    if runs.empty:
        return "-"
    feasible = runs[(runs["status"] == "ok") & runs["feasible"].fillna(False).astype(bool)]
    return (f"{len(feasible)} of {len(runs)} runs feasible; {feasible['instance'].nunique()} of "
            f"{runs['instance'].nunique()} instances with a feasible run")


def _metric_optimal_methods(figure, runs, baseline, evidence) -> str:
    if runs.empty:
        return "-"
    optimal = runs[(runs["status"] == "ok") & runs["feasible"].fillna(False).astype(bool) & (runs["gap"] <= 0)]
    missing = sorted(set(runs["method"]) - set(optimal["method"]))
    return (f"{optimal['method'].nunique()} of {runs['method'].nunique()} methods with an optimal run"
            + (f" (not: {', '.join(missing)})" if missing else ""))


def _metric_feasible_methods(figure, runs, baseline, evidence) -> str:
    if runs.empty:
        return "-"
    feasible = runs[(runs["status"] == "ok") & runs["feasible"].fillna(False).astype(bool)]
    return (f"{feasible['method'].nunique()} of {runs['method'].nunique()} methods with a feasible run"
            + (f": {', '.join(sorted(feasible['method'].unique()))}" if len(feasible) else ""))


def _metric_exact_split(figure, runs, baseline, evidence) -> str:
    if runs.empty:
        return "-"
    split = runs[(runs["status"] == "ok") & runs["feasible"].fillna(False).astype(bool)]
    instances = f"{split['instance'].nunique()} of {runs['instance'].nunique()} instances"
    return f"{len(split)} of {len(runs)} runs found one ({instances})"


def _metric_qubit_range(position: int) -> Callable[..., str]:
    def metric(figure, runs, baseline, evidence) -> str:
        values = [counts[position] for counts in evidence.sac94.values()]
        if not values:
            return "-"
        span = f"{min(values)}" if min(values) == max(values) else f"{min(values)}-{max(values)}"
        return f"{span} qubits (computed; instances: {len(values)})"
    return metric


def _metric_random_verdicts(figure, runs, baseline, evidence) -> str:
    judged = baseline[baseline["verdict"].notna()]
    if judged.empty:
        return "no baseline" if len(runs) else "-"
    counts = judged["verdict"].value_counts()
    return ", ".join(f"{n} {v}" for v, n in counts.items()) + f" of {len(judged)} runs"


def _metric_gap_vs_random(figure, runs, baseline, evidence) -> str:
    judged = baseline[baseline["verdict"].notna()]
    if judged.empty:
        return "-"
    finite = judged["gap"][np.isfinite(judged["gap"].astype(float))]
    gap = _gap_text(float(finite.mean())) if len(finite) else "infeasible"
    return f"gap {gap} vs random median {_gap_text(float(judged['random_median'].median()))}"


METRICS: dict[str, Callable[..., str]] = {
    "gap": _metric_gap,
    "raw_vs_repaired": _metric_raw_vs_repaired,
    "feasible": _metric_feasible,
    "optimal_methods": _metric_optimal_methods,
    "feasible_methods": _metric_feasible_methods,
    "exact_split": _metric_exact_split,
    "penalty_qubits": _metric_qubit_range(0),
    "pce_qubits": _metric_qubit_range(1),
    "random_verdicts": _metric_random_verdicts,
    "gap_vs_random": _metric_gap_vs_random,
}
_RUNLESS = ("penalty_qubits", "pce_qubits")


def published_table(evidence: Evidence) -> tuple[pd.DataFrame, list[str]]:
    """The published figures beside qbench's; and the sources, numbered as cited."""
    sources: list[str] = []
    rows = []
    for figure in PUBLISHED:
        if figure.source not in sources:
            sources.append(figure.source)
        runs, baseline = _runs(figure, evidence)
        value = figure.value
        rows.append({
            "study": figure.study, "problem": figure.problem, "method": figure.method,
            "published": _gap_text(value) if isinstance(value, float) else value,
            "setting": figure.setting,
            "qbench": METRICS[figure.metric](figure, runs, baseline, evidence),
            "qbench runs": "computed from the instances" if figure.metric in _RUNLESS else _describe_runs(runs),
            "source": f"[{sources.index(figure.source) + 1}]",
        })
    return pd.DataFrame(rows), sources


# -- 6. figures ---------------------------------------------------------------------------------


def figure_gaps(summary: pd.DataFrame, table: pd.DataFrame, path: Path) -> bool:
    """Per study, each row's run gaps (dots; triangles at the top: infeasible) against its
    random baseline (median and 2.5-97.5 % band of the runs' baselines)."""
    from qbench.plots import plt, save

    if summary.empty:
        return False
    studies = sorted(summary["study"].unique())
    fig, axes = plt.subplots(len(studies), 1, figsize=(max(6.4, 0.35 * summary.groupby("study").size().max() + 2),
                                                        3.6 * len(studies)), squeeze=False)
    done = table[table["verdict"].notna()]
    for ax, study in zip(axes[:, 0], studies):
        rows = summary[summary["study"] == study].reset_index(drop=True)
        runs = done[done["study"] == study]
        finite = np.concatenate([runs["gap"].astype(float), runs["random_high"].astype(float)])
        finite = finite[np.isfinite(finite)]
        top = 100 * (finite.max() if len(finite) else 0.1) * 1.1 + 1
        for x, row in rows.iterrows():
            mine = runs[(runs["problem"] == row["problem"]) & (runs["instance"] == row["instance"])
                        & (runs["method"] == row["method"])]
            low, high = mine["random_low"].astype(float).min(), mine["random_high"].astype(float).max()
            median = float(np.median(mine["random_median"].astype(float)))
            low, high, median = (100 * v if np.isfinite(v) else top for v in (low, high, median))
            ax.errorbar(x, median, yerr=[[median - low], [max(high - median, 0)]], fmt="o", mfc="white",
                        mec="0.3", ecolor="0.6", capsize=3, label="random median, 2.5-97.5%" if x == 0 else None)
            gaps = mine["gap"].astype(float).to_numpy()
            shift = np.linspace(-0.15, 0.15, len(gaps)) if len(gaps) > 1 else np.zeros(len(gaps))
            feasible = np.isfinite(gaps)
            ax.scatter(x + shift[feasible], 100 * gaps[feasible], s=14, color="tab:blue", zorder=3,
                       label="run" if x == 0 else None)
            if (~feasible).any():
                ax.scatter(x + shift[~feasible], np.full((~feasible).sum(), top), marker="v", s=18,
                           color="tab:red", zorder=3, label="run infeasible" if x == 0 else None)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([f"{r.problem} {r.instance}\n{r.method}" for r in rows.itertuples()], rotation=90,
                           fontsize=6)
        ax.set_ylabel("gap [%]")
        ax.set_title(f"{study}: run gap vs matched random baseline")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    return save(fig, path, dpi=110)


def figure_qubits(qubits: pd.DataFrame, path: Path) -> bool:
    """Qubits per instance and formulation (hatched: computed, not run); log scale."""
    from qbench.plots import plt, save

    if qubits.empty:
        return False
    columns = list(QUBIT_COLUMNS)
    fig, ax = plt.subplots(figsize=(max(6.4, 0.6 * len(qubits) + 2), 4.4))
    width = 0.8 / len(columns)
    for i, column in enumerate(columns):
        counts = qubits[column]
        x = np.arange(len(qubits)) + (i - len(columns) / 2 + 0.5) * width
        values = [c.value or 0 for c in counts]
        bars = ax.bar(x, values, width, color=f"C{i}")
        for bar, count in zip(bars, counts):
            if count.computed:
                bar.set_hatch("//")
                bar.set_alpha(0.6)
    from matplotlib.patches import Patch
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    handles = [Patch(color=f"C{i}", label=QUBIT_COLUMNS[c]) for i, c in enumerate(columns)]
    handles.append(Patch(facecolor="white", edgecolor="0.3", hatch="//", label="computed, not run"))
    ax.set_xticks(range(len(qubits)))
    ax.set_xticklabels([f"{r.problem}\n{r.instance}" for r in qubits.itertuples()], rotation=90, fontsize=6)
    ax.set_ylabel("qubits")
    ax.set_title("qubits per instance and formulation")
    ax.legend(handles=handles, fontsize=7)
    return save(fig, path, dpi=110)


# -- the document -------------------------------------------------------------------------------


def generate(directories: Sequence[str | Path], out: str | Path, command: str, seed: int = 0,
             repetitions: int = random_baseline.REPETITIONS, max_draws: int = random_baseline.MAX_DRAWS,
             epsilon: float = 0.0, log: Callable[[str], None] = lambda line: None) -> Path:
    """Write the document ``out``, its figures and CSV tables under ``out``'s stem next to it."""
    if not epsilon >= 0:
        raise QbenchError(f"--epsilon: must be a relative gap >= 0, got {epsilon}")
    if repetitions < 1 or max_draws < 1:
        raise QbenchError("--repetitions and --max-draws must be >= 1")
    studies = load(directories)
    for study in studies:
        study.frame["instance_label"] = instance_labels(study.frame)
    frame = pd.concat([s.frame.assign(experiment=s.name) for s in studies], ignore_index=True)
    out = Path(out)
    assets = out.parent / out.stem
    assets.mkdir(parents=True, exist_ok=True)

    table = baselines(studies, seed, repetitions, max_draws, log)
    summary = baseline_summary(table)
    qubits, qubit_notes = qubit_table(frame)
    evidence = Evidence(frame, table, sac94_qubits())
    published, sources = published_table(evidence)
    table.to_csv(assets / "random_baseline.csv", index=False)
    if not qubits.empty:
        qubits.assign(**{c: qubits[c].map(QubitCount.cell) for c in QUBIT_COLUMNS}).to_csv(assets / "qubits.csv",
                                                                                           index=False)
    figures = [p for p, draw in ((assets / "gap_vs_random.png", lambda p: figure_gaps(summary, table, p)),
                                 (assets / "qubits.png", lambda p: figure_qubits(qubits, p))) if draw(p)]

    created = frame["created"].dropna().astype(str)
    text = [
        "# Reproduction of the seed studies\n",
        "qbench's runs of the study experiments beside the figures the seed studies published. "
        "Generated from the run records by:\n",
        f"```\n{command}\n```\n",
        f"qbench commit in the records: {commits(frame)}. Newest record: {created.max() if len(created) else '-'}. "
        f"Records: {len(frame)}; experiments: {len(studies)}.\n",
        "## What was run\n",
        grid_table(studies),
        "Grids as found in the records; `python -m qbench sweep experiment=NAME --dry-run` lists each "
        "experiment's declared grid (`experiments/NAME.yaml`).\n",
        "## Results per study\n",
    ]
    for study in studies:
        text += [f"### {study.name}\n", report.markdown(results_table(study.frame.assign(
                     instance=study.frame["instance_label"]), epsilon), _RESULT_HEADERS),
                 "<details><summary>Per instance</summary>\n",
                 report.leaderboard_markdown(report.leaderboard_table(study.frame.assign(
                     instance=study.frame["instance_label"]), epsilon), epsilon),
                 "</details>\n"]
    text += [RESULT_DEFINITIONS, f"Success threshold epsilon = {epsilon:g}.\n"]

    text += ["## Qubits per instance and formulation\n"]
    if qubits.empty:
        text.append("(no records)\n")
    else:
        shown = qubits.assign(**{c: qubits[c].map(QubitCount.cell) for c in QUBIT_COLUMNS})
        text.append(report.markdown(shown, {"problem": "problem", "instance": "instance",
                                            "variables": "variables", **QUBIT_COLUMNS}))
    text.append(
        f"A number is the median over the instance's ok runs that used the formulation (QUBO variables "
        f"of penalty / unbalanced runs, qubits of PCE, QRAO, Lagrangian and shrink runs); `{COMPUTED}`: no "
        "run used it, computed from the instance with the method's default settings (PCE k = 2, QRAO 3 "
        "variables per qubit, shrinking to 2/3 of the penalty QUBO).\n")
    text += [f"- {note}\n" for note in qubit_notes]
    tsp = tsp_table(frame)
    if not tsp.empty:
        text += ["### TSP: position and edge model\n", report.markdown(tsp),
                 "Position model: (n-1)^2 assignment binaries with city 0 fixed, equality rows only (no "
                 "slack). Edge model (`problem.model=edge`): one binary per edge, degree rows and "
                 "nonredundant subtour rows, whose slack the penalty QUBO adds; Lagrangian: the binaries "
                 f"alone. `{COMPUTED}`: computed; `-`: the penalty QUBO is not built here "
                 "(`python benchmarks/tsp_qubits.py` counts it).\n"]

    text += ["## Published figures\n", report.markdown(published),
             "`qbench` is computed from the records of the study's experiments (comparative: "
             "`comparative_study`, `comparative_small`), whose instances and settings differ from the "
             "published ones as `qbench runs` and the experiment files say; gaps are means over "
             "feasible runs after repair.\n",
             *[f"{i + 1}. {s}\n" for i, s in enumerate(sources)]]

    text += ["## Matched random baseline\n", baseline_rule(seed, repetitions, max_draws) + "\n"]
    for study in studies:
        rows = summary[summary["study"] == study.name] if not summary.empty else summary
        text.append(f"### {study.name}\n")
        if rows.empty:
            text.append("(no run with a baseline)\n")
        else:
            shown = rows.assign(gap_text=rows["gap"].map(_gap_text),
                                random_median_text=rows["random_median"].map(_gap_text),
                                quantile=rows["quantile"].map(lambda q: f"{q:.3f}"))
            text.append(report.markdown(shown[[c for c in _BASELINE_HEADERS if c in shown]], _BASELINE_HEADERS))
        left = table[(table["study"] == study.name) & table["verdict"].isna()]
        if len(left):
            reasons = left["note"].value_counts()
            text.append("Runs without a baseline: " + "; ".join(f"{n} ({reason})" for reason, n in reasons.items())
                        + ".\n")
    text.append(f"Every run's row: [`{assets.name}/random_baseline.csv`]({assets.name}/random_baseline.csv).\n")

    text += ["## Figures\n", *[f"![{p.stem}]({assets.name}/{p.name})\n" for p in figures]]
    if not figures:
        text.append("(no data to draw)\n")

    text += ["## Discussion\n", discussion(out)]
    out.write_text("\n".join(text))
    return out


def discussion(out: Path) -> str:
    """The maintainer's ``<out stem>_discussion.md`` next to the document, as written; or a
    line saying that none was written."""
    path = out.parent / f"{out.stem}_discussion.md"
    if path.is_file():
        return path.read_text().strip() + "\n"
    return f"No discussion was written (`{path}` does not exist).\n"


def main(argv: Sequence[str] | None = None) -> int:
    """The command line of ``benchmarks/reproduction.py``; user errors: one line, status 2."""
    import argparse

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python benchmarks/reproduction.py",
        description="Write docs/reproduction.md from the records of the study experiments.")
    parser.add_argument("directories", nargs="+", help="results directories of the study experiments")
    parser.add_argument("--out", default="docs/reproduction.md", help="the document (figures: its stem's folder)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random baselines")
    parser.add_argument("--repetitions", type=int, default=random_baseline.REPETITIONS,
                        help="repetitions of each random baseline")
    parser.add_argument("--max-draws", type=int, default=random_baseline.MAX_DRAWS,
                        help="expected bitstrings per baseline before the repetitions are lowered")
    parser.add_argument("--epsilon", type=float, default=0.0, help="success threshold on the gap")
    args = parser.parse_args(argv)
    command = " ".join(["python benchmarks/reproduction.py", *map(shlex.quote, argv)])
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    try:
        out = generate(args.directories, args.out, command, args.seed, args.repetitions, args.max_draws,
                       args.epsilon, log)
    except QbenchError as exc:
        print(f"reproduction: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0
