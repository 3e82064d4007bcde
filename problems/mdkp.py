"""Multi-dimensional knapsack (MDKP): choose items maximising profit within m capacities.

Formats: SAC-94 ``.dat`` (one instance: ``n m opt``, profits, the m x n weights row by row,
capacities), OR-Library ``mknap1.txt`` and ``mknapcb1..9.txt`` (a count K, then K such
instances) and OR-Library ``mknap2.txt`` (a description, then instances each opened by a
``problem NAME`` line: ``m n``, profits, capacities, weight rows, optimum; ``//`` comments).
A multi-instance file needs ``problem.index`` (1-based). ``opt`` 0 means unknown. Weights and
capacities are non-negative. Generator: Chu & Beasley (1998) correlated instances.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qiskit_optimization import QuadraticProgram

from qbench.errors import InputFileError
from qbench.instances import ManifestEntry
from qbench.params import check
from qbench.parsing import NumberStream, read_lines
from qbench.problem import Evaluation, Problem, ProblemFamily, Reference

TOLERANCE = 1e-9


@dataclass(frozen=True, eq=False)
class Mdkp(Problem):
    """maximise p.x  s.t.  W x <= c,  x in {0,1}^n."""

    name: str
    profits: np.ndarray
    weights: np.ndarray
    capacities: np.ndarray
    reference: Reference = Reference.unknown()

    kind = "mdkp"
    sense = "max"

    def __post_init__(self) -> None:
        n, m = self.profits.shape[0], self.capacities.shape[0]
        if self.weights.shape != (m, n):
            raise ValueError(f"weights must be {m}x{n}, got {self.weights.shape}")

    @property
    def n_items(self) -> int:
        return int(self.profits.shape[0])

    @property
    def n_constraints(self) -> int:
        return int(self.capacities.shape[0])

    def describe(self) -> str:
        return f"{self.n_items} items x {self.n_constraints} constraints"

    def payload(self) -> dict:
        return {"profits": self.profits, "weights": self.weights, "capacities": self.capacities}

    def to_quadratic_program(self) -> QuadraticProgram:
        qp = QuadraticProgram(f"mdkp_{self.name}")
        names = [f"x[{j}]" for j in range(self.n_items)]
        for name in names:
            qp.binary_var(name)
        qp.maximize(linear=dict(zip(names, self.profits.tolist())))
        for i in range(self.n_constraints):
            qp.linear_constraint(
                dict(zip(names, self.weights[i].tolist())), "<=", float(self.capacities[i]), f"capacity[{i}]"
            )
        return qp

    def evaluate(self, x: np.ndarray) -> Evaluation:
        x = np.asarray(x, dtype=float)
        violation = self._excess(self.weights @ x)
        return Evaluation(float(self.profits @ x), violation <= TOLERANCE, violation)

    def build_mip(self, model):
        from pyscipopt import quicksum

        x = [model.addVar(f"x{j}", vtype="B") for j in range(self.n_items)]
        model.setObjective(quicksum(float(p) * v for p, v in zip(self.profits, x)), "maximize")
        for i in range(self.n_constraints):
            model.addCons(
                quicksum(float(w) * v for w, v in zip(self.weights[i], x)) <= float(self.capacities[i]),
                name=f"capacity_{i}",
            )
        return lambda m: np.array([round(m.getVal(v)) for v in x], dtype=np.int8)

    def forbids_tie(self, i: int, j: int, same: bool) -> bool:
        """Tying ``x_i = x_j`` forces a violation (when both are 1) if items ``i`` and ``j``
        together exceed some capacity; an opposite tie never puts both in the knapsack."""
        if not same:
            return False
        return bool(np.any(self.weights[:, i] + self.weights[:, j] > self.capacities + TOLERANCE))

    def repair(self, x: np.ndarray) -> np.ndarray:
        """A feasible selection near ``x``, deterministically: drop the chosen items by
        increasing profit per unit of weight (:meth:`density`) until every capacity holds, then
        add the items of positive profit by decreasing ratio while they fit. A feasible ``x``
        loses nothing, and an optimal one is returned unchanged (no profitable item fits
        beside it)."""
        x = (np.asarray(x, dtype=float).round() != 0).astype(np.int8)
        order = np.argsort(self.density(), kind="stable")
        load = self.weights @ x
        for j in order:
            if self._excess(load) <= TOLERANCE:
                break
            if x[j]:
                x[j] = 0
                load = load - self.weights[:, j]
        for j in order[::-1]:
            if not x[j] and self.profits[j] > 0 and self._excess(load + self.weights[:, j]) <= TOLERANCE:
                x[j] = 1
                load = load + self.weights[:, j]
        return x

    def _excess(self, load: np.ndarray) -> float:
        """Total load over capacity (the violation :meth:`evaluate` reports)."""
        return float(np.maximum(load - self.capacities, 0.0).sum())

    def density(self) -> np.ndarray:
        """Profit per unit of weight, each weight taken as a fraction of its capacity (the usual
        greedy ratio for several constraints; a zero capacity counts as 1)."""
        scale = np.where(self.capacities > 0, self.capacities, 1.0)
        return self.profits / np.maximum((self.weights / scale[:, None]).sum(axis=0), 1e-12)


@dataclass(frozen=True)
class Generator:
    """Chu–Beasley instance: weights uniform in [1, max_weight], capacity_i = tightness *
    sum_j w_ij, profit_j = sum_i w_ij / m + max_weight/2 * u_j with u_j uniform in [0, 1)."""

    n_items: int = 6
    n_constraints: int = 2
    tightness: float = 0.5
    max_weight: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        check(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        check(self.n_items >= 1, "n_items", f"must be >= 1, got {self.n_items}")
        check(self.n_constraints >= 1, "n_constraints", f"must be >= 1, got {self.n_constraints}")
        check(0 < self.tightness < 1, "tightness", f"must be in (0, 1), got {self.tightness}")
        check(self.max_weight >= 1, "max_weight", f"must be >= 1, got {self.max_weight}")


@dataclass(frozen=True)
class Options:
    """``index``: 1-based instance number inside a multi-instance file."""

    index: int | None = None

    def __post_init__(self) -> None:
        check(self.index is None or self.index >= 1, "index", f"must be >= 1, got {self.index}")


def generate(params: Generator, options: Options | None = None) -> Mdkp:
    rng = np.random.default_rng(params.seed)
    weights = rng.integers(1, params.max_weight + 1, size=(params.n_constraints, params.n_items))
    capacities = np.floor(params.tightness * weights.sum(axis=1))
    profits = np.round(weights.sum(axis=0) / params.n_constraints + params.max_weight / 2 * rng.random(params.n_items))
    name = f"gen-n{params.n_items}-m{params.n_constraints}-t{params.tightness:g}-s{params.seed}"
    return Mdkp(name, profits.astype(float), weights.astype(float), capacities.astype(float))


@dataclass(frozen=True, eq=False)
class _Instance:
    """One instance as a file states it, ``line`` being where its optimum is."""

    profits: np.ndarray
    weights: np.ndarray
    capacities: np.ndarray
    optimum: float
    line: int


def _read_one(stream: NumberStream, label: str) -> _Instance:
    """``n m opt``, profits, weight rows, capacities (SAC-94 and OR-Library mknap1/mknapcb)."""
    line = stream.line
    n = stream.int(f"{label} number of items", minimum=1)
    m = stream.int(f"{label} number of constraints", minimum=1)
    stream.require(n + m * n + m + 1, f"{label}: n={n} items and m={m} constraints", line)
    optimum_line = stream.line
    opt = stream.float(f"{label} optimum", minimum=0)
    profits = stream.floats(n, f"{label} profit")
    weights = np.array([stream.floats(n, f"{label} weight row {i + 1}", minimum=0) for i in range(m)])
    capacities = stream.floats(m, f"{label} capacity", minimum=0)
    return _Instance(profits, weights, capacities, opt, optimum_line)


def _read_literature(stream: NumberStream, label: str) -> _Instance:
    """``m n``, profits, capacities, weight rows, optimum (OR-Library mknap2)."""
    line = stream.line
    m = stream.int(f"{label} number of constraints", minimum=1)
    n = stream.int(f"{label} number of items", minimum=1)
    stream.require(n + m + m * n + 1, f"{label}: m={m} constraints and n={n} items", line)
    profits = stream.floats(n, f"{label} profit")
    capacities = stream.floats(m, f"{label} capacity", minimum=0)
    weights = np.array([stream.floats(n, f"{label} weight row {i + 1}", minimum=0) for i in range(m)])
    optimum_line = stream.line
    opt = stream.float(f"{label} optimum", minimum=0)
    stream.expect_end()
    return _Instance(profits, weights, capacities, opt, optimum_line)


#: A line opening one instance of OR-Library's mknap2 ("problem WEING1.DAT").
_PROBLEM_LINE = re.compile(r"problem\s+(\S+)", re.IGNORECASE)


@dataclass
class _Block:
    name: str
    line: int
    lines: list[tuple[int, str]]


def _literature_blocks(lines: list[str]) -> list[_Block]:
    """The instances of a file laid out as OR-Library's ``mknap2.txt``: a description, then
    instances each opened by a ``problem NAME`` line; ``//`` starts a comment. Empty when the
    file has no ``problem`` line (another layout)."""
    blocks: list[_Block] = []
    for number, raw in enumerate(lines, 1):
        text = raw.split("//", 1)[0]
        match = _PROBLEM_LINE.fullmatch(text.strip(" \t\v\f"))
        if match:
            blocks.append(_Block(match.group(1), number, []))
        elif blocks:
            blocks[-1].lines.append((number, text))
    return blocks


def _choose(path: Path, count: int, index: int | None, names: list[str] | None = None) -> None:
    if index is None:
        listed = f" ({', '.join(names)})" if names else ""
        raise InputFileError(path, f"holds {count} instances{listed}; choose one with problem.index=1..{count}")
    if index > count:
        raise InputFileError(path, f"problem.index={index} but the file holds {count} instances")


def load(path: Path, options: Options | None = None, entry: ManifestEntry | None = None) -> Mdkp:
    """Read a SAC-94 single-instance file, an OR-Library multi-instance file (mknap1, mknapcb)
    or OR-Library's literature collection (mknap2)."""
    options = options or Options()
    index = options.index if options.index is not None else (entry.options.get("index") if entry else None)
    path = Path(path)
    lines = read_lines(path)
    blocks = _literature_blocks(lines)
    if blocks:
        _choose(path, len(blocks), index, [b.name for b in blocks])
        block = blocks[index - 1]
        stream = NumberStream(path, numbered_lines=block.lines or [(block.line, "")])
        instance = _read_literature(stream, block.name)
        name, source = f"{path.stem}-{Path(block.name).stem}", f"{path.name} {block.name}"
    else:
        stream = NumberStream(path, numbered_lines=enumerate(lines, 1))
        # A multi-instance file starts with a lone count K; a single instance with "n m opt".
        if stream.token_line(0) is not None and stream.token_line(0) != stream.token_line(1):
            count = stream.int("instance count", minimum=1)
            _choose(path, count, index)
            for k in range(1, index):
                _read_one(stream, f"instance {k}")
            instance = _read_one(stream, f"instance {index}")
            name = f"{path.stem}-{index}"
        else:
            instance = _read_one(stream, "instance")
            stream.expect_end()
            name = path.stem
        source = f"{path.name} header"
    _check_optimum(path, instance)
    if entry is not None:
        name = entry.name
        reference = Reference(float(entry.reference), entry.reference_source, entry.proven)
    elif instance.optimum > 0:
        reference = Reference(instance.optimum, source, proven=False)
    else:
        reference = Reference.unknown()
    return Mdkp(name, instance.profits, instance.weights, instance.capacities, reference)


def _check_optimum(path: Path, instance: _Instance) -> None:
    """A stated optimum above the profit of every item together is impossible."""
    total = float(np.maximum(instance.profits, 0.0).sum())
    if instance.optimum > total + TOLERANCE * max(1.0, total):
        raise InputFileError(
            path, f"optimum {instance.optimum:g} exceeds {total:g}, the profit of all items together", instance.line
        )


FAMILY = ProblemFamily(
    kind="mdkp",
    description="multi-dimensional knapsack (maximise profit)",
    Generator=Generator,
    Options=Options,
    generate=generate,
    load=load,
)
