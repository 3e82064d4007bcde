"""Graph shrinking: merge Max-Cut nodes whose spins are strongly correlated, exactly.

The QUBO is written as a weighted Max-Cut on ``n + 1`` nodes (:mod:`qbench.maxcut`, anchor
last, ``E(x) = offset - cut``). Tying node ``j`` to node ``i`` with ``s_j = sigma s_i`` removes
``j`` and changes the weights exactly: every edge ``(j, k)`` moves onto ``(i, k)`` with factor
``sigma``; with ``sigma = -1`` each such edge also contributes its weight to every cut (a
constant, moved into the offset), as does the edge ``(i, j)`` itself. So the shrunk graph's
``offset - cut`` at a shrunk cut is the original QUBO's energy of the unshrunk assignment, for
every cut: shrink-then-unshrink is exact. Merging into the anchor fixes variables (same side:
``x = 0``; other side: ``x = 1``).

Which pair to merge comes from a correlation matrix over the nodes: the Goemans-Williamson SDP
(maximise ``sum w_ij (1 - X_ij) / 2`` over ``X >= 0``, ``diag X = 1``; cvxpy with Clarabel
or SCS) or sampled two-point correlations ``<s_i s_j>``. The pair with the largest ``|M_ij|`` is merged,
same side when ``M_ij > 0``. A merge is refused when the problem says it would force a
violation (:meth:`qbench.problem.Problem.forbids_tie`), asked for every pair of original
variables the merge ties together; slack variables have no rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from qbench.maxcut import MaxCut, bits_to_cut, cut_to_bits
from qbench.qubo import Qubo

#: ``forbids(i, j, same)`` for two original variables (Problem.forbids_tie).
TieRule = Callable[[int, int, bool], bool]


def maxcut_to_qubo(graph: MaxCut, names: tuple[str, ...] = ()) -> Qubo:
    """The QUBO over the non-anchor nodes with ``x_i = 1`` when node ``i`` is on the other
    side from the anchor: ``E(x) = offset - cut``, the inverse of
    :func:`qbench.maxcut.qubo_to_maxcut` (up to the representation)."""
    w = graph.weights
    a = graph.anchor
    inner = np.delete(np.delete(w, a, axis=0), a, axis=1)
    to_anchor = np.delete(w[:, a], a)
    # cut = sum_{i<j} w_ij (x_i + x_j - 2 x_i x_j) + sum_i w_ia x_i
    linear = -(inner.sum(axis=1) + to_anchor)
    quadratic = np.triu(2 * inner, 1)
    return Qubo(linear=linear, quadratic=quadratic, offset=graph.offset, names=tuple(names))


def sdp_correlations(graph: MaxCut, solver: str = "CLARABEL") -> np.ndarray:
    """The Goemans-Williamson SDP solution ``X`` (node-by-node correlations in [-1, 1]).

    ``solver``: ``CLARABEL`` (interior point: converges to 1e-8 in a dozen iterations here) or
    ``SCS`` (first order: on penalty QUBOs it needs tens of thousands of iterations for 1e-5).
    Both ship with cvxpy and are deterministic for a given problem."""
    import cvxpy as cp

    n = graph.num_nodes
    # Scaling the weights leaves the maximiser unchanged and keeps the solver well conditioned
    # on penalty QUBOs, whose weights span several orders of magnitude.
    scale = float(np.abs(graph.weights).max()) or 1.0
    X = cp.Variable((n, n), symmetric=True)
    objective = cp.Maximize(cp.sum(cp.multiply(np.triu(graph.weights, 1) / scale, 1 - X)) / 2)
    problem = cp.Problem(objective, [X >> 0, cp.diag(X) == 1])
    options = {"eps": 1e-5, "max_iters": 100000} if solver == "SCS" else {}
    problem.solve(solver=solver, **options)
    if X.value is None or problem.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"the Goemans-Williamson SDP failed: {problem.status}")
    return np.clip(np.asarray(X.value), -1.0, 1.0)


def sampled_correlations(sides: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """``<s_i s_j>`` over cuts (0/1 sides per node, one per row) with their probabilities."""
    spins = 1.0 - 2.0 * np.asarray(sides, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    return (spins * (p / p.sum())[:, None]).T @ spins


@dataclass(frozen=True)
class Merge:
    """Node ``removed`` tied to node ``kept`` (``kept``: index after the removal), same side or
    opposite; ``fixes`` when ``kept`` is the anchor (the removed node's variables get values)."""

    kept: int
    removed: int
    same: bool
    correlation: float
    fixes: bool


@dataclass
class Shrinker:
    """The current shrunk graph and, for every original node, its node and relative sign.

    Node ``k`` of the original graph has spin ``sign[k] * s[node[k]]`` in the shrunk graph; the
    anchor stays last. ``originals``: how many leading QUBO variables are problem variables.
    """

    graph: MaxCut
    originals: int
    forbids: TieRule | None = None
    node: np.ndarray = field(init=False)
    sign: np.ndarray = field(init=False)
    merges: list[Merge] = field(default_factory=list, init=False)
    refused: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        n = self.graph.num_nodes
        self.node = np.arange(n)
        self.sign = np.ones(n, dtype=int)

    @property
    def num_variables(self) -> int:
        """Variables (qubits) of the shrunk QUBO: the non-anchor nodes."""
        return self.graph.num_nodes - 1

    def members(self, k: int) -> list[tuple[int, int]]:
        """Original nodes in shrunk node ``k`` with their signs."""
        return [(int(v), int(self.sign[v])) for v in np.flatnonzero(self.node == k)]

    def allowed(self, i: int, j: int, same: bool) -> bool:
        """Whether tying shrunk nodes ``i`` and ``j`` keeps every constraint satisfiable."""
        if self.forbids is None:
            return True
        anchor = self.graph.anchor
        original_anchor = self.originals_anchor
        sigma = 1 if same else -1
        for a, fa in self.members(i):
            for b, fb in self.members(j):
                if a == original_anchor or b == original_anchor or a >= self.originals or b >= self.originals:
                    continue
                if anchor in (i, j):
                    # Both fixed: only two variables fixed to 1 together can violate a pair rule.
                    base = i if i == anchor else j
                    fixed_a = fa if base == i else fa * sigma
                    fixed_b = fb * sigma if base == i else fb
                    # spin = fixed * s_anchor: x = 1 exactly when fixed == -1.
                    if fixed_a == -1 and fixed_b == -1 and self.forbids(a, b, True):
                        return False
                elif self.forbids(a, b, fa * fb * sigma == 1):
                    return False
        return True

    @property
    def originals_anchor(self) -> int:
        return len(self.node) - 1

    def merge(self, i: int, j: int, same: bool, correlation: float = float("nan")) -> None:
        """Tie node ``j`` to node ``i`` (``s_j = s_i`` when ``same``), exactly (module docstring)."""
        if i == j:
            raise ValueError("cannot merge a node with itself")
        anchor = self.graph.anchor
        if j == anchor:
            i, j = j, i
        w = self.graph.weights.copy()
        sigma = 1.0 if same else -1.0
        offset = self.graph.offset
        if not same:
            # Edges (j, k), k != i, are cut exactly when (i, k) is not, and (i, j) always is.
            offset -= float(w[j].sum())
        row = w[j].copy()
        row[i] = 0.0
        w[i] += sigma * row
        w[:, i] += sigma * row
        w[i, i] = 0.0
        w = np.delete(np.delete(w, j, axis=0), j, axis=1)
        self.graph = MaxCut(weights=w, offset=offset)
        moved = self.node == j
        self.sign[moved] *= int(sigma)
        self.node[moved] = i
        self.node[self.node > j] -= 1
        self.merges.append(Merge(kept=int(i if i < j else i - 1), removed=int(j), same=bool(same),
                                 correlation=float(correlation), fixes=i == anchor))

    def best_pair(self, correlations: np.ndarray) -> tuple[int, int, bool, float] | None:
        """The allowed pair with the largest ``|M_ij|`` (lowest indices on ties), or None."""
        m = np.abs(np.triu(np.asarray(correlations, dtype=float), 1))
        order = np.argsort(-m, axis=None, kind="stable")
        n = m.shape[0]
        for flat in order:
            i, j = divmod(int(flat), n)
            if j <= i:
                continue
            same = bool(correlations[i, j] >= 0)
            if self.allowed(i, j, same):
                return i, j, same, float(correlations[i, j])
            self.refused += 1
        return None

    def unshrink_sides(self, sides: np.ndarray) -> np.ndarray:
        """Sides of every original node from sides of the shrunk nodes (anchor last in both)."""
        sides = np.asarray(sides, dtype=np.int8)
        flipped = (self.sign == -1).astype(np.int8)
        return np.bitwise_xor(sides[..., self.node], flipped)

    def unshrink_bits(self, bits: np.ndarray) -> np.ndarray:
        """Original QUBO bits from bits of the shrunk QUBO (:func:`maxcut_to_qubo`)."""
        return cut_to_bits(self.unshrink_sides(bits_to_cut(bits)))

    def qubo(self) -> Qubo:
        return maxcut_to_qubo(self.graph)


def shrink_to(
    shrinker: Shrinker,
    target: int,
    correlations: Callable[[Shrinker], np.ndarray],
    recalc_every: int = 1,
    on_merge: Callable[[], None] | None = None,
) -> tuple[str, int]:
    """Merge the most correlated allowed pair until ``target`` variables remain, recomputing
    ``correlations(shrinker)`` every ``recalc_every`` merges (in between, the merged node keeps
    its row). Returns why it stopped and how many times correlations were computed."""
    matrix, since, computed = None, 0, 0
    while shrinker.num_variables > target:
        if matrix is None or since >= recalc_every:
            matrix, since, computed = correlations(shrinker), 0, computed + 1
        pick = shrinker.best_pair(matrix)
        if pick is None:
            return "no allowed merge left", computed
        shrinker.merge(*pick)
        removed = shrinker.merges[-1].removed
        matrix = np.delete(np.delete(matrix, removed, axis=0), removed, axis=1)
        since += 1
        if on_merge is not None:
            on_merge()
    return "target reached", computed
