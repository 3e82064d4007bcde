"""Gate circuits compiled once for the state-vector engine, then evaluated for many parameter
sets without Qiskit in the loop.

Binding a circuit (``assign_parameters``) and asking each gate for its matrix (``to_matrix``)
cost about 15 ms per parameter set for PCE's 7-qubit brickwork (210 rotations), and a
parameter-shift gradient evaluates 420 sets: that loop was nearly all of a PCE run's time.
A :class:`GateSequence` compiles each gate once:

* each angle as an affine function of the circuit's parameter vector (from the expression's
  gradient, which Qiskit gives exactly for linear expressions; other expressions are bound
  row by row);
* its matrix as a trigonometric form in its angles: with ``f(t) = (1, cos t/2, sin t/2, cos t,
  sin t)``, ``M = sum_m C_m F_m`` over the products ``F`` of one ``f`` entry per angle, fitted
  from the gate's own ``to_matrix`` on a grid of five angles each and checked at two more
  points. Every parametrised gate of the engine's basis has this form (``rx``, ``ry``, ``rz``,
  ``p``, ``rzz``, ``rxx``, ``ryy``, ``rzx``, ``cp``, ``crx``, ``cry``, ``crz``; ``u`` with its
  three angles, 125 terms); a gate that fails the check is built row by row by Qiskit.

Then all the gates' matrices for all parameter sets are a few array operations.
:func:`evolve` applies them to a batch of small states at once with numpy; the engine applies
them one state at a time with its numba kernels for large states. The forms also give each
gate's derivative, hence :func:`adjoint_gradient`: the exact gradient of an expectation value
in about three evaluations' time, where parameter shift takes two evaluations per parameter.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Gate, ParameterExpression

#: Angles at which a gate's trigonometric form is fitted (in each of its angles): five equally
#: spaced over the forms' period 4 pi, where the five functions are orthogonal (a well
#: conditioned fit, also on the 125-point grid of a three-angle gate); two points to check it.
_FIT_ANGLES = 0.3 + 4 * np.pi * np.arange(5) / 5
_CHECK_ANGLES = (7.7, 10.1)

#: Fitted forms per gate kind (name, size, control state, angles): ``None`` where none holds.
_FORMS: dict[tuple, np.ndarray | None] = {}


def _trig_basis(angles) -> np.ndarray:
    """``(..., 5)``: 1, cos t/2, sin t/2, cos t, sin t."""
    t = np.asarray(angles, dtype=float)
    return np.stack([np.ones_like(t), np.cos(t / 2), np.sin(t / 2), np.cos(t), np.sin(t)], axis=-1)


def _trig_slope(angles) -> np.ndarray:
    """``(..., 5)``: the derivatives of :func:`_trig_basis`."""
    t = np.asarray(angles, dtype=float)
    return np.stack([np.zeros_like(t), -np.sin(t / 2) / 2, np.cos(t / 2) / 2, -np.sin(t), np.cos(t)], axis=-1)


def _product(factors: np.ndarray) -> np.ndarray:
    """``(..., k, 5) -> (..., 5^k)``: all products of one factor per angle (first angle slowest,
    as ``itertools.product``)."""
    result = factors[..., 0, :]
    for a in range(1, factors.shape[-2]):
        result = (result[..., :, None] * factors[..., a, None, :]).reshape(result.shape[:-1] + (-1,))
    return result


def _combination(factors: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """``sum_m factors[..., m] coefficients[m]``: matrices ``(..., d, d)``."""
    d = coefficients.shape[-1]
    flat = coefficients.reshape(len(coefficients), d * d)
    # Real and imaginary parts apart: a real-by-complex matmul goes through a slow generic loop.
    combined = (factors @ flat.real) + 1j * (factors @ flat.imag)
    return combined.reshape(factors.shape[:-1] + (d, d))


def _matrix_at(operation: Gate, values) -> np.ndarray:
    gate = copy.copy(operation)
    gate.params = [float(v) for v in values]
    return np.asarray(gate.to_matrix(), dtype=np.complex128)


def trig_coefficients(operation: Gate) -> np.ndarray | None:
    """``C`` of shape ``(5^k, d, d)`` with ``M(t) = sum_m C_m F_m(t)``, ``F`` the products of
    one of ``1, cos t_a/2, sin t_a/2, cos t_a, sin t_a`` per angle ``t_a`` (:func:`_product`),
    for this gate's kind with its ``k`` angles; ``None`` when its matrix is not of that form."""
    k = len(operation.params)
    key = (operation.name, operation.num_qubits, getattr(operation, "ctrl_state", None), k)
    if key not in _FORMS:
        grid = np.array(list(itertools.product(_FIT_ANGLES, repeat=k)))
        samples = np.stack([_matrix_at(operation, point) for point in grid])
        d = samples.shape[-1]
        design = _product(_trig_basis(grid))
        coefficients = np.linalg.solve(design, samples.reshape(len(grid), -1)).reshape(len(grid), d, d)
        rng = np.random.default_rng(0)
        exact = all(
            np.allclose(_combination(_product(_trig_basis(point)), coefficients), _matrix_at(operation, point),
                        rtol=0, atol=1e-12)
            for point in (np.full(k, t) + rng.uniform(-1, 1, k) for t in _CHECK_ANGLES)
        )
        _FORMS[key] = coefficients if exact else None
    return _FORMS[key]


@dataclass(frozen=True)
class Angle:
    """One gate parameter as ``offset + weights @ x`` over the circuit's parameter vector ``x``,
    or, when it is not affine, the expression bound row by row (``weights`` is ``None``)."""

    offset: float
    weights: np.ndarray | None
    expression: ParameterExpression | None = None
    parameters: tuple = ()

    @classmethod
    def of(cls, value, circuit_parameters: list) -> "Angle":
        if not isinstance(value, ParameterExpression) or not value.parameters:
            return cls(float(value), np.zeros(len(circuit_parameters)))
        position = {p: i for i, p in enumerate(circuit_parameters)}
        weights = np.zeros(len(circuit_parameters))
        for parameter in value.parameters:
            slope = value.gradient(parameter)
            if isinstance(slope, ParameterExpression):
                return cls(0.0, None, value, tuple(circuit_parameters))
            weights[position[parameter]] = float(slope)
        return cls(float(value.bind({p: 0.0 for p in value.parameters})), weights)

    def values(self, x: np.ndarray) -> np.ndarray:
        """This angle at every row of ``x`` (rows, parameters)."""
        if self.weights is not None:
            return self.offset + x @ self.weights
        used = [p for p in self.parameters if p in self.expression.parameters]
        index = [self.parameters.index(p) for p in used]
        return np.array([float(self.expression.bind(dict(zip(used, row[index])))) for row in x])


@dataclass(frozen=True)
class GateStep:
    """One gate: its qubits and either its fixed ``matrix`` or its ``angles`` (with the
    ``coefficients`` of its trigonometric form where it has one)."""

    qubits: tuple[int, ...]
    operation: Gate
    matrix: np.ndarray | None = None
    angles: tuple[Angle, ...] = ()
    coefficients: np.ndarray | None = None

    @property
    def trigonometric(self) -> bool:
        """A gate of trigonometric form whose angles are all affine (differentiable here)."""
        return self.coefficients is not None and all(angle.weights is not None for angle in self.angles)


def _is_diagonal(matrices: np.ndarray | None) -> bool:
    """Whether ``matrices`` (``(..., d, d)``; ``None``: unknown) are all diagonal."""
    if matrices is None:
        return False
    d = matrices.shape[-1]
    return not np.any(matrices * (1 - np.eye(d)))


@dataclass(frozen=True)
class _Kind:
    """The trigonometric steps of one gate kind: their indices, the kind's coefficients, and
    their angles' weights ``(steps, k, parameters)`` and offsets ``(steps, k)``."""

    steps: list[int]
    coefficients: np.ndarray
    weights: np.ndarray
    offsets: np.ndarray

    def angles(self, x: np.ndarray) -> np.ndarray:
        """``(rows, steps, k)``."""
        return np.einsum("rp,skp->rsk", x, self.weights) + self.offsets


class GateSequence:
    """A circuit of one- and two-qubit gates (barriers skipped) as :class:`GateStep` s, with the
    affine angles of its trigonometric gates stacked per gate kind, so that every gate's matrix
    for every parameter set comes from a handful of array operations."""

    def __init__(self, circuit: QuantumCircuit) -> None:
        parameters = list(circuit.parameters)
        self.num_qubits = circuit.num_qubits
        self.num_parameters = len(parameters)
        self.steps: list[GateStep] = []
        for instruction in circuit.data:
            operation = instruction.operation
            if operation.name == "barrier":
                continue
            qubits = tuple(circuit.find_bit(q).index for q in instruction.qubits)
            if not any(isinstance(p, ParameterExpression) and p.parameters for p in operation.params):
                matrix = np.asarray(operation.to_matrix(), dtype=np.complex128)
                self.steps.append(GateStep(qubits, operation, matrix=matrix))
                continue
            angles = tuple(Angle.of(p, parameters) for p in operation.params)
            self.steps.append(GateStep(qubits, operation, angles=angles, coefficients=trig_coefficients(operation)))
        #: Per step: whether its matrix is diagonal at every angle (CZ, RZZ, CP, ...).
        self.diagonal = [_is_diagonal(step.matrix if step.matrix is not None else step.coefficients)
                         for step in self.steps]
        groups: dict[int, list[int]] = {}
        for i, step in enumerate(self.steps):
            if step.trigonometric:
                groups.setdefault(id(step.coefficients), []).append(i)
        self._kinds = [
            _Kind(indices, self.steps[indices[0]].coefficients,
                  np.array([[angle.weights for angle in self.steps[i].angles] for i in indices]),
                  np.array([[angle.offset for angle in self.steps[i].angles] for i in indices]))
            for indices in groups.values()
        ]

    @property
    def differentiable(self) -> bool:
        """Whether every parametrised gate is trigonometric with affine angles."""
        return all(step.matrix is not None or step.trigonometric for step in self.steps)

    def matrices(self, x: np.ndarray) -> list[np.ndarray]:
        """Every step's matrix at every row of ``x``: ``(d, d)`` for a fixed gate, else
        ``(rows, d, d)``."""
        x = np.atleast_2d(x)
        out: list[np.ndarray | None] = [step.matrix for step in self.steps]
        for kind in self._kinds:
            matrices = _combination(_product(_trig_basis(kind.angles(x))), kind.coefficients)
            for j, i in enumerate(kind.steps):
                out[i] = matrices[:, j]
        for i, step in enumerate(self.steps):
            if out[i] is None:
                values = np.stack([angle.values(x) for angle in step.angles], axis=-1)
                out[i] = np.stack([_matrix_at(step.operation, row) for row in values])
        return out

    def derivatives(self, x: np.ndarray) -> list[list[np.ndarray] | None]:
        """Per trigonometric step, ``dM/dt_a`` for each of its angles at the single row ``x``
        (``(d, d)`` each); ``None`` for the other steps."""
        x = np.atleast_2d(x)
        out: list[list[np.ndarray] | None] = [None] * len(self.steps)
        for kind in self._kinds:
            angles = kind.angles(x)[0]
            basis, slope = _trig_basis(angles), _trig_slope(angles)
            per_angle = []
            for a in range(angles.shape[-1]):
                factors = basis.copy()
                factors[:, a] = slope[:, a]
                per_angle.append(_combination(_product(factors), kind.coefficients))
            for j, i in enumerate(kind.steps):
                out[i] = [derivative[j] for derivative in per_angle]
        return out


# -- many small states at once ------------------------------------------------------------------
def _mix(amplitudes: list[np.ndarray], matrix: np.ndarray) -> list[np.ndarray]:
    """``new_k = sum_j matrix[k, j] amplitudes[j]`` over the batch (``matrix`` is ``(d, d)`` or
    ``(rows, d, d)``); entries that are zero for every row are skipped (CZ, CX, ...)."""
    d = len(amplitudes)
    shape = (-1,) + (1,) * (amplitudes[0].ndim - 1)
    used = (matrix != 0) if matrix.ndim == 2 else np.any(matrix != 0, axis=0)
    mixed = []
    for k in range(d):
        total = None
        for j in range(d):
            if not used[k, j]:
                continue
            entry = matrix[..., k, j]
            term = (entry if matrix.ndim == 2 else entry.reshape(shape)) * amplitudes[j]
            total = term if total is None else total + term
        mixed.append(total if total is not None else np.zeros_like(amplitudes[0]))
    return mixed


def _apply_one(psi: np.ndarray, q: int, matrix: np.ndarray) -> None:
    rows, size = psi.shape
    view = psi.reshape(rows, size >> (q + 1), 2, 1 << q)
    view[:, :, 0], view[:, :, 1] = _mix([view[:, :, 0], view[:, :, 1]], matrix)


def _apply_two(psi: np.ndarray, qubits: tuple[int, int], matrix: np.ndarray) -> None:
    """A 4x4 gate; its index is ``bit(qubits[0]) + 2 bit(qubits[1])`` (Qiskit's order)."""
    rows, size = psi.shape
    lo, hi = sorted(qubits)
    view = psi.reshape(rows, size >> (hi + 1), 2, 1 << (hi - lo - 1), 2, 1 << lo)
    # Amplitude k of the gate has bit(qubits[0]) = k & 1 and bit(qubits[1]) = k >> 1.
    slots = [((k >> 1, k & 1) if qubits[1] == hi else (k & 1, k >> 1)) for k in range(4)]
    mixed = _mix([view[:, :, h, :, l] for h, l in slots], matrix)
    for (h, l), amplitudes in zip(slots, mixed):
        view[:, :, h, :, l] = amplitudes


def evolve(sequence: GateSequence, x: np.ndarray, dtype=np.complex128) -> np.ndarray:
    """The states ``(rows, 2^n)`` of the circuit at every row of ``x``, from ``|0...0>``. The
    leading gates whose matrices are the same for every row (a bound ansatz before per-row
    measurement-basis rotations, say) are applied to one state, which is then copied."""
    rows = len(x)
    matrices = sequence.matrices(x)
    varying = [m.ndim == 3 and not np.array_equal(m, np.broadcast_to(m[:1], m.shape)) for m in matrices]
    first = varying.index(True) if True in varying else len(matrices)
    common = [m if m.ndim == 2 else m[0] for m in matrices[:first]]
    psi = np.zeros((1, 1 << sequence.num_qubits), dtype=dtype)
    psi[0, 0] = 1
    _apply_all(psi, sequence.steps[:first], common, dtype)
    psi = np.repeat(psi, rows, axis=0)
    _apply_all(psi, sequence.steps[first:], matrices[first:], dtype)
    return psi


def _apply_all(psi: np.ndarray, steps: list[GateStep], matrices: list[np.ndarray], dtype) -> None:
    """Apply ``steps`` in place; runs of one-qubit gates on a qubit are multiplied together
    before they touch the states."""
    pending: dict[int, np.ndarray] = {}

    def flush(q: int) -> None:
        if q in pending:
            _apply_one(psi, q, pending.pop(q).astype(dtype, copy=False))

    for step, matrix in zip(steps, matrices):
        if len(step.qubits) == 1:
            q = step.qubits[0]
            pending[q] = matrix @ pending[q] if q in pending else matrix
            continue
        flush(step.qubits[0])
        flush(step.qubits[1])
        _apply_two(psi, step.qubits, matrix.astype(dtype, copy=False))
    for q in list(pending):
        flush(q)


def _signs(size: int, zmask: int) -> tuple[np.ndarray, np.ndarray]:
    """The basis indices ``k < size`` and ``(-1)^{|k & z|}``."""
    index = np.arange(size, dtype=np.int64)
    masked = index & zmask
    parity = np.zeros(size, dtype=np.int64)
    for bit in range(max(size - 1, 1).bit_length()):
        parity ^= (masked >> bit) & 1
    return index, 1.0 - 2.0 * parity


def pauli_expectations(psi: np.ndarray, xmask: int, zmask: int) -> np.ndarray:
    """``sum_k conj(psi[r, k ^ x]) (-1)^{|k & z|} psi[r, k]`` for every row ``r``:
    ``<psi| X^x Z^z |psi>`` without the ``i^{#Y}`` (as ``sv_kernels.pauli_expectation``)."""
    index, sign = _signs(psi.shape[1], zmask)
    return np.einsum("rk,rk,k->r", np.conj(psi[:, index ^ xmask]), psi, sign)


def apply_paulis(psi: np.ndarray, terms: list[tuple[int, int, complex]]) -> np.ndarray:
    """``O psi`` (one state vector) for ``O = sum coeff X^x Z^z``, each ``coeff`` already
    carrying its ``i^{#Y}``: ``(O psi)[k ^ x] += coeff (-1)^{|k & z|} psi[k]``."""
    out = np.zeros_like(psi)
    for xmask, zmask, coeff in terms:
        index, sign = _signs(psi.shape[0], zmask)
        out[index ^ xmask] += coeff * sign * psi
    return out


def adjoint_gradient(sequence: GateSequence, x: np.ndarray, terms: list[tuple[int, int, complex]],
                     apply=None, dtype=np.complex128) -> np.ndarray | None:
    """``d <psi(x)| O |psi(x)> / dx`` by the adjoint method (Jones & Gacon 2020, arXiv:2009.02823):
    one forward pass, then one backward pass that un-applies each gate to the state and to
    ``O psi`` and reads each parametrised gate's derivative off their overlap, so the whole
    gradient costs about three evaluations whatever the number of parameters. ``O`` is given
    as Pauli ``terms`` (see :func:`apply_paulis`); ``apply(psi, qubits, matrix)`` applies a
    gate to one state vector in place (default: numpy). ``None`` unless the sequence is
    :attr:`~GateSequence.differentiable`."""
    if not sequence.differentiable:
        return None
    apply = apply or _apply_vector
    row = np.asarray(x, dtype=float)[None, :]
    matrices = [np.ascontiguousarray(m if m.ndim == 2 else m[0], dtype=dtype) for m in sequence.matrices(row)]
    derivatives = sequence.derivatives(row)
    psi = np.zeros(1 << sequence.num_qubits, dtype=dtype)
    psi[0] = 1
    for step, matrix in zip(sequence.steps, matrices):
        apply(psi, step.qubits, matrix)
    lam = apply_paulis(psi, terms)
    gradient = np.zeros(row.shape[1])
    for i in reversed(range(len(sequence.steps))):
        step = sequence.steps[i]
        inverse = np.ascontiguousarray(matrices[i].conj().T)
        apply(psi, step.qubits, inverse)
        for derivative, angle in zip(derivatives[i] or (), step.angles):
            mu = psi.copy()
            apply(mu, step.qubits, np.ascontiguousarray(derivative, dtype=dtype))
            gradient += 2.0 * np.vdot(lam, mu).real * angle.weights
        apply(lam, step.qubits, inverse)
    return gradient


def _apply_vector(psi: np.ndarray, qubits: tuple[int, ...], matrix: np.ndarray) -> None:
    """One gate on one state vector, in place, with the batch functions."""
    batch = psi.reshape(1, -1)
    if len(qubits) == 1:
        _apply_one(batch, qubits[0], matrix)
    else:
        _apply_two(batch, qubits, matrix)
