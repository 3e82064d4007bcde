"""The array-module QAOA engine (backend=statevector's GPU path) against the numba engine: with
``xp=numpy`` here (expectations, CVaR and states to 1e-9, float32 to 1e-4, every QAOA variant);
with ``xp=cupy`` only where a CUDA device is usable (skipped with gpu_status()'s reason)."""

import dataclasses
import sys
import types

import numpy as np
import pytest

from qiskit.quantum_info import SparsePauliOp

from qbench.ansatz import hardware_efficient, ising_terms, qaoa_layout
from qbench.errors import ConfigError
from qbench.backends import statevector, sv_gpu
from qbench.backends.statevector import StatevectorBackend
from qbench.backends.sv_diagonal import DiagonalData, ising_arrays
from qbench.backends.sv_gpu import ArrayQaoaEngine, gpu_status, ising_values, level_phases
from qbench.qubo_cost import DiagonalCost, normalisation
from tests.test_statevector import SMALL_BLOCKS, random_qubo

#: The kernels under test run on small states here (see conftest.numba_kernels).
pytestmark = pytest.mark.usefixtures("numba_kernels")

#: "dense_tabulated": a dense diagonal given a levels/index form (as a CVaR cost sharing the
#: circuit's diagonal does), so that the phase comes from a table of float levels.
VARIANTS = ["tabulated", "dense", "dense_tabulated", "multi_angle", "warm_start"]


def case(variant, n, reps, seed, alpha=1.0):
    """A QUBO cost, its QAOA layout of the variant, and random parameters (seeded)."""
    qubo = random_qubo(n, seed, integer=not variant.startswith("dense"))
    # half the usual normalisation: the diagonal's unit is 2, not 1, so that a lost unit shows
    cost = DiagonalCost(qubo, alpha=alpha, scale=0.5 * normalisation(qubo))
    warm = np.linspace(0.4, 2.6, n) if variant == "warm_start" else None
    layout = qaoa_layout(cost.circuit_hamiltonian, reps, multi_angle=variant == "multi_angle", warm_angles=warm)
    x = np.random.default_rng(seed + 100).uniform(0, np.pi, layout.num_parameters)
    return cost, layout, x


def gpu_program(backend, prepared):
    """The prepared QAOA program as a backend with a GPU builds it: with the circuit's diagonal
    for float costs too (on the CPU those take the Ising phase and the diagonal is not built)."""
    program = prepared.extra["program"]
    if program.standard and program.diagonal is None:
        program = dataclasses.replace(program, diagonal=backend.diagonals.get(program.layout.terms, prepared.logical.num_qubits))
    return program


def evaluate(engine, variant, n, reps, seed, alpha=1.0):
    """(value, state) from the numba backend and from ``engine`` on the same program."""
    cost, layout, x = case(variant, n, reps, seed, alpha)
    backend = StatevectorBackend(SMALL_BLOCKS)
    prepared = backend.prepare(layout.circuit, structure=layout)
    program = gpu_program(backend, prepared)
    if variant == "dense_tabulated":
        program.diagonal.data.tabulate()
    expected = backend.cost(prepared, cost, x)[0], backend.state(prepared, x)
    diagonal = backend.diagonals.get(ising_terms(cost.hamiltonian), n, cost.constant)
    psi = engine.evolve(program, x)
    value = engine.expectation(psi, diagonal) if alpha >= 1.0 else engine.cvar(psi, diagonal, alpha)
    return expected, (value, engine.vector(psi)), program


def path(program):
    """Which phase the program's layers take: per-term angles, a dense diagonal, or a table of
    integer or float levels."""
    if not program.standard:
        return "multi_angle"
    data = program.diagonal.data
    if data.index is None:
        return "dense"
    return "dense_tabulated" if data.levels.dtype.kind == "f" else "tabulated"


@pytest.mark.parametrize("reps", [1, 2, 3])
@pytest.mark.parametrize("variant", VARIANTS)
def test_numpy_engine_matches_numba_engine(variant, reps):
    engine = ArrayQaoaEngine(np)
    for n in (3, 6, 10):
        (value, state), (got_value, got_state), program = evaluate(engine, variant, n, reps, seed=10 * n + reps)
        assert path(program) == {"warm_start": "tabulated"}.get(variant, variant)
        assert got_state.dtype == np.complex128 and got_state.shape == (1 << n,)
        np.testing.assert_allclose(got_state, state, rtol=0, atol=1e-9)
        assert got_value == pytest.approx(value, abs=1e-9 * max(1.0, abs(value)))


@pytest.mark.parametrize("variant", VARIANTS)
def test_numpy_engine_cvar_matches_numba_engine(variant):
    engine = ArrayQaoaEngine(np)
    for n in (4, 9):
        (value, _), (got_value, _), _ = evaluate(engine, variant, n, 2, seed=n, alpha=0.25)
        assert got_value == pytest.approx(value, abs=1e-9 * max(1.0, abs(value)))


@pytest.mark.parametrize("variant", VARIANTS)
def test_single_precision_agrees_to_1e_4(variant):
    engine = ArrayQaoaEngine(np, np.float32)
    (value, state), (got_value, got_state), _ = evaluate(engine, variant, 9, 3, seed=5)
    assert got_state.dtype == np.complex64
    np.testing.assert_allclose(got_state, state, rtol=0, atol=1e-4)
    assert got_value == pytest.approx(value, abs=1e-4 * max(1.0, abs(value)))


def test_probabilities_and_level_probabilities_are_the_state_s():
    engine = ArrayQaoaEngine(np)
    cost, layout, x = case("tabulated", 7, 2, seed=3)
    backend = StatevectorBackend(SMALL_BLOCKS)
    program = backend.prepare(layout.circuit, structure=layout).extra["program"]
    psi = engine.evolve(program, x)
    p = engine.probabilities(psi)
    assert p.dtype == np.float64 and p.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(p, np.abs(engine.vector(psi)) ** 2, atol=1e-15)
    diagonal = backend.diagonals.get(ising_terms(cost.hamiltonian), 7, cost.constant)
    levels = engine.level_probabilities(psi, diagonal)
    energies = cost.qubo.all_energies()
    for value, probability in zip(diagonal.values(), levels):
        assert probability == pytest.approx(p[np.isclose(energies, value, atol=1e-9)].sum(), abs=1e-12)


def test_ising_values_are_the_brute_force_diagonal():
    n = 7
    rng = np.random.default_rng(1)
    h, J = rng.normal(size=n), np.triu(rng.normal(size=(n, n)), 1)
    spins = 1 - 2 * ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1)
    expected = spins @ h + np.einsum("zq,qr,zr->z", spins, J, spins)
    np.testing.assert_allclose(ising_values(np, h, J, n), expected, atol=1e-12)
    # the same h, J as the layouts' terms give (ising_arrays), one qubit
    np.testing.assert_allclose(ising_values(np, *ising_arrays([], 1, np.zeros(0)), 1), [0.0, 0.0])


class CopyingNumpy:
    """numpy as a stand-in device module: ``asarray`` copies (an upload) and remembers what it
    uploaded; ``asnumpy`` copies back (the engine's cupy code)."""

    def __init__(self):
        self.uploaded = []

    def __getattr__(self, name):
        return getattr(np, name)

    def asarray(self, a, dtype=None):
        self.uploaded.append(a)
        return np.array(a, dtype=dtype, copy=True)

    def asnumpy(self, a):
        return np.array(a, copy=True)

    def uploads(self, array):
        return sum(a is array for a in self.uploaded)


@pytest.mark.parametrize("variant", ["tabulated", "dense"])
def test_device_uploads_are_cached_per_diagonal_data(variant):
    """The diagonal's per-state data crosses to the device once (the cost and the circuit share
    it), a copy of the state comes back, and the LRU keeps at most ``cache_size`` entries."""
    n = 8
    xp = CopyingNumpy()
    engine = ArrayQaoaEngine(xp, cache_size=2)
    cost, layout, x = case(variant, n, 2, seed=2)
    backend = StatevectorBackend(SMALL_BLOCKS)
    prepared = backend.prepare(layout.circuit, structure=layout)
    program = gpu_program(backend, prepared)
    diagonal = backend.diagonals.get(ising_terms(cost.circuit_hamiltonian), n)
    data = diagonal.data
    assert data is program.diagonal.data
    for _ in range(3):
        psi = engine.evolve(program, x)
        engine.expectation(psi, diagonal)
    assert xp.uploads(data.index if variant == "tabulated" else data.dense) == 1
    np.testing.assert_allclose(engine.vector(psi), backend.state(prepared, x), atol=1e-9)
    data.tabulate()  # as a CVaR cost sharing a dense diagonal does: read through the index since
    for _ in range(2):
        engine.cvar(engine.evolve(program, x), diagonal, 0.25)
    assert xp.uploads(data.index) == 1 and set(engine._uploads[id(data)][1]) == {"index"}
    for k in range(3):
        engine._device(DiagonalData(dense=np.full(4, float(k))), "dense")
    assert len(engine._uploads) == 2 and id(data) not in engine._uploads


def test_butterfly_applies_a_general_matrix_to_its_qubit():
    rng = np.random.default_rng(4)
    n = 5
    psi = rng.normal(size=1 << n) + 1j * rng.normal(size=1 << n)
    m = rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))
    for q in range(n):
        expected = np.kron(np.kron(np.eye(1 << (n - q - 1)), m), np.eye(1 << q)) @ psi
        got = psi.copy()
        ArrayQaoaEngine(np)._butterfly(got, q, m)
        np.testing.assert_allclose(got, expected, atol=1e-12)


def test_level_phases_of_integer_and_float_levels():
    angle = 0.37
    integer = DiagonalData(levels=np.arange(-40, 300, 3, dtype=np.int64))
    np.testing.assert_allclose(level_phases(integer, angle), np.exp(-1j * angle * integer.levels), atol=1e-12)
    values = np.random.default_rng(0).normal(size=32)
    dense = DiagonalData(dense=values.copy())
    dense.tabulate()
    np.testing.assert_allclose(level_phases(dense, angle)[dense.index], np.exp(-1j * angle * values), atol=1e-15)


def test_free_bytes_counts_the_driver_s_and_the_pool_s():
    assert ArrayQaoaEngine(np).free_bytes() is None
    fake = types.SimpleNamespace(
        cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(memGetInfo=lambda: (1000, 5000))),
        get_default_memory_pool=lambda: types.SimpleNamespace(free_bytes=lambda: 24))
    engine = ArrayQaoaEngine(fake)
    assert engine.free_bytes() == 1024
    assert engine.memory_required(4) == (16 + 24 + 16) * 16 < engine.free_bytes() < engine.memory_required(5)


def test_gpu_status_says_why_not_without_raising(monkeypatch):
    ok, reason = gpu_status()
    assert isinstance(ok, bool) and reason and "\n" not in reason
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    assert gpu_status() == (False, "cupy is not installed")
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 0)
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime)))
    assert gpu_status() == (False, "no CUDA device")

    def fails():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected\nmore")

    runtime.getDeviceCount = fails
    ok, reason = gpu_status()
    assert not ok and reason == "no CUDA device (RuntimeError: cudaErrorNoDevice: no CUDA-capable device is detected)"


def test_no_gpu_on_this_machine_is_reported():
    """Where CuPy is absent (this repository's CI) the status is False with the reason."""
    try:
        import cupy  # noqa: F401
    except ImportError:
        assert gpu_status() == (False, "cupy is not installed")
    else:
        pytest.skip("cupy is installed here; test_cupy_engine_matches_numpy_engine covers it")


@pytest.mark.parametrize("variant", VARIANTS)
def test_cupy_engine_matches_numpy_engine(variant):
    ok, reason = gpu_status()
    if not ok:
        pytest.skip(reason)
    import cupy

    for dtype, tolerance in ((np.float64, 1e-9), (np.float32, 1e-4)):
        engine = ArrayQaoaEngine(cupy, dtype)
        for alpha in (1.0, 0.25):
            (value, state), (got_value, got_state), _ = evaluate(engine, variant, 12, 3, seed=7, alpha=alpha)
            assert isinstance(got_state, np.ndarray)
            np.testing.assert_allclose(got_state, state, rtol=0, atol=tolerance)
            assert got_value == pytest.approx(value, abs=tolerance * max(1.0, abs(value)))


def check_backend_routing(sv, monkeypatch):
    """``sv`` (qbench.backends.statevector with the ``device`` field): device=gpu without a GPU
    is a one-line ConfigError; with a stand-in GPU (numpy as cupy) QAOA layouts go through the
    array engine in cost, CVaR, state, sample, estimate and sampled cost with the CPU's results
    (same seeds, same draws), and a gate circuit stays on the CPU."""
    monkeypatch.setattr(sv_gpu, "gpu_status", lambda: (False, "no CUDA device"))
    with pytest.raises(ConfigError, match="^backend.device=gpu: no CUDA device$"):
        sv.StatevectorBackend(sv.StatevectorParams(device="gpu"))
    assert sv.StatevectorBackend(sv.StatevectorParams(device="auto")).info()["device"] == "cpu"
    monkeypatch.setattr(sv_gpu, "gpu_status", lambda: (True, "stand-in"))
    monkeypatch.setitem(sys.modules, "cupy", np)
    for variant in ("tabulated", "multi_angle", "warm_start"):
        cost, layout, _ = case(variant, 8, 2, seed=3)
        cvar_cost = DiagonalCost(cost.qubo, alpha=0.25, scale=cost.scale)
        points = np.random.default_rng(1).uniform(0, np.pi, (3, layout.num_parameters))
        observables = [cost.hamiltonian, SparsePauliOp(["XIIIIIIZ", "ZZIIIIII"], [0.5, 0.3])]
        results = {}
        for device in ("cpu", "gpu"):
            backend = sv.StatevectorBackend(sv.StatevectorParams(device=device, block_qubits=3)).seeded(5)
            prepared = backend.prepare(layout.circuit, structure=layout)
            chosen = backend.engines.gpu if device == "gpu" else backend.engines.cpu
            assert prepared.extra["engine"] is chosen and backend.info()["device"] == device
            calls = []
            if backend.engines.gpu is not None:
                evolve = backend.engines.gpu.evolve
                backend.engines.gpu.evolve = lambda program, x, observe=None: calls.append(x) or evolve(program, x)
            results[device] = [backend.cost(prepared, cost, points), backend.cost(prepared, cvar_cost, points),
                               backend.state(prepared, points[0]).copy(), backend.estimate(prepared, observables, points),
                               backend.estimate(prepared, observables[:1], points),
                               backend.sample(prepared, points, 200)[1].bits, backend.cost(prepared, cost, points, shots=100),
                               backend.evaluations]
            # every evaluation of the 7 calls above ran on the array engine (3 points each, 1 state)
            assert len(calls) == (19 if device == "gpu" else 0)
        for got, expected in zip(results["gpu"], results["cpu"]):
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    backend = sv.StatevectorBackend(sv.StatevectorParams(device="gpu"))
    assert backend.prepare(hardware_efficient(4, reps=1)).extra["engine"] is backend.engines.cpu


@pytest.mark.skipif("device" not in statevector.StatevectorParams.__dataclass_fields__,
                    reason="StatevectorParams has no device field yet (GPU routing not integrated)")
def test_backend_routes_qaoa_layouts_to_the_array_engine(monkeypatch):
    check_backend_routing(statevector, monkeypatch)
