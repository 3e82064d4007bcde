"""The matched random baseline of one run: uniform random bitstrings of the run's QUBO, as many
as the method drew, judged as the method's samples are.

A sampling method picks its answer from many candidate bitstrings; with enough of them a
uniform guess also finds good answers. The baseline asks how good the best of ``K`` uniform
bitstrings is, ``K`` the run's own candidate count, and repeats the draw ``R`` times to get the
distribution of that best gap:

- Candidate count (:func:`candidate_count`): every bitstring the run's backend drew,
  ``solver_info.total_shots`` = shots per evaluation x evaluations + final shots (an evaluation
  the backend computes exactly draws none); annealing reads for ``sa``; ``shots`` for
  ``random``; for ``shrink`` its inner solver's; for ``lagrangian`` inner solves x the inner
  solver's final shots, only where its evaluations draw nothing (inner ``shots`` null on the
  ``statevector`` backend, whose expectations and CVaR are exact): the record does not hold
  the inner solves' shot counts.
- Each repetition draws ``K`` bitstrings of the run's QUBO (its formulation, so slack bits
  too), chooses the answer as every qbench sampler does (:func:`qbench.sampling.select_answer`:
  the best feasible by native objective, else the lowest energy; ``solver=random`` is this
  with one repetition), applies the run's repair (:func:`qbench.repair.repair_answer`) and
  keeps the final gap (infinite when infeasible).
- The run's gap (infinite when infeasible) is placed in that distribution (:func:`judge`):
  its mid-rank quantile (ties count half); ``outperforms`` when random matched or beat it in
  fewer than 2.5 % of the repetitions, ``underperforms`` when random beat it strictly in more
  than 97.5 %, else ``comparable``. Ties count against the claim, so a gap of 0 that random
  also reaches in most repetitions is ``comparable``.

How it is computed. When the bits the decoder reads number at most :data:`EXACT_BITS`, every
pattern of them is decoded and judged once, feasible patterns are grouped by objective level,
and a repetition samples which level is the best one hit among ``K`` draws (from the exact
probabilities ``1 - (1 - P_j)^K``), how many draws hit it, and which bitstrings they are (the
bits the decoder ignores uniform); :func:`~qbench.sampling.select_answer` then chooses among
those draws exactly as it would among all ``K``, since the others rank below them. That is the
distribution of drawing ``K`` bitstrings, at a cost independent of ``K``; only a repetition in
which no draw is feasible draws all ``K`` (the lowest energy decides). Larger spaces draw all
``K`` bitstrings per repetition (Monte Carlo). Native verdicts come from the problem's canonical
model as arrays (:class:`~qbench.linear_model.LinearModel`), checked against
:meth:`~qbench.problem.Problem.evaluate` on sampled and top-ranked assignments and on every
chosen answer; where they differ (market split's feasibility is an exact split, not a model
row), each distinct assignment is evaluated natively. The work is capped: ``R`` is lowered
until the expected draws stay under ``max_draws`` (never below :data:`MIN_REPETITIONS`), and a
Monte-Carlo run with more than :data:`MAX_CANDIDATES` candidates gets no baseline.

Followed, with differences: the matched baseline of the seed authors (SMU-Quantum/
quantum-optimization-benchmarks, ``additional_experiment/*_p0_4_random_baseline/
run_random_baseline.py``): per run the same number of uniform bitstrings of the same QUBO as
the hardware run evaluated, the same selection and the same post-processing as the method, a
seeded replicate per draw, the run's metric placed in the replicates' distribution. They count
evaluations x shots (their hardware runs have no final batch) where qbench counts every shot
drawn, final ones included; they select the batch with the lowest mean energy and its
lowest-energy bitstring and refine it by a one-round local swap, where qbench applies its own
selection (the best feasible over all candidates) and repair, as its runs do; their tail
fraction is ``(1 + #{random <= run}) / (R + 1)`` with thresholds 5 % and 95 %, here 2.5 % and
97.5 % with ties against the claim.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from qbench.errors import QbenchError
from qbench.formulations.base import Encoding
from qbench.linear_model import LinearModel
from qbench.problem import GAP_TOLERANCE, Problem, optimality_gap
from qbench.repair import RepairName, repair_answer
from qbench.sample_rows import unique_rows
from qbench.sampling import judge as judge_rows
from qbench.sampling import select_answer

#: Repetitions of the draw per run (fewer when the work cap requires; see :func:`repetitions`).
REPETITIONS = 200
MIN_REPETITIONS = 20
#: Expected bitstrings drawn and judged per distribution before ``R`` is lowered.
MAX_DRAWS = 2_000_000
#: Candidate counts beyond this get no Monte-Carlo baseline (``MIN_REPETITIONS`` x this draws).
MAX_CANDIDATES = 1_000_000
#: Largest number of decoder-read bits whose patterns are all enumerated (2^20 rows).
EXACT_BITS = 20
#: Largest number of distinct assignments evaluated natively when enumerating.
NATIVE_EXACT_MAX = 2**16
#: Verdict thresholds on the quantile.
LOW, HIGH = 0.025, 0.975
_CHUNK = 1 << 16
_CHECKS = 256


@dataclass(frozen=True)
class CandidateCount:
    """``count``: bitstrings the run chose its answer from (``None`` when not known); ``rule``:
    where it was read, or why there is none."""

    count: int | None
    rule: str


def candidate_count(data: dict[str, Any]) -> CandidateCount:
    """The candidate count of the run whose record (a JSON object) is ``data``; see the module
    docstring for the rules."""
    info = data.get("solver_info") or {}
    config = data.get("config") or {}
    solver = str(data.get("solver"))
    if solver == "lagrangian":
        return _lagrangian_count(info, config.get("solver") or {}, data.get("backend"))
    if data.get("final_coverage") is None:
        return CandidateCount(None, "answer not drawn from samples")
    if solver == "shrink":
        inner = str(info.get("inner"))
        params = {**_solver_defaults(inner), **((config.get("solver") or {}).get("inner_params") or {})}
        return _sampled_count(inner, info.get("inner_info") or {}, params, "inner ")
    return _sampled_count(solver, info, config.get("solver") or {}, "")


def _sampled_count(solver: str, info: dict[str, Any], params: dict[str, Any], prefix: str) -> CandidateCount:
    total = info.get("total_shots")
    if isinstance(total, int) and total > 0:
        return CandidateCount(total, f"{prefix}total_shots (shots x evaluations + final shots)")
    if solver == "sa" and isinstance(params.get("num_reads"), int):
        return CandidateCount(params["num_reads"], f"{prefix}num_reads (annealing reads)")
    shots = info.get("shots", params.get("shots"))
    if solver == "random" and isinstance(shots, int):
        return CandidateCount(shots, f"{prefix}shots")
    return CandidateCount(None, f"no shot count in the record ({prefix}{solver})")


def _lagrangian_count(info: dict[str, Any], params: dict[str, Any], backend: str | None) -> CandidateCount:
    inner = str(info.get("inner", params.get("inner")))
    solves = info.get("inner_solves")
    if not isinstance(solves, int) or solves < 1:
        return CandidateCount(None, "no inner_solves in the record")
    settings = {**_solver_defaults(inner), **(params.get("inner_params") or {})}
    if inner == "sa":
        return CandidateCount(solves * int(settings["num_reads"]), "inner_solves x inner num_reads")
    if inner == "random":
        return CandidateCount(solves * int(settings["shots"]), "inner_solves x inner shots")
    if "final_shots" not in settings:
        return CandidateCount(None, f"inner {inner} draws no samples")
    if settings.get("shots") is not None or backend != "statevector":
        return CandidateCount(None, "inner evaluations' shots are not recorded")
    return CandidateCount(solves * int(settings["final_shots"]),
                          "inner_solves x inner final_shots (evaluations exact)")


@cache
def _solver_defaults(name: str) -> dict[str, Any]:
    """The solver config ``conf/solver/<name>.yaml`` (as an inner solver composes it)."""
    from qbench.inner import solver_config

    try:
        return solver_config(name)
    except QbenchError:
        return {}


@dataclass(frozen=True)
class Distribution:
    """Best final gaps of ``len(gaps)`` repetitions (``inf``: the answer was infeasible)."""

    gaps: np.ndarray
    candidates: int
    sampling: str

    @property
    def repetitions(self) -> int:
        return len(self.gaps)

    def quantile(self, q: float) -> float:
        return float(np.quantile(self.gaps, q, method="inverted_cdf"))

    @property
    def feasible_rate(self) -> float:
        return float(np.isfinite(self.gaps).mean())


@dataclass(frozen=True)
class Verdict:
    """The run's gap in the baseline distribution: ``below`` / ``tied`` the fractions of
    repetitions strictly better than / equal to it; ``quantile`` = below + tied / 2."""

    quantile: float
    below: float
    tied: float
    verdict: str


def judge(gap: float | None, gaps: np.ndarray) -> Verdict:
    """Place the run's final gap (``None`` or ``inf``: infeasible) among the baseline's gaps."""
    value = math.inf if gap is None else float(gap)
    gaps = np.asarray(gaps, dtype=float)
    tied = gaps == value
    if math.isfinite(value):
        tied |= np.abs(gaps - value) <= GAP_TOLERANCE
    below = (gaps < value) & ~tied
    b, t = float(below.mean()), float(tied.mean())
    if b + t < LOW:
        verdict = "outperforms"
    elif b > HIGH:
        verdict = "underperforms"
    else:
        verdict = "comparable"
    return Verdict(b + t / 2, b, t, verdict)


def repetitions(target: int, work_per_repetition: float, max_draws: int) -> int:
    """``target``, lowered so that ``R x work`` stays under ``max_draws``, never below
    :data:`MIN_REPETITIONS` (or ``target`` when that is smaller)."""
    fits = int(max_draws // max(work_per_repetition, 1.0))
    return max(min(target, fits), min(MIN_REPETITIONS, target))


class SampleSpace:
    """Uniform bitstrings of ``encoding`` (the QUBO of ``problem`` under the run's formulation),
    judged as a run's samples with ``repair`` applied; :meth:`distribution` draws the baseline."""

    def __init__(self, problem: Problem, encoding: Encoding, repair: RepairName, exact_bits: int = EXACT_BITS,
                 key: str = "") -> None:
        if problem.reference.value is None:
            raise ValueError("a baseline needs the problem's reference optimum")
        self.problem, self.encoding, self.repair, self.key = problem, encoding, repair, key
        self.sign = 1.0 if problem.sense == "max" else -1.0
        n = encoding.qubits
        affine = encoding.affine_map()
        if affine is None:
            self._offset, self._matrix, self.relevant = None, None, np.arange(n)
        else:
            self._offset, matrix = affine
            self.relevant = np.flatnonzero(np.any(matrix != 0, axis=1))
            self._matrix = matrix[self.relevant]
        self.free = np.setdiff1d(np.arange(n), self.relevant)
        try:
            self.model: LinearModel | None = LinearModel.from_problem(problem)
        except QbenchError:
            self.model = None
        self.screened = self.model is not None
        self._repaired: dict[bytes, float] = {}
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            self.exact = affine is not None and len(self.relevant) <= exact_bits and self._enumerate()
        if not self.exact and self.screened:
            rows = np.random.default_rng(0).integers(0, 2, (_CHECKS, n), dtype=np.int8)
            self.screened = self._agrees(self.encoding.decode_many(rows))

    # -- verdicts --------------------------------------------------------------------------------
    def verdicts(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(feasible, native objective) of each row of ``xs``: from the model's arrays when they
        agreed with the native evaluation, else natively per distinct row."""
        if self.screened:
            return self.model.feasible_rows(xs), self.model.native_objectives(xs)
        distinct, inverse = unique_rows(xs)
        verdicts = judge_rows(self.problem, distinct)
        return verdicts.feasible[inverse], verdicts.objective[inverse]

    def _agrees(self, xs: np.ndarray) -> bool:
        """Whether the model's verdicts on ``xs`` are the native ones (objective where feasible)."""
        if self.model is None or not len(xs):
            return self.model is not None
        distinct = unique_rows(xs)[0]
        native = judge_rows(self.problem, distinct)
        feasible = self.model.feasible_rows(distinct)
        objective = self.model.native_objectives(distinct)
        close = np.abs(objective - native.objective) <= GAP_TOLERANCE * np.maximum(1.0, np.abs(native.objective))
        return bool(np.array_equal(feasible, native.feasible) and np.all(close[native.feasible]))

    # -- enumeration -----------------------------------------------------------------------------
    def _decode_patterns(self, patterns: np.ndarray) -> np.ndarray:
        shifts = np.arange(len(self.relevant), dtype=np.int64)
        bits = ((patterns[:, None] >> shifts) & 1).astype(np.float64)
        return (self._offset + bits @ self._matrix).round().astype(np.int8)

    def _enumerate(self) -> bool:
        """Judge every pattern of the decoder-read bits; group the feasible ones by objective
        level, best first. False when the native evaluation of every distinct assignment would
        be needed and is too large."""
        count = 1 << len(self.relevant)
        feasible = np.empty(count, dtype=bool)
        objective = np.empty(count)
        if self.screened:
            for start in range(0, count, _CHUNK):
                xs = self._decode_patterns(np.arange(start, min(start + _CHUNK, count), dtype=np.int64))
                feasible[start:start + len(xs)] = self.model.feasible_rows(xs)
                objective[start:start + len(xs)] = self.model.native_objectives(xs)
            rng = np.random.default_rng(0)
            ranked = np.flatnonzero(feasible)[np.argsort(-self.sign * objective[feasible], kind="stable")][:_CHECKS]
            checked = np.concatenate([ranked, rng.integers(0, count, _CHECKS)])
            self.screened = self._agrees(self._decode_patterns(checked.astype(np.int64)))
        if not self.screened:
            xs = self._decode_patterns(np.arange(count, dtype=np.int64))
            distinct, inverse = unique_rows(xs)
            if len(distinct) > NATIVE_EXACT_MAX:
                return False
            verdicts = judge_rows(self.problem, distinct)
            feasible, objective = verdicts.feasible[inverse], verdicts.objective[inverse]
        ids = np.flatnonzero(feasible)
        values = self.sign * objective[ids]
        order = np.argsort(-values, kind="stable")
        ids, values = ids[order], values[order]
        new_level = np.abs(np.diff(values)) > GAP_TOLERANCE * np.maximum(1.0, np.abs(values[1:]))
        starts = np.concatenate([[0], np.flatnonzero(new_level) + 1]) if len(ids) else np.zeros(0, dtype=int)
        self._levels = np.split(ids, starts[1:]) if len(ids) else []
        self._masses = np.array([len(level) for level in self._levels], dtype=float) / count
        self._infeasible = np.flatnonzero(~feasible)
        return True

    def _bits(self, patterns: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Full bitstrings: ``patterns`` on the decoder-read bits, the other bits uniform."""
        bits = np.zeros((len(patterns), self.encoding.qubits), dtype=np.int8)
        shifts = np.arange(len(self.relevant), dtype=np.int64)
        bits[:, self.relevant] = (patterns[:, None] >> shifts) & 1
        if len(self.free):
            bits[:, self.free] = rng.integers(0, 2, (len(patterns), len(self.free)), dtype=np.int8)
        return bits

    # -- the baseline ----------------------------------------------------------------------------
    def distribution(self, candidates: int, target: int = REPETITIONS, seed: int = 0,
                     max_draws: int = MAX_DRAWS) -> Distribution | None:
        """The best final gap of ``candidates`` uniform bitstrings, repeated (seeded by ``seed``,
        the space's key and ``candidates``); ``None`` when the candidates exceed the cap."""
        from threadpoolctl import threadpool_limits

        digest = int(hashlib.sha256(self.key.encode()).hexdigest()[:12], 16)
        rng = np.random.default_rng([seed, candidates, digest])
        # Small matrix products: BLAS threads only contend (with each other and other work).
        with threadpool_limits(limits=1, user_api="blas"):
            if self.exact:
                return self._exact_distribution(candidates, target, max_draws, rng)
            if candidates > MAX_CANDIDATES:
                return None
            reps = repetitions(target, candidates, max_draws)
            gaps = [self._final_gap(self._best_drawn(candidates, rng)) for _ in range(reps)]
        return Distribution(np.array(gaps), candidates, "Monte Carlo")

    def _exact_distribution(self, k: int, target: int, max_draws: int, rng: np.random.Generator) -> Distribution:
        masses = self._masses
        covered = np.minimum(np.cumsum(masses), 1.0)
        before = np.concatenate([[0.0], covered[:-1]])
        with np.errstate(divide="ignore", invalid="ignore"):
            missed = np.exp(k * np.log1p(-covered))  # no draw in the levels up to j
            share = np.clip(masses / (1.0 - before), 0.0, 1.0)  # a draw in j, given none above it
            hits = np.where(share > 0, k * share / -np.expm1(k * np.log1p(-share)), 1.0)
        first = np.concatenate([[1.0], missed[:-1]]) - missed
        none_feasible = float(missed[-1]) if len(masses) else 1.0
        work = float(np.nansum(first * hits)) + none_feasible * k
        reps = repetitions(target, work, max_draws)
        gaps = np.empty(reps)
        for r in range(reps):
            level = int(np.searchsorted(1.0 - missed, rng.random(), side="left")) if len(masses) else 0
            if level >= len(masses):
                bits = self._lowest_energy_draws(k, rng)
            else:
                q = float(share[level])
                if q >= 1.0:
                    position = 1
                else:
                    u = rng.random() * -math.expm1(k * math.log1p(-q))
                    position = min(k, 1 + int(math.floor(math.log1p(-u) / math.log1p(-q))))
                count = 1 + (int(rng.binomial(k - position, q)) if position < k else 0)
                bits = self._bits(rng.choice(self._levels[level], size=count), rng)
            gaps[r] = self._final_gap(bits)
        return Distribution(gaps, k, "exact levels")

    def _lowest_energy_draws(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` draws none of which is feasible: those of the lowest energy among them."""
        best, kept = math.inf, []
        for start in range(0, k, _CHUNK):
            bits = self._bits(rng.choice(self._infeasible, size=min(_CHUNK, k - start)), rng)
            best, kept = self._keep_lowest(bits, best, kept)
        return np.vstack(kept)

    def _keep_lowest(self, bits: np.ndarray, best: float, kept: list) -> tuple[float, list]:
        energies = self.encoding.qubo.energies(bits)
        low = float(energies.min())
        if low < best:
            best, kept = low, []
        if low <= best:
            kept.append(bits[energies == best])
        return best, kept

    def _best_drawn(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` uniform bitstrings, drawn in chunks: the ones :func:`select_answer` ranks first
        (the best feasible objective level, or the lowest energy when none is feasible)."""
        n = self.encoding.qubits
        level, kept, lowest, low_kept = -math.inf, [], math.inf, []
        for start in range(0, k, _CHUNK):
            bits = rng.integers(0, 2, (min(_CHUNK, k - start), n), dtype=np.int8)
            feasible, objective = self.verdicts(self.encoding.decode_many(bits))
            if feasible.any():
                values = self.sign * objective
                top = float(values[feasible].max())
                margin = GAP_TOLERANCE * max(1.0, abs(top))
                if top > level + margin:
                    level, kept = top, []
                if top >= level - margin:
                    kept.append(bits[feasible & (values >= level - margin)])
            elif not kept:
                lowest, low_kept = self._keep_lowest(bits, lowest, low_kept)
        return np.vstack(kept if kept else low_kept)

    def _final_gap(self, bits: np.ndarray) -> float:
        """The final gap of the answer chosen among ``bits`` (infinite when infeasible)."""
        answer = select_answer(self.encoding, self.problem, bits, np.ones(len(bits)))
        key = np.asarray(answer.x, dtype=np.int8).tobytes()
        if key not in self._repaired:
            if self.screened and not self._agrees(np.asarray(answer.x, dtype=np.int8)[None, :]):
                raise RuntimeError(f"{self.problem.name}: the model's verdict on a chosen answer differs "
                                   "from the native evaluation")
            evaluation = repair_answer(self.problem, answer.x, self.repair).evaluation
            reference = self.problem.reference.value
            gap = optimality_gap(evaluation.objective, reference, self.problem.sense) if evaluation.feasible else None
            self._repaired[key] = math.inf if gap is None else float(gap)
        return self._repaired[key]


def space_key(problem_config: dict[str, Any], formulation_config: dict[str, Any], reference: float,
              repair: str) -> str:
    """Identity of a sample space: runs with the same key share their baselines."""
    return json.dumps([problem_config, formulation_config, reference, repair], sort_keys=True, default=str)


def build_space(data: dict[str, Any], exact_bits: int = EXACT_BITS) -> SampleSpace:
    """The sample space of the run whose record is ``data``: its instance (with the record's
    reference, so nothing is re-solved), its formulation's QUBO and its repair."""
    from qbench import registry
    from qbench.problem import Reference
    from qbench.repair import repair_setting

    config = data.get("config") or {}
    problem = registry.build_problem(config["problem"])
    reference = Reference(data.get("reference"), str(data.get("reference_source")), bool(data.get("reference_proven")))
    problem = dataclasses.replace(problem, reference=reference)
    formulation = registry.build_component(config["formulation"], "formulation")
    repair = repair_setting(config)
    key = space_key(config["problem"], config["formulation"], data.get("reference"), repair)
    return SampleSpace(problem, formulation.encode(problem), repair, exact_bits, key)
