"""Bit allocation (HAWQ-V3): notebook extraction vs an independent conversion, SCIP and brute
force against the verified optima, options and file errors, generator, QUBO ground state vs SCIP."""

import itertools
import json

import numpy as np
import pytest

from qbench.errors import ConfigError, InputFileError
from qbench.mip import solve_mip
from qbench.params import build_params
from qbench.registry import build_problem
from qbench.problems.bitalloc import BitAllocation, Generator, Options, generate, load
from qbench.problems.hawq import read_table
from tests.helpers import run

#: Verified optima (shared instances README: SCIP and brute force agree), rounded to 6 decimals.
OPTIMA = {
    ("resnet18", "size"): (-1.189414, -1.233207, -1.274273),
    ("resnet18", "bops"): (-0.847289, -1.092024, -1.227748),
    ("resnet18", "latency"): (-0.847289, -1.105039, -1.227748),
    ("resnet50", "size"): (-0.831387, -0.875313, -0.894121),
    ("resnet50", "bops"): (-0.757389, -0.849897, -0.882231),
    ("resnet50", "latency"): (-0.768832, -0.851476, -0.883678),
}
CASES = [(net, budget, frac, value) for (net, budget), values in OPTIMA.items()
         for frac, value in zip((0.25, 0.5, 0.75), values)]
FIELDS = {
    "trace": "hessian_trace_per_param", "delta8": "delta_w_sq_8bit", "delta4": "delta_w_sq_4bit",
    "parameters": "parameters", "bops": "bops", "latency4": "latency_ms_int4_t4", "latency8": "latency_ms_int8_t4",
}


def problem(name: str, budget: str = "size", frac: float = 0.5, **options) -> BitAllocation:
    return build_problem({"name": "bitalloc", "instance": name, "budget": budget, "frac": frac, **options})


@pytest.mark.parametrize("network", ["resnet18", "resnet50"])
def test_extraction_equals_the_json_conversion(instances_dir, network):
    table = read_table(instances_dir / "bitalloc" / "ILP.ipynb", network)
    converted = json.loads((instances_dir / "bitalloc" / f"hawq_v3_{network}.json").read_text())
    layers = converted["layers"]
    assert [layer["index"] for layer in layers] == list(range(table.n_layers))
    for field, key in FIELDS.items():  # parameters and bops as counts (ResNet50's cell: millions)
        np.testing.assert_array_equal(getattr(table, field), [layer[key] for layer in layers], err_msg=field)
    assert [list(t) for t in table.ties] == converted["tied_layers"]
    assert converted["bit_choices"] == [4, 8]


@pytest.mark.parametrize("network,budget,frac,value", CASES)
def test_scip_reproduces_every_verified_optimum(instances_dir, network, budget, frac, value):
    p = problem(network, budget, frac)
    # The manifest holds the optimum to 12 decimals; it rounds to the README's 6-decimal table.
    assert p.reference.value == pytest.approx(value, abs=5e-7) and p.reference.proven
    result = solve_mip(p, time_limit=60)
    assert result.status == "optimal"
    assert result.primal == pytest.approx(p.reference.value, rel=1e-9)
    evaluation = p.evaluate(result.x)
    assert evaluation.feasible and evaluation.objective == pytest.approx(result.primal, abs=1e-9)
    widths = p.bit_widths(result.x)
    assert all(widths[a] == widths[b] for a, b in p.ties)


@pytest.mark.parametrize("budget", ["size", "bops", "latency"])
def test_brute_force_agrees_on_resnet18(instances_dir, budget):
    """All 2^16 allocations of ResNet18's 16 free layers, in native float units (no integer row)."""
    p = problem("resnet18", budget)
    groups = [[0], [1], [2], [3], [4, 6], [5], [7], [8], [9, 11], [10], [12], [13], [14, 16], [15], [17], [18]]
    assert sorted(sum(groups, [])) == list(range(19)) and all(len(g) == 1 or tuple(g) in p.ties for g in groups)
    bits = np.array(list(itertools.product([0, 1], repeat=len(groups))))
    y = np.zeros((bits.shape[0], 19))
    for g, layers in enumerate(groups):
        y[:, layers] = bits[:, [g]]
    for frac, value in zip((0.25, 0.5, 0.75), OPTIMA[("resnet18", budget)]):
        q = problem("resnet18", budget, frac)
        cost = q.cost[:, 0].sum() + y @ (q.cost[:, 1] - q.cost[:, 0])
        objective = y @ q.perturbation[:, 1]
        best = objective[cost <= q.budget + 1e-9 * q.budget].min()
        assert best == pytest.approx(value, abs=5e-7)
        assert solve_mip(q, time_limit=60).primal == pytest.approx(best, abs=1e-12)
    assert p.describe() == f"19 layers, widths 4/8, 3 ties, {budget} budget frac 0.5"


def test_unlisted_budget_has_no_reference_and_the_runner_asks_scip(instances_dir):
    assert problem("resnet18", "latency", 0.3).reference.value is None
    record = run("problem=bitalloc", "problem.instance=resnet18", "problem.budget=latency",
                 "problem.frac=0.3", "solver=scip")
    assert record.status == "ok" and record.feasible
    assert record.reference_source == "SCIP (proven optimal)" and record.objective == pytest.approx(record.reference)


def test_network_option_and_path_loads(instances_dir):
    path = instances_dir / "bitalloc" / "ILP.ipynb"
    by_path = load(path, Options(network="resnet50", budget="bops", frac=0.25))
    assert by_path.name == "resnet50" and by_path.n_layers == 52 and by_path.reference.value == pytest.approx(-0.757389, abs=5e-7)
    with pytest.raises(ConfigError, match="ILP.ipynb holds several networks; choose one of resnet18, resnet50"):
        load(path, Options())
    with pytest.raises(ConfigError, match="problem.network=resnet50 contradicts instance 'resnet18'"):
        problem("resnet18", network="resnet50")


@pytest.mark.parametrize("field,value,message", [
    ("budget", "energy", "problem.budget: 'energy' is not allowed; choose one of size, bops, latency"),
    ("frac", 1.5, "problem.frac: must be in [0, 1], got 1.5"),
    ("frac", -0.1, "problem.frac: must be in [0, 1], got -0.1"),
    ("network", "vgg16", "problem.network: 'vgg16' is not allowed; choose one of resnet18, resnet50"),
])
def test_options_are_validated(field, value, message):
    with pytest.raises(ConfigError) as info:
        build_params(Options, {field: value}, "problem")
    assert str(info.value) == message


@pytest.mark.parametrize("field,value,message", [
    ("n_layers", 0, "n_layers: must be >= 1"),
    ("widths", [4], "widths: must be >= 2 distinct ascending"),
    ("widths", [8, 4], "widths: must be >= 2 distinct ascending"),
    ("n_ties", 2, "n_ties: must be in 0..n_layers/2"),
])
def test_generator_rejects_bad_parameters(field, value, message):
    with pytest.raises(ConfigError, match=message):
        build_params(Generator, {field: value}, "problem.generator")


def test_generated_instances_have_a_size_cost_only():
    with pytest.raises(ConfigError, match="generated instances have a size cost only"):
        generate(Generator(), Options(budget="latency"))
    record = run("problem=bitalloc", "problem.network=resnet18")
    assert record.status == "error" and "set problem.instance too" in record.error


@pytest.mark.parametrize("content,message", [
    ("{not json", "not a Jupyter notebook (invalid JSON"),
    (json.dumps({"cells": []}), "has no code cell 17 (the resnet50 layer table)"),
    (json.dumps({"cells": [{"cell_type": "code", "source": ["x = 1\n"]}] * 18}),
     "cell 17 (resnet50): no Hutchinson_trace"),
    (json.dumps({"cells": [{"cell_type": "code", "source": "Hutchinson_trace = np.array(f(1))"}] * 18}),
     "Hutchinson_trace is not np.array([...]) of a literal list"),
])
def test_malformed_notebook_is_one_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / "ILP.ipynb"
    path.write_text(content)
    with pytest.raises(InputFileError) as info:
        load(path, Options(network="resnet50"))
    assert str(info.value).startswith(str(path)) and message in str(info.value)
    assert "\n" not in str(info.value)


def test_generator_is_deterministic_per_seed():
    a, b, c = (generate(Generator(seed=s, n_ties=1)) for s in (5, 5, 6))
    assert a.content_hash() == b.content_hash() != c.content_hash()
    assert np.all(np.diff(a.perturbation, axis=1) < 0) and np.all(np.diff(a.cost, axis=1) > 0)
    assert a.describe() == "3 layers, widths 2/4/8, 1 ties, size budget frac 0.5"


@pytest.mark.parametrize("overrides", [
    ("problem.generator.widths=[4,8]", "problem.generator.n_layers=6", "problem.generator.n_ties=1"),
    ("problem.generator.widths=[4,8]", "problem.generator.n_layers=6", "problem.frac=0.3", "problem.generator.seed=2"),
    ("problem.generator.seed=1",),
    ("problem.generator.seed=3", "problem.generator.n_ties=1", "problem.frac=0.7"),
])
def test_qubo_ground_state_is_feasible_and_matches_scip(overrides):
    exact = run("problem=bitalloc", *overrides, "solver=exact")
    scip = run("problem=bitalloc", *overrides, "solver=scip")
    assert exact.status == scip.status == "ok", (exact.error, scip.error)
    assert exact.feasible and scip.feasible
    assert exact.objective == pytest.approx(scip.objective, rel=1e-12)
    assert scip.reference == pytest.approx(scip.objective, rel=1e-12)
    assert exact.qubo_variables <= 16


def test_default_run_is_small_and_fast():
    record = run("problem=bitalloc", "solver=scip")
    assert record.status == "ok" and record.feasible and record.gap == 0
    assert record.qubo_variables <= 16 and record.times["total"] < 30


def test_evaluation_counts_each_violation():
    p = BitAllocation("t", (2, 4, 8), np.array([[3.0, 2.0, 1.0]] * 3), np.array([[2.0, 4.0, 8.0]] * 3),
                      ((0, 1),), "size", 0.0)  # budget: all at 2 bits = 6
    ev = p.evaluate(np.array([0, 1, 0, 0, 1, 0, 1, 0, 0]))
    assert (ev.objective, ev.feasible, ev.violation) == (7.0, False, 4.0)
    ev = p.evaluate(np.array([0, 1, 0, 0, 0, 1, 0, 0, 0]))  # tie broken, layer 2 has no width
    assert (ev.feasible, ev.violation) == (False, (6.0 + 2.0 + 6.0 - 6.0) + 1.0 + 1.0)
    assert p.evaluate(np.array([1, 0, 0] * 3)) == type(ev)(9.0, True, 0.0)


def test_repair_is_feasible_and_keeps_feasible_answers():
    rng = np.random.default_rng(0)
    three = generate(Generator(n_layers=6, n_ties=2, seed=4))
    two = generate(Generator(n_layers=5, widths=(4, 8), n_ties=1, seed=1))
    for p in (three, two):
        n = len(p.variable_names())
        for _ in range(30):
            x = rng.integers(0, 2, size=n)
            repaired = p.repair(x)
            assert p.evaluate(repaired).feasible
            assert np.array_equal(repaired, p.repair(x))
            assert np.array_equal(p.repair(repaired), repaired)


def test_forbidden_ties_are_sound_by_brute_force():
    """Whenever forbids_tie says so, no feasible allocation satisfies the tie with both at 1."""
    for p in (generate(Generator(n_layers=4, n_ties=1, seed=2), Options(frac=0.2)),
              generate(Generator(n_layers=6, widths=(4, 8), n_ties=2, seed=0), Options(frac=0.3))):
        n = len(p.variable_names())
        feasible = np.array([x for x in itertools.product([0, 1], repeat=n) if p.evaluate(np.array(x)).feasible])
        found = 0
        for i, j in itertools.combinations(range(n), 2):
            if p.forbids_tie(i, j, True):
                found += 1
                assert not np.any((feasible[:, i] == 1) & (feasible[:, j] == 1)), (p.name, i, j)
            if p.forbids_tie(i, j, False):
                found += 1
                assert not np.any(feasible[:, i] != feasible[:, j]), (p.name, i, j)
        assert found > 0


def test_a_two_width_instance_fits_in_twelve_qubits():
    from qbench.formulations.penalty import PenaltyQubo

    p = generate(Generator(n_layers=6, widths=(4, 8)))
    encoding = PenaltyQubo().encode(p)
    assert encoding.qubits <= 12 and encoding.num_original == 6


def test_samplers_int8_bits_decode_with_a_wide_slack(instances_dir):
    """ResNet18's size budget needs an 11-bit slack (coefficients up to 1024): int8 samples
    must decode (numpy 2 overflowed on int8 * 128 inside qiskit's IntegerToBinary)."""
    from qbench.formulations.penalty import PenaltyQubo

    encoding = PenaltyQubo().encode(problem("resnet18"))
    assert encoding.slack_variables == 11
    assert np.array_equal(encoding.decode(np.ones(encoding.qubits, dtype=np.int8)), np.ones(19))
