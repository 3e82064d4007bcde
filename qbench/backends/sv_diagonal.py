"""Diagonals of Ising operators for the state-vector engines: ``D(z)`` for every basis state,
built once per operator (vectorised, no Python loop over 2^n) and shared by operators
proportional to each other (a QAOA circuit's normalised cost layer and the QUBO it minimises).

When the Ising coefficients are integer multiples of one unit (every penalty QUBO with integer
data), a diagonal is stored as an index into the table of its distinct values
(:class:`DiagonalData` ``levels``/``index``): a QAOA layer then needs one sin/cos per distinct
value, and CVaR is a histogram over the distinct values (no sort of 2^n energies). Other
diagonals are dense float vectors, given the same levels/index form on demand
(:meth:`DiagonalData.tabulate`, for CVaR).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from qbench.ansatz import IsingTerm
from qbench.backends import sv_kernel_sets, sv_numpy
from qbench.backends.sv_kernels import LOW_BITS


@dataclass
class DiagonalData:
    """``D(z) / unit`` for every basis state: either integer ``levels`` (sorted distinct values)
    with a per-state ``index`` into them, or a ``dense`` float vector."""

    levels: np.ndarray | None = None
    index: np.ndarray | None = None
    dense: np.ndarray | None = None

    def tabulate(self, numpy_only: bool = False) -> None:
        """Give a dense diagonal a levels/index form (one sort, for CVaR) in place of the dense
        vector (``levels[index]`` is the same diagonal; ``numpy_only``: compacted by the NumPy
        twin whatever the size, as :class:`DiagonalCache` builds). By hand rather than ``np.unique(...,
        return_inverse=True)``, whose temporaries took a float-cost CVaR run at n = 24 to 6.3x
        the state's bytes (measured): here at most the sort order (8 bytes per state), the
        sorted values and the index at once, the dense vector freed as soon as it is sorted."""
        if self.index is not None:
            return
        order = np.argsort(self.dense)
        ordered = self.dense[order]
        self.dense = None
        rank = np.empty(ordered.shape[0], dtype=np.uint32)
        k = sv_numpy if numpy_only else sv_kernel_sets.module_for(ordered.shape[0])
        count = k.compact_sorted(ordered, rank)
        self.levels = ordered[:count]
        self.index = np.empty(rank.shape[0], dtype=np.uint32)
        self.index[order] = rank


@dataclass
class Diagonal:
    """``D(z) = unit * data(z) + constant``: the data is shared by all operators proportional
    to each other (the circuit's normalised Hamiltonian and the QUBO's)."""

    data: DiagonalData
    unit: float
    constant: float = 0.0

    def values(self, out: np.ndarray | None = None) -> np.ndarray:
        """The distinct values of D (tabulated data only), ascending; written to the front of
        ``out`` when given (a tabulated float cost has about one value per state: the engine
        lends its float64 buffer rather than allocate 8 bytes per state per evaluation)."""
        levels = self.data.levels
        values = np.empty(len(levels)) if out is None else out[:len(levels)]
        np.multiply(levels, self.unit, out=values)
        values += self.constant
        return values

    def scaled(self) -> np.ndarray:
        """``D(z) / unit`` for every basis state (a dense vector: a gather of a tabulated one)."""
        return self.data.dense if self.data.index is None else self.data.levels[self.data.index]

    def state_values(self) -> np.ndarray:
        """``D(z)`` for every basis state, as a new dense vector."""
        return self.scaled() * self.unit + self.constant


def integer_unit(coeffs: np.ndarray, max_lcm: int = 1 << 24) -> float | None:
    """The largest ``u`` with every coefficient an integer multiple of it, or ``None`` when there
    is none with a moderate denominator (the diagonal is then dense). Each ratio to the largest
    coefficient must be a fraction to a few ulps (a true ratio of integers is; an irrational one
    is not approximated that closely by denominators up to ``max_lcm``)."""
    coeffs = np.asarray(coeffs, dtype=float)
    top = float(np.max(np.abs(coeffs))) if coeffs.size else 0.0
    if top == 0.0:
        return 1.0
    lcm = 1
    for ratio in coeffs / top:
        frac = Fraction(float(ratio)).limit_denominator(max_lcm)
        if abs(float(frac) - ratio) > 1e-15:
            return None
        lcm = lcm * frac.denominator // math.gcd(lcm, frac.denominator)
        if lcm > max_lcm:
            return None
    unit = top / lcm
    multiples = np.round(coeffs / unit)
    if np.max(np.abs(coeffs - multiples * unit)) > 1e-13 * top:
        return None
    return unit


@dataclass(frozen=True)
class IsingIndex:
    """Where each term's coefficient goes in the field ``h`` and the upper-triangular coupling
    ``J`` of ``sum_k coeffs_k Z_{terms_k}``. Built once per QAOA layout, so that a layer's h and
    J are two bincounts, not a Python loop over the terms (that loop was 20 us per layer at
    n = 12, a fifth of one p = 3 evaluation with the Ising phase)."""

    n: int
    single_terms: np.ndarray
    single_qubits: np.ndarray
    pair_terms: np.ndarray
    pair_cells: np.ndarray  # q * n + r, q < r

    @classmethod
    def of(cls, terms: tuple[IsingTerm, ...] | list[IsingTerm], n: int) -> "IsingIndex":
        singles = [(k, t.qubits[0]) for k, t in enumerate(terms) if len(t.qubits) == 1]
        pairs = [(k, min(t.qubits) * n + max(t.qubits)) for k, t in enumerate(terms) if len(t.qubits) == 2]
        single_terms, single_qubits = np.array(singles, dtype=np.int64).reshape(-1, 2).T
        pair_terms, pair_cells = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
        return cls(n, single_terms, single_qubits, pair_terms, pair_cells)

    def arrays(self, coeffs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        coeffs = np.asarray(coeffs, dtype=float)
        h = np.bincount(self.single_qubits, weights=coeffs[self.single_terms], minlength=self.n)
        J = np.bincount(self.pair_cells, weights=coeffs[self.pair_terms], minlength=self.n * self.n)
        # (without terms bincount returns integers)
        return h.astype(float, copy=False), J.astype(float, copy=False).reshape(self.n, self.n)


def ising_arrays(terms: tuple[IsingTerm, ...] | list[IsingTerm], n: int, coeffs: np.ndarray):
    """Field ``h`` and upper-triangular coupling ``J`` of ``sum_k coeffs_k Z_{terms_k}`` (the
    terms' qubits with the given coefficients)."""
    return IsingIndex.of(terms, n).arrays(coeffs)


class DiagonalCache:
    """Diagonals by normalised coefficients, so that proportional operators share one vector;
    holds at most ``size`` of them (a run uses two: the circuit's and the cost's). Built by the
    kernels for the state's size (:func:`sv_kernel_sets.module_for`), or always by the NumPy
    twins with ``numpy_only`` (the reference engine's, which compiles nothing)."""

    def __init__(self, size: int = 2, numpy_only: bool = False) -> None:
        self.size = size
        self.numpy_only = numpy_only
        self._data: OrderedDict[tuple, DiagonalData] = OrderedDict()

    @staticmethod
    def unit_of(coeffs: np.ndarray) -> tuple[float, bool]:
        """The unit the diagonal of terms with these coefficients is stored in, and whether its
        values are integer multiples of it (then tabulated: an index into the distinct values)."""
        unit = integer_unit(coeffs)
        if unit is not None and np.abs(coeffs).sum() / unit < 2**30:
            return unit, True
        return (float(np.max(np.abs(coeffs))) if coeffs.size else 1.0), False

    def get(self, terms: list[IsingTerm] | tuple[IsingTerm, ...], n: int, constant: float = 0.0) -> Diagonal:
        coeffs = np.array([t.coeff for t in terms], dtype=float)
        unit, integral = self.unit_of(coeffs)
        normalised = np.round(coeffs / unit) if integral else coeffs / unit
        key = (n, integral, tuple(sorted((t.qubits, float(c)) for t, c in zip(terms, normalised))))
        if key in self._data:
            self._data.move_to_end(key)
        else:
            self._data[key] = self._build(terms, normalised, n, integral)
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return Diagonal(self._data[key], float(unit), constant)

    def tabulate(self, diagonal: Diagonal) -> None:
        """:meth:`DiagonalData.tabulate` of ``diagonal``'s data, by this cache's kernels."""
        diagonal.data.tabulate(self.numpy_only)

    def _build(self, terms, normalised: np.ndarray, n: int, integral: bool) -> DiagonalData:
        h, J = ising_arrays(terms, n, normalised)
        low = min(n, LOW_BITS)  # the kernels' tiling of the vector (no effect on the values)
        k = sv_numpy if self.numpy_only else sv_kernel_sets.module_for(1 << n)
        if not integral:
            dense = np.empty(1 << n)
            k.ising_diagonal(h, J, low, dense)
            return DiagonalData(dense=dense)
        values = np.empty(1 << n, dtype=np.int32)
        k.ising_diagonal(h, J, low, values)
        lo, hi = int(values.min()), int(values.max())
        if hi - lo >= 4 << n:  # a presence table larger than the vector: sort instead
            levels, inverse = np.unique(values, return_inverse=True)
            return DiagonalData(levels=levels.astype(np.int64), index=inverse.astype(np.uint32))
        levels, position = k.distinct_levels(values, lo, hi)
        index = np.empty(1 << n, dtype=np.uint16) if len(levels) <= 1 << 16 else values.view(np.uint32)
        k.remap(values, lo, position, index)
        return DiagonalData(levels=levels, index=index)

