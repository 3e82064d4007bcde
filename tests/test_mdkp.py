"""MDKP: loaders, generator, SCIP against the verified optima, QUBO ground state against SCIP."""

import numpy as np
import pytest

from qbench import instances
from qbench.errors import ConfigError, InputFileError
from qbench.mip import solve_mip
from qbench.params import build_params
from qbench.registry import build_problem
from qbench.problems.mdkp import Generator, Mdkp, Options, generate, load
from tests.helpers import run

MDKP_NAMES = sorted(instances.manifest("mdkp"))


def problem(name: str, **options):
    return build_problem({"name": "mdkp", "instance": name, "index": None, **options})


@pytest.mark.slow
@pytest.mark.parametrize("name", MDKP_NAMES)
def test_scip_reproduces_every_reference(instances_dir, name):
    p = problem(name)
    assert p.reference.value is not None and p.reference.proven
    result = solve_mip(p, time_limit=60)
    assert result.status == "optimal"
    assert result.primal == pytest.approx(p.reference.value, abs=1e-6)
    assert p.evaluate(result.x).objective == pytest.approx(p.reference.value, abs=1e-6)
    assert p.evaluate(result.x).feasible


def test_sac94_sizes_match_the_published_table(instances_dir):
    sizes = {n: (problem(n).n_items, problem(n).n_constraints) for n in ("hp1", "pb5", "pet2", "pet7")}
    assert sizes == {"hp1": (28, 4), "pb5": (20, 10), "pet2": (10, 10), "pet7": (50, 5)}


def test_multi_instance_file_needs_an_index(instances_dir):
    path = instances_dir / "mdkp" / "mknap1.txt"
    with pytest.raises(InputFileError, match="holds 7 instances; choose one with problem.index=1..7"):
        load(path, Options())
    with pytest.raises(InputFileError, match="problem.index=9 but the file holds 7"):
        load(path, Options(index=9))
    second = load(path, Options(index=2))
    assert (second.n_items, second.n_constraints) == (10, 10)
    assert second.profits[0] == pytest.approx(600.1)


def _literature_block(name: str, p: Mdkp, optimum: float) -> str:
    """``p`` as OR-Library's mknap2.txt writes an instance: m n, profits, capacities, weight
    rows, optimum, ten numbers a line."""
    def rows(values) -> str:
        values = [f"{v:g}" for v in values]
        return "".join(" " + " ".join(values[k:k + 10]) + "\n" for k in range(0, len(values), 10))

    text = f" problem {name} \n \n {p.n_constraints} {p.n_items}\n" + rows(p.profits) + rows(p.capacities)
    text += "".join(rows(w) for w in p.weights)
    return text + f" \n {optimum:g}\n \n"


def test_the_literature_collection_layout_reads_the_same_instances(instances_dir, tmp_path):
    """OR-Library's mknap2.txt opens with a description (text and an example annotated with //
    comments), then lists instances each under a "problem NAME.DAT" line. HP1 and PB1 of that
    collection are the shipped SAC-94 hp1.dat and pb1.dat: written in that layout, they load as
    the same instances with the same optima."""
    hp1 = load(instances_dir / "mdkp" / "hp1.dat", Options())
    pb1 = load(instances_dir / "mdkp" / "pb1.dat", Options())
    description = (
        "These are multi-constraint knapsack problems from the literature, with comments\n"
        "that are not part of any instance:\n\n"
        " 1 2 // 1 knapsack, 2 objects\n 5 6 // profits\n 1 // capacity\n 1 1 // constraint\n\n"
        " 6 // optimum value\n\n"
    )
    path = tmp_path / "mknap2.txt"
    path.write_text(description + _literature_block("HP1.DAT", hp1, 3418) + _literature_block("PB1.DAT", pb1, 3090))
    with pytest.raises(InputFileError, match=r"holds 2 instances \(HP1.DAT, PB1.DAT\); choose one with problem.index"):
        load(path, Options())
    for index, sac, optimum in ((1, hp1, 3418), (2, pb1, 3090)):
        p = load(path, Options(index=index))
        assert np.array_equal(p.profits, sac.profits) and np.array_equal(p.weights, sac.weights)
        assert np.array_equal(p.capacities, sac.capacities)
        assert p.reference.value == optimum == sac.reference.value and not p.reference.proven
    assert load(path, Options(index=1)).name == "mknap2-HP1"


def test_generator_is_deterministic_per_seed():
    a, b, c = (generate(Generator(seed=s)) for s in (5, 5, 6))
    assert a.content_hash() == b.content_hash() != c.content_hash()
    assert a.n_items == 6 and a.n_constraints == 2


@pytest.mark.parametrize("field,value,message", [
    ("n_items", 0, "n_items: must be >= 1"),
    ("tightness", 1.5, "tightness: must be in (0, 1)"),
    ("max_weight", 0, "max_weight: must be >= 1"),
    ("n_constraints", "two", "n_constraints: expected an integer"),
])
def test_generator_rejects_bad_parameters(field, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_params(Generator, {field: value}, "problem.generator")


@pytest.mark.parametrize("text,line,message", [
    ("3 1 10\n5 6\n", 1, "instance: n=3 items and m=1 constraints need 8 more numbers; the file has 3"),
    ("3 1 10\n5 6 7\n1 2 z\n4\n", 3, "weight row 1[2]: expected a number, got 'z'"),
    ("3 1 10\n5 6 7\n1 2 3\n-4\n", 4, "instance capacity[0]: must be >= 0, got -4"),
    ("3 1 10\n5 6 7\n1 2 3\n4 9\n", 4, "unexpected extra data '9'"),
    ("0 1 10\n", 1, "number of items: must be >= 1, got 0"),
])
def test_malformed_files_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.dat"
    path.write_text(text)
    with pytest.raises(InputFileError) as info:
        load(path, Options())
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert message in str(info.value)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_qubo_ground_state_is_feasible_and_matches_scip(seed):
    overrides = [f"problem.generator.seed={seed}", "problem.generator.n_items=5"]
    exact = run(*overrides, "solver=exact")
    scip = run(*overrides, "solver=scip")
    assert exact.status == scip.status == "ok", (exact.error, scip.error)
    assert exact.feasible and scip.feasible
    assert exact.objective == scip.objective == exact.reference


def test_evaluation_reports_violation():
    p = Mdkp("t", np.array([1.0, 2.0]), np.array([[3.0, 4.0], [1.0, 1.0]]), np.array([5.0, 1.0]))
    ev = p.evaluate(np.array([1, 1]))
    assert (ev.objective, ev.feasible, ev.violation) == (3.0, False, 2.0 + 1.0)


def test_repair_makes_any_selection_feasible_and_maximal():
    rng = np.random.default_rng(0)
    p = generate(Generator(n_items=12, n_constraints=3, seed=4))
    for _ in range(20):
        x = p.repair(rng.integers(0, 2, size=12))
        assert p.evaluate(x).feasible
        load_ = p.weights @ x
        for j in np.flatnonzero(x == 0):  # nothing more fits
            assert np.any(load_ + p.weights[:, j] > p.capacities)
