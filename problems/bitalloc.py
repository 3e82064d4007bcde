"""Mixed-precision bit allocation as a knapsack (HAWQ-V3): one bit width per layer, least
perturbation within a size / bit-operation / latency budget.

Model. Layer ``i`` gets one width ``w_k`` of ``widths`` (ascending); choosing it adds
``perturbation[i, k]`` to the objective (minimised) and ``cost[i, k]`` to the budget row. The
budget is ``frac`` of the way from the all-lowest to the all-highest allocation:
``sum_i cost[i, 0] + frac * sum_i (cost[i, -1] - cost[i, 0])``. Tied layers (residual
downsample layers and their block) take the same width.

Decision vector, two encodings of the same choice (one evaluation path, :meth:`choices`):
- exactly two widths (HAWQ's 4/8): one binary ``y[i]`` per layer, 1 = the higher width. This is
  HAWQ-V3's own integer program and the qubit-lean QUBO (no one-hot constraints);
- three or more widths: one-hot ``z[i,w]`` (index ``i * W + k``) with ``sum_w z[i,w] = 1``
  (constraint group ``onehot``), a multiple-choice knapsack.
Objective and budget are written relative to the lowest width (``base + sum (perturbation[i,k] -
perturbation[i,0]) z[i,k]`` over ``k >= 1``), identical to ``sum perturbation * z`` whenever the
one-hot rows hold, and ``z[i,0]`` then appears in ``onehot`` only. Constraint groups: ``budget``,
``tie`` (``y[i] = y[j]``, or ``z[i,w] = z[j,w]`` per width), ``onehot``.

The budget row given to the QP and to SCIP is the same row in integer units: costs are scaled by
the smallest power of ten that makes them integers (HAWQ's latencies have 8 decimals) and divided
by their gcd, the right-hand side rounded down. That is exact, lets the penalty QUBO use an
integer slack, and spares SCIP a tolerance decision on a real-valued knapsack row.

Evaluation: objective as above; violation = budget excess (cost units) + number of layers whose
one-hot row is broken (``|sum - 1|``) + number of tied pairs whose choices differ.

Instances: HAWQ-V3's ResNet18 (19 layers) and ResNet50 (52 layers) tables from ``ILP.ipynb``
(:mod:`problems.hawq`), objective ``sum_i y_i trace_i (d8_i - d4_i)`` as in the paper, costs:
size ``0.5 * bits/4 * parameters`` (bytes), bops ``bops/64`` at 4 and ``bops/16`` at 8 bits,
latency the measured INT4/INT8 times. The manifest's reference is keyed ``"BUDGET:FRAC"``; other
(budget, frac) pairs have no shipped reference. Generator: random multiple-choice knapsack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from qiskit_optimization import QuadraticProgram

from qbench import instances
from qbench.errors import ConfigError
from qbench.instances import ManifestEntry
from qbench.params import check
from qbench.problem import Evaluation, Problem, ProblemFamily, Reference
from qbench.problems.hawq import NETWORKS, read_table

TOLERANCE = 1e-9
BudgetKind = Literal["size", "bops", "latency"]
Network = Literal["resnet18", "resnet50"]


@dataclass(frozen=True, eq=False)
class BitAllocation(Problem):
    """minimise sum_i perturbation[i, k_i]  s.t.  sum_i cost[i, k_i] <= budget, ties, one width each."""

    name: str
    widths: tuple[int, ...]
    perturbation: np.ndarray
    cost: np.ndarray
    ties: tuple[tuple[int, int], ...]
    budget_kind: str
    frac: float
    reference: Reference = Reference.unknown()

    kind = "bitalloc"
    sense = "min"

    def __post_init__(self) -> None:
        shape = (self.perturbation.shape[0], len(self.widths))
        if len(self.widths) < 2 or list(self.widths) != sorted(set(self.widths)):
            raise ValueError(f"widths must be >= 2 distinct ascending values, got {self.widths}")
        if self.perturbation.shape != shape or self.cost.shape != shape:
            raise ValueError(f"perturbation and cost must be {shape}")
        if any(not (0 <= a < shape[0] and 0 <= b < shape[0]) or a == b for a, b in self.ties):
            raise ValueError(f"ties must pair two of the {shape[0]} layers, got {self.ties}")

    # --- structure -------------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return int(self.perturbation.shape[0])

    @property
    def binary(self) -> bool:
        """Two widths: one binary per layer; otherwise one-hot."""
        return len(self.widths) == 2

    @property
    def budget(self) -> float:
        low, high = self.cost[:, 0].sum(), self.cost[:, -1].sum()
        return float(low + self.frac * (high - low))

    @property
    def tolerance(self) -> float:
        """Absolute budget tolerance (float noise only), shared by every feasibility decision."""
        return TOLERANCE * max(1.0, abs(self.budget))

    @property
    def upgrade_cost(self) -> np.ndarray:
        """Cost of width ``k`` over the lowest width, per layer (column 0 is zero)."""
        return self.cost - self.cost[:, :1]

    @property
    def upgrade_perturbation(self) -> np.ndarray:
        return self.perturbation - self.perturbation[:, :1]

    def variable_names(self) -> list[str]:
        if self.binary:
            return [f"y[{i}]" for i in range(self.n_layers)]
        return [f"z[{i},{w}]" for i in range(self.n_layers) for w in self.widths]

    def _layout(self) -> list[tuple[int, int]]:
        """(layer, width index) of every decision variable, in vector order."""
        if self.binary:
            return [(i, 1) for i in range(self.n_layers)]
        return [(i, k) for i in range(self.n_layers) for k in range(len(self.widths))]

    def choices(self, x: np.ndarray) -> np.ndarray:
        """The layer x width indicator matrix of a decision vector (rows may break one-hot)."""
        x = np.asarray(x, dtype=float)
        if self.binary:
            return np.stack([1.0 - x, x], axis=1)
        return x.reshape(self.n_layers, len(self.widths))

    def encode_choices(self, z: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`choices` for one-hot rows."""
        z = np.asarray(z, dtype=np.int8)
        return z[:, 1].copy() if self.binary else z.reshape(-1).copy()

    def bit_widths(self, x: np.ndarray) -> list[int | None]:
        """Chosen width per layer (``None`` where the one-hot row is broken)."""
        z = self.choices(x).round()
        return [self.widths[int(np.argmax(r))] if r.sum() == 1 else None for r in z]

    def budget_row(self) -> tuple[np.ndarray, float]:
        """The budget as ``coefficients . x <= rhs`` over the decision vector, in integer units
        when the costs allow (see the module docstring), else in native units."""
        layout = self._layout()
        coefficients = np.array([self.upgrade_cost[i, k] for i, k in layout])
        rhs = self.budget - float(self.cost[:, 0].sum())
        scale = _integer_scale(coefficients)
        if scale is None:
            return coefficients, rhs
        ints = np.round(coefficients * scale)
        nonzero = np.abs(ints[ints != 0]).astype(np.int64)
        divisor = int(np.gcd.reduce(nonzero)) if nonzero.size else 1
        units = (rhs + self.tolerance) * scale / divisor
        return ints / divisor, float(math.floor(units))

    # --- Problem interface ------------------------------------------------------------------
    def describe(self) -> str:
        widths = "/".join(map(str, self.widths))
        ties = f", {len(self.ties)} ties" if self.ties else ""
        return f"{self.n_layers} layers, widths {widths}{ties}, {self.budget_kind} budget frac {self.frac:g}"

    def payload(self) -> dict:
        return {
            "widths": list(self.widths), "perturbation": self.perturbation, "cost": self.cost,
            "ties": [list(t) for t in self.ties], "budget_kind": self.budget_kind, "frac": self.frac,
        }

    def linear_model(self) -> tuple[float, dict[int, float], list[tuple[str, dict[int, float], str, float]]]:
        """The integer program over the decision vector, written once for the QP and for SCIP:
        objective constant, objective coefficients by index, rows ``(name, coefficients, sense, rhs)``."""
        gain = self.upgrade_perturbation
        objective = {j: float(gain[i, k]) for j, (i, k) in enumerate(self._layout()) if k > 0}
        coefficients, rhs = self.budget_row()
        rows = [("budget", {j: float(c) for j, c in enumerate(coefficients) if c != 0}, "<=", rhs)]
        for a, b in self.ties:
            for k in range(1, len(self.widths)) if self.binary else range(len(self.widths)):
                suffix = "" if self.binary else f",{self.widths[k]}"
                rows.append((f"tie[{a},{b}{suffix}]", {self._index(a, k): 1.0, self._index(b, k): -1.0}, "==", 0.0))
        if not self.binary:
            for i in range(self.n_layers):
                rows.append((f"onehot[{i}]", {self._index(i, k): 1.0 for k in range(len(self.widths))}, "==", 1.0))
        return float(self.perturbation[:, 0].sum()), objective, rows

    def _index(self, layer: int, k: int) -> int:
        return layer if self.binary else layer * len(self.widths) + k

    def to_quadratic_program(self) -> QuadraticProgram:
        qp = QuadraticProgram(f"bitalloc_{self.name}")
        names = self.variable_names()
        for name in names:
            qp.binary_var(name)
        constant, objective, rows = self.linear_model()
        qp.minimize(constant=constant, linear={names[j]: c for j, c in objective.items()})
        for name, row, sense, rhs in rows:
            qp.linear_constraint({names[j]: c for j, c in row.items()}, sense, rhs, name)
        return qp

    def evaluate(self, x: np.ndarray) -> Evaluation:
        z = self.choices(x)
        upgrades = z[:, 1:]
        objective = float(self.perturbation[:, 0].sum() + (upgrades * self.upgrade_perturbation[:, 1:]).sum())
        cost = float(self.cost[:, 0].sum() + (upgrades * self.upgrade_cost[:, 1:]).sum())
        excess = max(cost - self.budget, 0.0)
        if excess <= self.tolerance:
            excess = 0.0
        onehot = float(np.abs(z.sum(axis=1) - 1.0).sum())
        ties = float(sum(not np.array_equal(z[a], z[b]) for a, b in self.ties))
        violation = excess + onehot + ties
        return Evaluation(objective, violation == 0.0, violation)

    def build_mip(self, model):
        from pyscipopt import quicksum

        x = [model.addVar(n, vtype="B") for n in self.variable_names()]
        constant, objective, rows = self.linear_model()
        model.setObjective(quicksum(c * x[j] for j, c in objective.items()) + constant, "minimize")
        for name, row, sense, rhs in rows:
            lhs = quicksum(c * x[j] for j, c in row.items())
            model.addCons(lhs <= rhs if sense == "<=" else lhs == rhs, name=name)
        return lambda m: np.array([round(m.getVal(v)) for v in x], dtype=np.int8)

    def repair(self, x: np.ndarray) -> np.ndarray:
        """A feasible allocation near ``x``, deterministically:
        1. a broken one-hot row keeps its lowest chosen width (the lowest width if none);
        2. each group of tied layers takes the lowest width chosen in it;
        3. while over budget, lower by one step the group whose step costs the least
           perturbation per unit of cost saved (ties by layer index). The all-lowest
           allocation meets every budget with ``frac >= 0``, so this ends feasible;
        4. while some group's one-step raise lowers the perturbation and fits the budget, raise
           the one that gains the most perturbation per unit of cost spent (ties by layer
           index). An optimal allocation has no such raise and is returned unchanged."""
        z = self.choices(x).round()
        k = np.array([int(np.argmax(r)) if r.any() else 0 for r in z])
        groups = _tie_groups(self.n_layers, self.ties)
        for group in groups:
            k[group] = k[group].min()
        rows = np.arange(self.n_layers)
        while self.cost[rows, k].sum() > self.budget + self.tolerance:
            best, best_key = None, None
            for g, group in enumerate(groups):
                if k[group[0]] == 0:
                    continue
                saved = float((self.cost[group, k[group]] - self.cost[group, k[group] - 1]).sum())
                loss = float((self.perturbation[group, k[group] - 1] - self.perturbation[group, k[group]]).sum())
                key = (loss / saved if saved > 0 else math.inf, group[0])
                if best_key is None or key < best_key:
                    best, best_key = g, key
            k[groups[best]] -= 1
        while (raised := self._best_raise(groups, k)) is not None:
            k[groups[raised]] += 1
        z = np.zeros_like(z, dtype=np.int8)
        z[rows, k] = 1
        return self.encode_choices(z)

    def _best_raise(self, groups: list[list[int]], k: np.ndarray) -> int | None:
        """The tie group whose one-step raise gains the most perturbation per unit of cost
        within the budget (a raise that costs nothing first), or ``None`` when none gains."""
        rows = np.arange(self.n_layers)
        headroom = self.budget + self.tolerance - float(self.cost[rows, k].sum())
        best, best_key = None, None
        for g, group in enumerate(groups):
            if k[group[0]] == len(self.widths) - 1:
                continue
            extra = float((self.cost[group, k[group] + 1] - self.cost[group, k[group]]).sum())
            gain = float((self.perturbation[group, k[group]] - self.perturbation[group, k[group] + 1]).sum())
            if gain <= TOLERANCE * max(1.0, abs(float(self.perturbation[group, k[group]].sum()))) or extra > headroom:
                continue
            key = (-(gain / extra) if extra > 0 else -math.inf, group[0])
            if best_key is None or key < best_key:
                best, best_key = g, key
        return best

    def forbids_tie(self, i: int, j: int, same: bool) -> bool:
        """Sound rules only: two widths of one layer never both (one-hot); two variables whose
        upgrade costs together exceed the budget's headroom never both; tied layers never
        anti-tied at the same width, nor equal at different widths (one-hot)."""
        layout = self._layout()
        (li, ki), (lj, kj) = layout[i], layout[j]
        tied = (min(li, lj), max(li, lj)) in {tuple(sorted(t)) for t in self.ties}
        if not same:
            return tied and ki == kj
        if li == lj:
            return not self.binary and ki != kj
        if tied and ki != kj:
            return True
        headroom = self.budget - float(self.cost[:, 0].sum())
        extra = self.upgrade_cost[li, ki] + self.upgrade_cost[lj, kj]
        return bool(extra > headroom + self.tolerance)


def _integer_scale(values: np.ndarray, max_digits: int = 12) -> float | None:
    """Smallest ``10**d`` (d <= max_digits) making every value an integer, or ``None``."""
    for digits in range(max_digits + 1):
        scaled = values * 10.0**digits
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6) and np.all(np.abs(scaled) < 2**52):
            return 10.0**digits
    return None


def _tie_groups(n: int, ties) -> list[list[int]]:
    """Connected components of the tie pairs (singletons included), each sorted, in index order."""
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(ties)
    return sorted(sorted(c) for c in nx.connected_components(graph))


@dataclass(frozen=True)
class Generator:
    """Random multiple-choice knapsack: parameter counts ``p_i`` uniform in 1..max_parameters,
    cost (model size) ``w * p_i``, Hessian trace ``t_i`` uniform in [0.1, 1), perturbation
    ``t_i * p_i * 4**(w_0 - w)`` (a uniform quantiser's squared error falls as 4^-bits),
    ``n_ties`` disjoint random tied pairs."""

    n_layers: int = 3
    widths: tuple[int, ...] = (2, 4, 8)
    n_ties: int = 0
    max_parameters: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        check(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        check(self.n_layers >= 1, "n_layers", f"must be >= 1, got {self.n_layers}")
        check(
            len(self.widths) >= 2 and list(self.widths) == sorted(set(self.widths)) and self.widths[0] >= 1,
            "widths", f"must be >= 2 distinct ascending positive bit widths, got {list(self.widths)}",
        )
        check(0 <= 2 * self.n_ties <= self.n_layers, "n_ties",
              f"must be in 0..n_layers/2 (disjoint pairs), got {self.n_ties}")
        check(self.max_parameters >= 1, "max_parameters", f"must be >= 1, got {self.max_parameters}")


@dataclass(frozen=True)
class Options:
    """``budget``: which cost the budget limits; ``frac``: where the budget lies between the
    all-lowest (0) and all-highest (1) allocation; ``network``: which table of the HAWQ
    notebook (default: the manifest entry's)."""

    budget: BudgetKind = "size"
    frac: float = 0.5
    network: Network | None = None

    def __post_init__(self) -> None:
        check(0.0 <= self.frac <= 1.0, "frac", f"must be in [0, 1], got {self.frac}")


def generate(params: Generator, options: Options | None = None) -> BitAllocation:
    options = options or Options()
    if options.network is not None:
        raise ConfigError("problem.network selects a table of the HAWQ notebook; "
                          "set problem.instance too (resnet18 or resnet50)")
    if options.budget != "size":
        raise ConfigError(f"problem.budget: generated instances have a size cost only, got {options.budget!r}")
    rng = np.random.default_rng(params.seed)
    widths = np.array(params.widths, dtype=float)
    parameters = rng.integers(1, params.max_parameters + 1, size=params.n_layers).astype(float)
    trace = rng.uniform(0.1, 1.0, size=params.n_layers)
    perturbation = (trace * parameters)[:, None] * 4.0 ** (widths[0] - widths)[None, :]
    order = rng.permutation(params.n_layers)
    ties = tuple(sorted(tuple(sorted(int(v) for v in order[2 * t:2 * t + 2])) for t in range(params.n_ties)))
    name = (f"gen-l{params.n_layers}-w{'-'.join(map(str, params.widths))}"
            f"{f'-t{params.n_ties}' if params.n_ties else ''}-f{options.frac:g}-s{params.seed}")
    return BitAllocation(name, tuple(params.widths), perturbation, parameters[:, None] * widths[None, :],
                         ties, "size", options.frac)


def load(path: Path, options: Options | None = None, entry: ManifestEntry | None = None) -> BitAllocation:
    """One network's table of HAWQ's ``ILP.ipynb`` under the chosen budget."""
    options = options or Options()
    named = entry.options.get("network") if entry is not None else None
    if options.network and named and options.network != named:
        raise ConfigError(f"problem.network={options.network} contradicts instance {entry.name!r} ({named})")
    network = options.network or named
    if network is None:
        raise ConfigError(f"problem.network: {Path(path).name} holds several networks; "
                          f"choose one of {', '.join(NETWORKS)}")
    table = read_table(Path(path), network)
    delta = table.trace * (table.delta8 - table.delta4)
    perturbation = np.stack([np.zeros_like(delta), delta], axis=1)
    cost = {
        "size": np.stack([0.5 * table.parameters, 1.0 * table.parameters], axis=1),
        "bops": np.stack([table.bops / 64.0, table.bops / 16.0], axis=1),
        "latency": np.stack([table.latency4, table.latency8], axis=1),
    }[options.budget]
    entry = entry or _entry_for(Path(path), network)
    name = entry.name if entry is not None else f"{Path(path).stem}-{network}"
    return BitAllocation(name, (4, 8), perturbation, cost, table.ties, options.budget, options.frac,
                         _reference(entry, options))


def _entry_for(path: Path, network: str) -> ManifestEntry | None:
    """The manifest entry of this network whose file has exactly these bytes (a user's copy)."""
    digest = instances.sha256_of(path)
    for candidate in instances.manifest("bitalloc").values():
        if candidate.options.get("network") == network and candidate.main_file.sha256 == digest:
            return candidate
    return None


def _reference(entry: ManifestEntry | None, options: Options) -> Reference:
    """The manifest's optimum for this (budget, frac), keyed ``"BUDGET:FRAC"``, if it has one."""
    if entry is None or not isinstance(entry.reference, dict):
        return Reference.unknown()
    for key, value in entry.reference.items():
        kind, _, frac = str(key).partition(":")
        if kind == options.budget and math.isclose(float(frac), options.frac, rel_tol=0, abs_tol=1e-12):
            return Reference(float(value), entry.reference_source, entry.proven)
    return Reference.unknown()


FAMILY = ProblemFamily(
    kind="bitalloc",
    description="mixed-precision bit allocation, HAWQ-V3 knapsack (minimise perturbation)",
    Generator=Generator,
    Options=Options,
    generate=generate,
    load=load,
)
