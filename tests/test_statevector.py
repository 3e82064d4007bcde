"""backend=statevector against Aer: exact energies and CVaR (1e-9), sampled distributions
(chi-square with a fixed seed), every QAOA variant, complex64, generic circuits with Pauli
observables, batches, the memory guard, every problem class, every variational solver."""

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from scipy.stats import chisquare

from qbench import registry
from qbench.ansatz import hardware_efficient, qaoa_layout
from qbench.backends.aer import AerBackend
from qbench.backends import sv_cpu, sv_kernel_sets
from qbench.backends import sv_kernels as kernels
from qbench.backends.statevector import StatevectorBackend, StatevectorParams
from qbench.backends.sv_diagonal import DiagonalData, integer_unit
from qbench.errors import ConfigError, ResourceLimitError
from qbench.formulations.penalty import PenaltyQubo
from qbench.qubo import Qubo
from qbench.qubo_cost import DiagonalCost, cvar, normalisation
from tests.helpers import compose_config, run

#: The kernels under test run on small states here (see conftest.numba_kernels).
pytestmark = pytest.mark.usefixtures("numba_kernels")

#: Small cache blocks so that 7-qubit states go through the low block and two high blocks.
SMALL_BLOCKS = StatevectorParams(block_qubits=3)

#: backend.engine values the engine-vs-Aer tests run on: the fast engines and the reference.
ENGINES = ["auto", "reference"]


def small_blocks(engine):
    """:data:`SMALL_BLOCKS` on ``engine`` (the reference has no blocks)."""
    return StatevectorParams(block_qubits=3, engine=engine)


def random_qubo(n, seed, integer=True):
    rng = np.random.default_rng(seed)
    if integer:
        return Qubo(rng.integers(-5, 6, n).astype(float), np.triu(rng.integers(-3, 4, (n, n)), 1).astype(float), 2.0)
    return Qubo(rng.normal(size=n), np.triu(rng.normal(size=(n, n)), 1), 0.5)


def aer_probabilities(circuit, x):
    """Exact probabilities from Aer's own state vector (save_statevector)."""
    from qiskit_aer import AerSimulator

    bound = circuit.assign_parameters(x).decompose(reps=3)
    bound.save_statevector()
    simulator = AerSimulator(method="statevector")
    state = simulator.run(bound).result().get_statevector()
    return np.abs(np.asarray(state)) ** 2


def layout_for(cost, variant, reps=2):
    n = cost.qubo.num_variables
    warm = np.linspace(0.4, 2.6, n) if variant == "warm_start" else None
    return qaoa_layout(cost.circuit_hamiltonian, reps, multi_angle=variant == "multi_angle", warm_angles=warm)


def assert_matches_aer_state(engine, layout, cost, qubo, x):
    """The engine's energy and every probability of its state at ``x`` as Aer's."""
    probabilities = aer_probabilities(layout.circuit, x)
    prepared = engine.prepare(layout.circuit, structure=layout)
    assert engine.cost(prepared, cost, x)[0] == pytest.approx(float(probabilities @ qubo.all_energies()), abs=1e-9)
    assert np.max(np.abs(np.abs(engine.state(prepared, x)) ** 2 - probabilities)) < 1e-12


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("integer", [True, False], ids=["integer", "float"])
@pytest.mark.parametrize("variant", ["standard", "multi_angle", "warm_start"])
def test_qaoa_energies_match_aer(variant, integer, engine):
    qubo = random_qubo(7, 1, integer)
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = layout_for(cost, variant)
    points = np.random.default_rng(2).uniform(0, np.pi, (4, layout.num_parameters))
    aer = AerBackend()
    expected = aer.cost(aer.prepare(layout.circuit), cost, points)
    backend = StatevectorBackend(small_blocks(engine))
    prepared = backend.prepare(layout.circuit, structure=layout)
    assert type(prepared.extra["program"]).__name__ == "QaoaProgram"
    np.testing.assert_allclose(backend.cost(prepared, cost, points), expected, rtol=0, atol=1e-9)
    assert backend.evaluations == 4


def test_integer_costs_use_one_table_shared_by_circuit_and_cost():
    qubo = random_qubo(8, 4)
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = qaoa_layout(cost.circuit_hamiltonian, 1)
    engine = StatevectorBackend()
    program = engine.prepare(layout.circuit, structure=layout).extra["program"]
    data = program.diagonal.data
    assert data.index is not None and data.dense is None
    np.testing.assert_allclose(program.diagonal.values()[data.index], (qubo.all_energies() - cost.constant) / cost.scale,
                               atol=1e-12)
    engine.cost(engine.prepare(layout.circuit, structure=layout), cost, layout.pack([0.3], [0.2]))
    assert len(engine.diagonals._data) == 1  # the normalised circuit and the QUBO share the index


def test_tabulate_gives_sorted_distinct_levels_and_an_index():
    """A dense diagonal with ties (and -0.0 next to 0.0) as levels/index: levels strictly
    ascending, levels[index] the same diagonal, the dense vector dropped."""
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(size=500), rng.choice([1.5, -2.0, 0.0, -0.0], 300)])
    rng.shuffle(values)
    data = DiagonalData(dense=values.copy())
    data.tabulate()
    assert data.dense is None and data.index.dtype == np.uint32
    assert np.all(np.diff(data.levels) > 0) and len(data.levels) == len(np.unique(values))
    np.testing.assert_array_equal(data.levels[data.index], values)


@pytest.mark.parametrize("alpha", [0.01, 0.25, 0.5, 0.999, 1.0])
def test_cvar_over_ascending_levels_equals_cvar(alpha):
    """The engine's CVaR walk over ascending levels against qbench.qubo_cost.cvar (unnormalised
    masses, ties in the boundary level, a zero-mass level)."""
    rng = np.random.default_rng(int(alpha * 1000))
    values = np.sort(rng.normal(size=200))
    masses = rng.random(200) * 3
    masses[rng.integers(0, 200, 20)] = 0.0
    assert kernels.cvar_ascending(values, 1.0, 0.0, masses, alpha) == pytest.approx(cvar(values, masses, alpha), abs=1e-12)
    levels = np.sort(rng.integers(-50, 50, 200))
    assert kernels.cvar_ascending(levels, 0.75, -3.0, masses, alpha) == pytest.approx(
        cvar(0.75 * levels - 3.0, masses, alpha), abs=1e-12)


def test_integer_unit():
    assert integer_unit(np.array([0.75, -1.5, 0.25])) == pytest.approx(0.25)
    assert integer_unit(np.array([3.0, 5.0]) / 7.3) == pytest.approx(1 / 7.3)
    assert integer_unit(np.array([1.0, np.sqrt(2)])) is None


@pytest.mark.parametrize("variant", ["standard", "float_costs", "multi_angle", "warm_start"])
@pytest.mark.parametrize("block", [6, 9, 12, 13])
@pytest.mark.parametrize("reps", [1, 2, pytest.param(3, marks=pytest.mark.slow)])
def test_cache_tile_layout_matches_aer_state(variant, block, reps):
    """14 qubits in chunks of 6 to 13 qubits: the low pass applies the gates on bits 0-5 row
    by row in registers (bits 0-2 across the lanes of a vector, 3-5 across vectors), the rest
    in sweeps over the chunk (none for a block of 6; 9 and 13 leave an unpaired RX gate); the
    high pass gathers runs of 64. Energy and every probability as Aer's, for the table phase
    (integer costs), the Ising phase (float costs, multi-angle) and general gates (warm
    start)."""
    qubo = random_qubo(14, 9, integer=variant != "float_costs")
    variant = "standard" if variant == "float_costs" else variant
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = layout_for(cost, variant, reps=reps)
    x = np.random.default_rng(5).uniform(0, np.pi, layout.num_parameters)
    assert_matches_aer_state(StatevectorBackend(StatevectorParams(block_qubits=block)), layout, cost, qubo, x)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["standard", "float_costs", "multi_angle"])
@pytest.mark.parametrize("reps", [1, 2])
def test_large_block_with_a_high_pass_matches_aer(variant, reps):
    """The 14-qubit block the engine picks from 22 qubits (chunks of 2^14, a transpose of
    256 x 64), here on 16 qubits so that a 2-qubit high pass follows: energy and every
    probability as Aer's; the automatic choice itself by size."""
    qubo = random_qubo(16, 3, integer=variant != "float_costs")
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = layout_for(cost, "multi_angle" if variant == "multi_angle" else "standard", reps=reps)
    x = np.random.default_rng(2).uniform(0, np.pi, layout.num_parameters)
    assert_matches_aer_state(StatevectorBackend(StatevectorParams(block_qubits=14)), layout, cost, qubo, x)
    automatic = StatevectorBackend()
    assert [automatic.engines.cpu.block_bits(n) for n in (10, 16, 21, 22, 26)] == [12, 12, 12, 14, 14]


@pytest.mark.slow
@pytest.mark.parametrize(("n", "variant"), [(16, "standard"), (17, "multi_angle"), (17, "warm_start")])
def test_high_pass_moving_tiles_with_gates_matches_aer(n, variant):
    """A high pass of 4 or 5 RX gates takes its first two gates on the way into the tile and
    its last two on the way out (sv_kernels.high_block, _rx4_move); warm-start mixers (general
    2x2) and the pass that also takes the expectation copy plainly. Energy and every
    probability as Aer's."""
    qubo = random_qubo(n, 4, integer=variant != "multi_angle")
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = layout_for(cost, variant, reps=2)
    x = np.random.default_rng(8).uniform(0, np.pi, layout.num_parameters)
    assert_matches_aer_state(StatevectorBackend(StatevectorParams(block_qubits=12)), layout, cost, qubo, x)


@pytest.mark.parametrize("precision", ["double", "single"])
def test_padded_chunks_never_reach_a_result(precision):
    """A QAOA state's chunks are one cache line apart (sv_kernels.CHUNK_PAD_BYTES): with NaN in
    the padding, energy (fused into the last high pass), CVaR, a Z observable, samples and the
    state itself are still Aer's, and the padding is still NaN (no kernel reads or writes it)."""
    qubo = random_qubo(15, 8)
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = layout_for(cost, "standard", reps=2)
    x = np.random.default_rng(9).uniform(0, np.pi, layout.num_parameters)
    probabilities = aer_probabilities(layout.circuit, x)
    energies = qubo.all_energies()
    engine = StatevectorBackend(StatevectorParams(block_qubits=12, precision=precision)).seeded(3)
    prepared = engine.prepare(layout.circuit, structure=layout)
    engine.cost(prepared, cost, x)
    parts = engine.engines.cpu._parts
    pitch = kernels.chunk_pitch(12, parts.itemsize)
    assert pitch > 1 << 12 and parts.shape[0] == 2 * 8 * pitch + 72
    padding = np.zeros(parts.shape[0], dtype=bool)
    for start in (0, 8 * pitch + 72):
        padding[start:start + 8 * pitch].reshape(8, pitch)[:, 1 << 12:] = True
    parts[padding] = np.nan
    tolerance = 1e-9 if precision == "double" else 1e-4
    scale = np.abs(energies).max()
    assert engine.cost(prepared, cost, x)[0] == pytest.approx(probabilities @ energies, abs=tolerance * scale)
    alpha_cost = DiagonalCost(qubo, alpha=0.3, scale=normalisation(qubo))
    assert engine.cost(prepared, alpha_cost, x)[0] == pytest.approx(cvar(energies, probabilities, 0.3),
                                                                     abs=tolerance * scale)
    z0 = SparsePauliOp("I" * 14 + "Z")
    assert engine.estimate(prepared, [z0], x)[0, 0] == pytest.approx(
        probabilities @ (1 - 2 * (np.arange(1 << 15) & 1)), abs=tolerance)
    shots = 20_000
    (samples,) = engine.sample(prepared, x, shots)
    sampled = energies[samples.bits.astype(np.int64) @ (1 << np.arange(15))]
    spread = np.sqrt(probabilities @ energies**2 - (probabilities @ energies) ** 2)
    assert abs(sampled.mean() - probabilities @ energies) < 5 * spread / np.sqrt(shots)
    np.testing.assert_allclose(np.abs(engine.state(prepared, x)) ** 2, probabilities, atol=tolerance, rtol=0)
    assert np.isnan(parts[padding]).all()


def test_decode_many_equals_decode_row_by_row():
    """The learned affine decoder of a penalty encoding (integer slacks) equals the real one;
    a decoder that is not affine is detected and called row by row."""
    from qbench.formulations.base import Encoding
    from qbench.problems.mdkp import Generator, generate

    encoding = PenaltyQubo().encode(generate(Generator(n_items=6, n_constraints=2, seed=3)))
    bits = np.random.default_rng(1).integers(0, 2, (300, encoding.qubits)).astype(np.int8)
    expected = np.array([encoding.decode(b) for b in bits])
    np.testing.assert_array_equal(encoding.decode_many(bits), expected)
    assert encoding._affine_decoder() is not None
    xor = Encoding("xor", encoding.qubo, lambda b: b[:3] ^ b[3:6], 3)
    np.testing.assert_array_equal(xor.decode_many(bits), bits[:, :3] ^ bits[:, 3:6])
    assert xor._affine_decoder() is None


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("variant", ["standard", "warm_start"])
@pytest.mark.parametrize("alpha", [0.1, 0.5])
def test_exact_cvar_matches_aer_state(variant, alpha, engine):
    qubo = random_qubo(6, 5)
    cost = DiagonalCost(qubo, alpha=alpha, scale=normalisation(qubo))
    layout = layout_for(cost, variant)
    x = np.random.default_rng(3).uniform(0, np.pi, layout.num_parameters)
    expected = cvar(qubo.all_energies(), aer_probabilities(layout.circuit, x), alpha)
    backend = StatevectorBackend(small_blocks(engine))
    value = backend.cost(backend.prepare(layout.circuit, structure=layout), cost, x)[0]
    assert value == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
def test_float_cost_cvar_matches_aer_state(engine):
    qubo = random_qubo(6, 6, integer=False)
    cost = DiagonalCost(qubo, alpha=0.25)
    circuit = hardware_efficient(6, reps=1)
    x = np.random.default_rng(4).uniform(0, 2 * np.pi, circuit.num_parameters)
    expected = cvar(qubo.all_energies(), aer_probabilities(circuit, x), 0.25)
    backend = StatevectorBackend(StatevectorParams(engine=engine))
    assert backend.cost(backend.prepare(circuit), cost, x)[0] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("reps", [1, 2])
def test_float_cost_qaoa_cvar_then_energy_match_aer(reps, engine):
    """Float costs on a QAOA layout (14 qubits, 12-qubit chunks, a 2-qubit high pass): the
    phase comes from the Ising coefficients, so the circuit's dense diagonal is not built (only
    the cost's: the memory the guard counts); CVaR gives that one a float levels/index form,
    which the energy's expectation, fused into the last high pass, then reads."""
    qubo = random_qubo(14, 12, integer=False)
    cvar_cost = DiagonalCost(qubo, alpha=0.25, scale=normalisation(qubo))
    energy_cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = layout_for(cvar_cost, "standard", reps=reps)
    x = np.random.default_rng(6).uniform(0, np.pi, layout.num_parameters)
    probabilities = aer_probabilities(layout.circuit, x)
    backend = StatevectorBackend(StatevectorParams(block_qubits=12, engine=engine))
    prepared = backend.prepare(layout.circuit, structure=layout)
    assert backend.cost(prepared, cvar_cost, x)[0] == pytest.approx(cvar(qubo.all_energies(), probabilities, 0.25), abs=1e-9)
    assert prepared.extra["program"].diagonal is None
    [data] = backend.diagonals._data.values()
    assert data.index is not None and data.levels.dtype.kind == "f"  # tabulated by the CVaR
    assert backend.cost(prepared, energy_cost, x)[0] == pytest.approx(float(probabilities @ qubo.all_energies()), abs=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
def test_sampled_distribution_matches_aer(engine):
    qubo = random_qubo(5, 7)
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = layout_for(cost, "standard")
    x = layout.pack([0.4, 0.7], [0.5, 0.2])
    expected = aer_probabilities(layout.circuit, x)
    shots = 40_000
    backend = StatevectorBackend(small_blocks(engine)).seeded(11)
    prepared = backend.prepare(layout.circuit, structure=layout)
    (samples,) = backend.sample(prepared, x, shots)
    counts = np.bincount(samples.bits.astype(np.int64) @ (1 << np.arange(5)), minlength=32)
    keep = expected * shots >= 5  # chi-square needs expected counts of at least 5 per bin
    observed = np.append(counts[keep], counts[~keep].sum())
    wanted = np.append(expected[keep], expected[~keep].sum()) * shots
    assert chisquare(observed, wanted).pvalue > 1e-3
    assert 0.5 * np.abs(counts / shots - expected).sum() < 0.02
    # Aer's sampler on the same circuit sees the same distribution (same bound, its own seed).
    aer = AerBackend().seeded(11)
    (aer_samples,) = aer.sample(aer.prepare(layout.circuit), x, shots)
    aer_counts = np.bincount(aer_samples.bits.astype(np.int64) @ (1 << np.arange(5)), minlength=32)
    assert 0.5 * np.abs(aer_counts - counts).sum() / shots < 0.03
    assert backend.shots == shots


def test_sampling_is_seeded_and_sampled_cost_converges():
    qubo = random_qubo(6, 8)
    cost = DiagonalCost(qubo, alpha=0.3, scale=normalisation(qubo))
    layout = layout_for(cost, "standard")
    x = layout.pack([0.4, 0.7], [0.5, 0.2])

    def sampled(seed, shots):
        engine = StatevectorBackend().seeded(seed)
        return engine.cost(engine.prepare(layout.circuit, structure=layout), cost, x, shots=shots)[0]

    assert sampled(3, 500) == sampled(3, 500)
    assert sampled(3, 500) != sampled(4, 500)
    exact = StatevectorBackend()
    value = exact.cost(exact.prepare(layout.circuit, structure=layout), cost, x)[0]
    assert sampled(5, 200_000) == pytest.approx(value, abs=0.05 * max(1.0, abs(value)))


@pytest.mark.parametrize("n, block", [(9, 4), (14, 12)], ids=["small-blocks", "row-gates"])
@pytest.mark.parametrize("variant", ["standard", "float_costs", "multi_angle", "warm_start"])
def test_single_precision_agrees_to_1e_4(variant, n, block):
    qubo = random_qubo(n, 9, integer=variant != "float_costs")
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = layout_for(cost, "standard" if variant == "float_costs" else variant, reps=3)
    points = np.random.default_rng(5).uniform(0, np.pi, (3, layout.num_parameters))
    values = []
    for precision in ("double", "single"):
        engine = StatevectorBackend(StatevectorParams(precision=precision, block_qubits=block))
        values.append(engine.cost(engine.prepare(layout.circuit, structure=layout), cost, points))
    np.testing.assert_allclose(values[1], values[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", ["efficient_su2", "real_amplitudes"])
def test_generic_circuit_pauli_observables_match_aer_estimator(kind, engine):
    n = 6
    circuit = hardware_efficient(n, kind=kind, reps=2, entanglement="full")
    qubo = random_qubo(n, 10)
    observables = [
        DiagonalCost(qubo).hamiltonian,
        SparsePauliOp(["XYZIIZ", "YYIIII", "ZZIIXX", "IIXXII", "IIIIIZ", "IIIIII"], [0.3, 0.7, -0.2, 1.1, 0.5, 2.0]),
        SparsePauliOp(["XIIIIX", "IYIIYI"], [1.0, -0.4]),
        SparsePauliOp(["ZIIIZI"], [0.8]),  # a PCE-style correlator: term by term, no diagonal
    ]
    points = np.random.default_rng(6).uniform(0, 2 * np.pi, (3, circuit.num_parameters))
    aer = AerBackend()
    expected = aer.estimate(aer.prepare(circuit), observables, points)
    backend = StatevectorBackend(StatevectorParams(engine=engine))
    prepared = backend.prepare(circuit)
    assert type(prepared.extra["program"]).__name__ == "GateProgram"
    np.testing.assert_allclose(backend.estimate(prepared, observables, points), expected, atol=1e-9)
    cost = DiagonalCost(qubo)
    np.testing.assert_allclose(backend.cost(prepared, cost, points), expected[:, 0] + cost.constant, atol=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
def test_generic_two_qubit_gates_match_aer(engine):
    circuit = QuantumCircuit(4)
    circuit.h(range(4))
    circuit.rzz(0.3, 0, 3)
    circuit.cz(1, 2)
    circuit.cp(0.7, 2, 0)
    circuit.swap(1, 3)
    circuit.rxx(0.4, 0, 1)
    circuit.cry(1.1, 3, 2)
    circuit.sx(1)
    circuit.ecr(0, 2)
    observable = SparsePauliOp(["XYZX", "ZIZI", "IYIY"], [0.5, -1.0, 0.25])
    aer = AerBackend()
    expected = aer.estimate(aer.prepare(circuit), [observable], np.zeros((1, 0)))
    backend = StatevectorBackend(StatevectorParams(engine=engine))
    np.testing.assert_allclose(backend.estimate(backend.prepare(circuit), [observable], np.zeros((1, 0))), expected,
                               atol=1e-9)


def test_batch_equals_row_by_row():
    qubo = random_qubo(7, 11)
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = layout_for(cost, "standard")
    gammas, betas = np.meshgrid(np.linspace(0, 1, 4), np.linspace(0, 1, 3))
    grid = np.array([layout.pack([g, g], [b, b]) for g, b in zip(gammas.ravel(), betas.ravel())])
    engine = StatevectorBackend()
    prepared = engine.prepare(layout.circuit, structure=layout)
    batch = engine.cost(prepared, cost, grid)
    assert batch.shape == (12,) and engine.evaluations == 12
    np.testing.assert_array_equal(batch, [engine.cost(prepared, cost, row)[0] for row in grid])


def test_memory_guard_refuses_an_impossible_state_in_one_line():
    with pytest.raises(ResourceLimitError) as info:
        StatevectorBackend().prepare(QuantumCircuit(60))
    assert "60 qubits need about" in str(info.value) and "\n" not in str(info.value)
    assert StatevectorBackend().memory_required(24) == 40 * 2**24


def test_unsupported_instruction_is_a_config_error():
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.measure(0, 0)
    with pytest.raises(ConfigError, match="measure"):
        StatevectorBackend().prepare(circuit)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("problem", registry.choices("problem"))
def test_penalty_qubo_of_every_problem_class_matches_aer(problem, engine, instances_dir):
    """The class's default instance as a penalty QUBO, restricted to its first 8 variables (the
    rest fixed at 0) so that Aer stays fast: standard QAOA and CVaR on both engines."""
    config = compose_config(f"problem={problem}")
    full = PenaltyQubo().encode(registry.build_problem(config.problem)).qubo
    k = min(8, full.num_variables)
    qubo = Qubo(full.linear[:k].copy(), full.quadratic[:k, :k].copy(), full.offset)
    layout = qaoa_layout(DiagonalCost(qubo, scale=normalisation(qubo)).circuit_hamiltonian, 2)
    x = layout.pack([0.3, 0.6], [0.6, 0.3])
    aer = AerBackend()
    backend = StatevectorBackend(small_blocks(engine))
    prepared = backend.prepare(layout.circuit, structure=layout)
    for alpha in (1.0, 0.25):
        cost = DiagonalCost(qubo, alpha=alpha, scale=normalisation(qubo))
        if alpha == 1.0:
            expected = aer.cost(aer.prepare(layout.circuit), cost, x)[0]
        else:
            expected = cvar(qubo.all_energies(), aer_probabilities(layout.circuit, x), alpha)
        scale = max(1.0, abs(expected))
        assert backend.cost(prepared, cost, x)[0] == pytest.approx(expected, abs=1e-9 * scale)


TINY = ("problem.generator.n_items=3", "problem.generator.n_constraints=1", "problem.generator.max_weight=3",
        "progress=false", "backend=statevector", "solver.maxiter=10", "solver.final_shots=300", "solver.reps=1")


@pytest.mark.parametrize("solver", ["qaoa", *(pytest.param(s, marks=pytest.mark.slow)
                                               for s in ("ws_qaoa", "ma_qaoa", "vqe", "cvar_vqe"))])
def test_every_variational_solver_runs_deterministically(solver):
    extra = ("solver.shots=300",) if solver == "cvar_vqe" else ()
    # 10 evaluations are inside COBYLA's first simplex of these solvers' parameters.
    extra += ("solver.optimizer=Powell",) if solver in ("ma_qaoa", "vqe", "cvar_vqe") else ()
    first = run(f"solver={solver}", *TINY, *extra)
    second = run(f"solver={solver}", *TINY, *extra)
    assert first.status == second.status == "ok", first.error
    assert first.solver_info["backend"] == "statevector"
    assert first.solver_info["trace"] == second.solver_info["trace"]
    assert first.solution == second.solution
    assert first.solver_info["circuit_evaluations"] >= first.solver_info["optimizer_evaluations"] >= 1


def test_unique_rows_equals_numpy_unique():
    """select_answer's packed-integer unique: same rows, order and inverse as numpy's (0/1 rows),
    numpy's own path otherwise (wide or non-binary rows)."""
    from qbench.sample_rows import unique_rows

    rng = np.random.default_rng(4)
    for rows in (rng.integers(0, 2, (2000, 16)), rng.integers(0, 2, (50, 70)), rng.integers(-1, 3, (80, 4))):
        rows = rows.astype(np.int8)
        unique, inverse = np.unique(rows, axis=0, return_inverse=True)
        got_unique, got_inverse = unique_rows(rows)
        np.testing.assert_array_equal(got_unique, unique)
        np.testing.assert_array_equal(got_inverse, inverse.ravel())


@pytest.mark.parametrize("block", [12, 14])
def test_expectation_fused_into_the_last_pass_equals_the_state_vector_one(block):
    """Block 12 on 14 qubits: the energy comes from the last high-block pass; block 14: no high
    pass, a pass of its own. Both equal |state()|^2 . energies (the complex vector made from
    the engine's real and imaginary parts)."""
    qubo = random_qubo(14, 4)
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = layout_for(cost, "standard", reps=2)
    x = np.random.default_rng(8).uniform(0, np.pi, layout.num_parameters)
    engine = StatevectorBackend(StatevectorParams(block_qubits=block))
    prepared = engine.prepare(layout.circuit, structure=layout)
    value = engine.cost(prepared, cost, x)[0]
    psi = engine.state(prepared, x)
    assert psi.dtype == np.complex128 and np.linalg.norm(psi) == pytest.approx(1.0, abs=1e-12)
    assert value == pytest.approx(float(np.abs(psi) ** 2 @ qubo.all_energies()), abs=1e-9)


@pytest.mark.parametrize("variant", ["standard", "float_costs", "multi_angle", "warm_start"])
def test_parallel_kernels_match_aer(monkeypatch, variant):
    """States from 18 qubits run the kernels' parallel versions (smaller ones their serial
    twins, compiled separately): the same 14-qubit check as above with the parallel set forced."""
    monkeypatch.setattr(sv_kernel_sets, "SERIAL_BELOW", 0)
    qubo = random_qubo(14, 4, integer=variant != "float_costs")
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = layout_for(cost, "standard" if variant == "float_costs" else variant, reps=3)
    x = np.random.default_rng(8).uniform(0, np.pi, layout.num_parameters)
    probabilities = aer_probabilities(layout.circuit, x)
    engine = StatevectorBackend(StatevectorParams(block_qubits=12))
    prepared = engine.prepare(layout.circuit, structure=layout)
    assert sv_kernel_sets.kernels_for(1 << 14) is kernels
    assert engine.cost(prepared, cost, x)[0] == pytest.approx(float(probabilities @ qubo.all_energies()), abs=1e-9)
    assert np.max(np.abs(np.abs(engine.state(prepared, x)) ** 2 - probabilities)) < 1e-12


def test_serial_and_parallel_passes_share_one_compilation(monkeypatch):
    """The body of each pass (a chunk of the phase + low pass, a tile of the high pass) is one
    function that the parallel kernels and their serial twins both call, compiled once for
    both (it holds most of the kernels' compilation time): once the serial twins have run, the
    parallel kernels on the same state add no signature to it (they would, e.g., with prange's
    unsigned loop index passed on as is). Integer costs on 14 qubits take the table phase,
    float costs the Ising phase; block 12 leaves a high pass."""
    bodies = (kernels._phase_low_chunk, kernels._high_tile)

    def evaluate():
        for integer in (True, False):
            qubo = random_qubo(14, 9, integer)
            cost = DiagonalCost(qubo, scale=normalisation(qubo))
            layout = layout_for(cost, "standard", reps=2)
            engine = StatevectorBackend(StatevectorParams(block_qubits=12))
            prepared = engine.prepare(layout.circuit, structure=layout)
            engine.cost(prepared, cost, np.full(layout.num_parameters, 0.4))

    assert sv_kernel_sets.kernels_for(1 << 14) is kernels.SERIAL
    evaluate()
    compiled = [set(body.signatures) for body in bodies]
    monkeypatch.setattr(sv_kernel_sets, "SERIAL_BELOW", 0)
    assert sv_kernel_sets.kernels_for(1 << 14) is kernels
    evaluate()
    assert kernels.phase_table_low_block.signatures and kernels.phase_ising_low_block.signatures
    assert kernels.high_block.signatures
    assert [set(body.signatures) for body in bodies] == compiled


@pytest.mark.parametrize("beta", [0.3, -0.7, 1.3, 1.565, np.pi / 2 - 1e-12, np.pi / 2, 2.5])
@pytest.mark.parametrize("n, block", [(14, 12), pytest.param(16, 14, marks=pytest.mark.slow)],
                         ids=["table-phase", "ising-phase"])
def test_mixer_forms_match_aer(beta, n, block):
    """Every pass applies RX(2 beta) in the tangent form (one multiply-add per value, the product
    of the cosines applied once) unless that product is too small for the precision (see
    sv_kernels.TAN_MIN_SCALE), where the RX form takes over: both, a negative cosine and beta
    next to pi/2 (where optimizers go: 1.565) against Aer's state, also in single precision.
    Integer costs take the table phase on 14 qubits and the Ising phase on 16."""
    qubo = random_qubo(n, 6)
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = layout_for(cost, "standard", reps=2)
    x = layout.pack(np.array([[0.4], [0.9]]), np.array([[beta], [beta / 2 + 0.2]]))
    probabilities = aer_probabilities(layout.circuit, x)
    expected = float(probabilities @ qubo.all_energies())
    forms = []
    for precision, tolerance in (("double", 1e-9), ("single", 1e-4)):
        engine = StatevectorBackend(StatevectorParams(block_qubits=block, precision=precision))
        prepared = engine.prepare(layout.circuit, structure=layout)
        assert engine.cost(prepared, cost, x)[0] == pytest.approx(expected, abs=tolerance)
        if precision == "double":
            assert np.max(np.abs(np.abs(engine.state(prepared, x)) ** 2 - probabilities)) < 1e-12
        rows = sv_cpu.mixer_rows(prepared.extra["program"], np.full(n, beta), engine.engines.cpu.real_dtype)
        forms.append(kernels.pass_form(rows, 0, block, True))
    product = np.cos(beta) ** block
    for (form, scale), floor in zip(forms, kernels.TAN_MIN_SCALE):
        if abs(product) >= floor:
            assert form == kernels.TAN and scale == pytest.approx(product, rel=1e-5)
        else:
            assert form == kernels.RX and scale == 1.0
    if beta == 0.3:
        assert [form for form, _ in forms] == [kernels.TAN, kernels.TAN]
    if beta == np.pi / 2:  # cos = 6e-17 in floating point: in double (6e-17)^12 is still above the floor
        assert [form for form, _ in forms] == [kernels.TAN if block == 12 else kernels.RX, kernels.RX]


@pytest.mark.parametrize("variant", ["standard", "warm_start"])
def test_mixer_rows_are_the_mixer_matrices(variant):
    """The kernels' rows of one layer's mixers, written directly for RX, equal those of the
    complex matrices (sv_kernels.gate_rows), per-qubit betas of either sign included."""
    cost = DiagonalCost(random_qubo(6, 2), scale=1.0)
    program = StatevectorBackend().prepare(layout_for(cost, variant).circuit, structure=layout_for(cost, variant)).extra["program"]
    betas = np.array([0.3, -1.2, np.pi / 2, 2.9, 0.0, -3.0])
    for dtype in (np.float64, np.float32):
        rows = sv_cpu.mixer_rows(program, betas, dtype)
        assert rows.dtype == dtype and rows.flags.c_contiguous
        np.testing.assert_allclose(rows, kernels.gate_rows(program.mixers(betas)), atol=1e-7, rtol=0)


def test_row_gates_match_the_gates_one_by_one_and_refuse_strided_matrices():
    """The six low gates of a row in registers (sv_kernels._row_gates: lanes and vectors) equal
    the 2x2 matrices applied one qubit at a time, for RX, tangent and general forms; the general
    form reads its matrices at fixed offsets, so a gate array that is not C-contiguous is a
    typing error, not a wrong state."""
    from numba import njit
    from numba.core.errors import TypingError

    rng = np.random.default_rng(3)
    bits = kernels.ROW_BITS
    matrices = np.array([np.linalg.qr(rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2)))[0] for _ in range(bits)])
    betas = rng.uniform(-1.4, 1.4, bits)
    rx = np.array([[[np.cos(b), -1j * np.sin(b)], [-1j * np.sin(b), np.cos(b)]] for b in betas])

    @njit
    def apply(re, im, M, form):
        out_re = np.empty_like(re)
        out_im = np.empty_like(im)
        kernels._row_gates(re, im, 0, out_re, out_im, 0, M, form)
        return out_re, out_im

    psi = rng.normal(size=1 << bits) + 1j * rng.normal(size=1 << bits)
    for form, U in ((kernels.GENERAL, matrices), (kernels.RX, rx), (kernels.TAN, rx)):
        expected = psi.reshape([2] * bits)
        for q in range(bits):  # qubit q is axis bits - 1 - q of the C-ordered reshape
            expected = np.moveaxis(np.tensordot(U[q], expected, axes=([1], [bits - 1 - q])), 0, bits - 1 - q)
        rows = kernels.gate_rows(U)
        re, im = apply(psi.real.copy(), psi.imag.copy(), rows, form)
        got = re + 1j * im
        if form == kernels.TAN:  # without the cosines, which the pass applies once (see kernels.TAN)
            got = got * np.prod(np.cos(betas))
        np.testing.assert_allclose(got, expected.reshape(-1), atol=1e-12)
    with pytest.raises(TypingError, match="C-contiguous"):
        apply(psi.real.copy(), psi.imag.copy(), np.asfortranarray(kernels.gate_rows(matrices)), kernels.GENERAL)
