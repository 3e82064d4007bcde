"""Graph shrinking: exact shrink/unshrink (exhaustive on random QUBOs, and by hand), the SDP's
correlations, constraint-aware merges, and the solver end to end on MIS and MDKP."""

import itertools

import numpy as np
import pytest

from qbench.maxcut import qubo_to_maxcut
from qbench.qubo import Qubo
from qbench.registry import build_problem
from qbench.formulations.penalty import PenaltyQubo
from qbench.shrinking import Shrinker, maxcut_to_qubo, sampled_correlations, sdp_correlations, shrink_to
from qbench.problems.mdkp import Generator, generate
from tests.helpers import run


def all_bits(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.int8).reshape(2**n, n)


def random_qubo(rng, n):
    return Qubo(rng.normal(size=n), np.triu(rng.normal(size=(n, n)), 1), float(rng.normal()))


def test_maxcut_round_trip_keeps_every_energy():
    rng = np.random.default_rng(0)
    for n in range(1, 7):
        q = random_qubo(rng, n)
        assert np.allclose(maxcut_to_qubo(qubo_to_maxcut(q)).energies(all_bits(n)), q.energies(all_bits(n)))


def test_shrink_then_unshrink_is_exact_on_random_qubos():
    """For random merge sequences (anchor included), every shrunk assignment's energy equals
    the original energy of its unshrunk assignment."""
    rng = np.random.default_rng(7)
    for trial in range(150):
        n = int(rng.integers(2, 7))
        q = random_qubo(rng, n)
        shrinker = Shrinker(qubo_to_maxcut(q), n)
        for _ in range(int(rng.integers(1, n + 1))):
            i, j = rng.choice(shrinker.graph.num_nodes, 2, replace=False)
            shrinker.merge(int(i), int(j), bool(rng.integers(2)))
        shrunk = shrinker.qubo()
        xs = all_bits(shrunk.num_variables)
        assert np.allclose(q.energies(shrinker.unshrink_bits(xs)), shrunk.energies(xs)), trial


# E = x0 - 2 x1 + 0.5 x2 + 3 x0 x1 - x0 x2 + 2 x1 x2, worked by hand below.
HAND = Qubo(np.array([1.0, -2.0, 0.5]), np.array([[0, 3.0, -1.0], [0, 0, 2.0], [0, 0, 0]]))


def shrunk_form(shrinker):
    q = shrinker.qubo()
    return [*q.linear.tolist(), *q.quadratic[np.triu_indices(q.num_variables, 1)].tolist(), q.offset]


def test_hand_checked_merges():
    # x2 = x0: E = 0.5 x0 - 2 x1 + 5 x0 x1.
    s = Shrinker(qubo_to_maxcut(HAND), 3)
    s.merge(0, 2, same=True)
    assert shrunk_form(s) == pytest.approx([0.5, -2.0, 5.0, 0.0])
    # x1 = 1 - x0: E = -2 + 3 x0 + 2.5 x2 - 3 x0 x2 (3 x0 (1 - x0) = 0 on binaries).
    s = Shrinker(qubo_to_maxcut(HAND), 3)
    s.merge(0, 1, same=False)
    assert shrunk_form(s) == pytest.approx([3.0, 2.5, -3.0, -2.0])
    assert s.unshrink_bits(np.array([1, 0])).tolist() == [1, 0, 0]
    # x1 fixed to 1 (other side from the anchor, node 3): E = -2 + 4 x0 + 2.5 x2 - x0 x2.
    s = Shrinker(qubo_to_maxcut(HAND), 3)
    s.merge(3, 1, same=False)
    assert shrunk_form(s) == pytest.approx([4.0, 2.5, -1.0, -2.0])
    assert s.unshrink_bits(np.array([0, 1])).tolist() == [0, 1, 1]
    assert s.merges[-1].fixes


def test_sdp_correlations_of_a_unique_ground_state_are_its_signs():
    x = sdp_correlations(qubo_to_maxcut(HAND))  # ground state x = (0, 1, 0), energy -2
    sides = np.array([0, 1, 0, 0])  # anchor last, on side 0
    spins = 1 - 2 * sides
    assert np.allclose(x, np.outer(spins, spins), atol=1e-3)
    assert np.array_equal(x, sdp_correlations(qubo_to_maxcut(HAND)))  # deterministic
    assert np.allclose(sdp_correlations(qubo_to_maxcut(HAND), "SCS"), x, atol=1e-3)


def test_sampled_correlations():
    sides = np.array([[0, 0, 1], [1, 0, 1]])
    m = sampled_correlations(sides, np.array([0.75, 0.25]))
    assert m[0, 1] == pytest.approx(0.5) and m[1, 2] == pytest.approx(-1.0) and m[0, 0] == 1


def test_tie_rule_is_asked_for_every_tied_pair_and_for_variables_fixed_to_one():
    adjacent = {(0, 1)}

    def forbids(i, j, same):
        return same and (min(i, j), max(i, j)) in adjacent

    q = Qubo(np.zeros(3), np.zeros((3, 3)))
    s = Shrinker(qubo_to_maxcut(q), 3, forbids)
    assert not s.allowed(0, 1, True) and s.allowed(0, 1, False) and s.allowed(0, 2, True)
    s.merge(0, 2, same=True)  # nodes: {0, 2}, 1, anchor
    assert not s.allowed(0, 1, True)  # would tie 0 and 1 through the group
    s.merge(2, 1, same=False)  # x1 = 1: fixed on the other side from the anchor
    assert not s.allowed(1, 0, False)  # fixing {0, 2} to 1 too puts 0 and 1 in the set
    assert s.allowed(1, 0, True)  # fixing them to 0 is fine
    # Slack variables (beyond `originals`) have no rule.
    assert Shrinker(qubo_to_maxcut(q), 1, forbids).allowed(0, 1, True)


def forbidden_ties(shrinker, problem, originals):
    """Pairs of original variables the shrunk graph forces to violate a tie rule: tied equal
    in one node, or both fixed to 1 in the anchor's node."""
    found = []
    for node in range(shrinker.graph.num_nodes):
        items = [(a, sign) for a, sign in shrinker.members(node) if a < originals]
        for (a, sa), (b, sb) in itertools.combinations(items, 2):
            both_one = node == shrinker.graph.anchor and sa == sb == -1
            tied = node != shrinker.graph.anchor and sa == sb
            if (both_one or tied) and problem.forbids_tie(a, b, True):
                found.append((a, b))
    return found


def test_shrinking_a_tight_knapsack_never_ties_items_that_do_not_fit_together():
    problem = generate(Generator(n_items=6, n_constraints=2, tightness=0.3, seed=0))
    encoding = PenaltyQubo().encode(problem)

    def shrunk(rule):
        shrinker = Shrinker(qubo_to_maxcut(encoding.qubo), 6, rule)
        assert shrink_to(shrinker, 3, lambda s: sdp_correlations(s.graph))[0] == "target reached"
        return shrinker

    assert forbidden_ties(shrunk(None), problem, 6)  # unconstrained, the SDP's merges break the rule
    aware = shrunk(problem.forbids_tie)
    assert aware.refused > 0 and forbidden_ties(aware, problem, 6) == []
    # Exactness holds for the constrained shrink too.
    xs = all_bits(aware.num_variables)
    assert np.allclose(encoding.qubo.energies(aware.unshrink_bits(xs)), aware.qubo().energies(xs))


def test_mis_1tc16_shrinks_to_the_target_and_stays_independent(instances_dir):
    record = run("problem=mis", "problem.instance=1tc.16", "solver=shrink", "solver.target_qubits=10", "progress=false")
    assert record.status == "ok", record.error
    assert record.qubits == 10 and record.qubo_variables == 16
    info = record.solver_info
    assert info["shrunk_qubits"] == 10 and len(info["merges"]) == 6 and info["feasible_after_repair"]
    problem = build_problem({"name": "mis", "instance": "1tc.16"})
    chosen = [v for v, bit in enumerate(record.solution) if bit]
    assert all((u, v) not in problem.edges for u in chosen for v in chosen)
    assert record.raw_feasible and record.raw_objective <= problem.reference.value


def test_mdkp_penalty_qubo_with_slack_shrinks_to_two_thirds():
    record = run("problem=mdkp", "solver=shrink", "progress=false")
    assert record.status == "ok", record.error
    info = record.solver_info
    assert record.qubits == info["target_qubits"] == 10 and info["original_qubits"] == 14
    assert record.raw_feasible and info["feasible_after_repair"]
    problem = build_problem({"name": "mdkp", "instance": None, "index": None,
                             "generator": {"n_items": 6, "n_constraints": 2, "tightness": 0.5, "max_weight": 10, "seed": 0}})
    x = np.asarray(record.solution)
    assert info["repaired"] == (not info["feasible_before_repair"])
    assert info["repair_changed_bits"] == 0 or info["repaired"]
    assert problem.evaluate(x).feasible


def test_sampled_correlations_from_a_sampling_inner_solver():
    record = run("problem=mdkp", "solver=shrink", "solver.correlations=samples", "solver.inner=sa",
                 "solver.target_qubits=8", "+solver.inner_params.num_reads=50", "+solver.inner_params.num_sweeps=200",
                 "progress=false")
    assert record.status == "ok", record.error
    assert record.qubits == 8 and record.solver_info["inner_solves"] == 6 + 1


@pytest.mark.parametrize("overrides,message", [
    (("solver.target_qubits=99",), "solver.target_qubits: 99 is more than the 14 QUBO variables"),
    (("solver.correlations=samples",), "solver.correlations=samples: inner solver 'exact' draws no samples"),
    (("solver.ratio=0",), "solver.ratio: must be in (0, 1]"),
])
def test_bad_settings_are_one_line_errors(overrides, message):
    record = run("problem=mdkp", "solver=shrink", "progress=false", *overrides)
    assert record.status == "error" and record.error.startswith(message), record.error


@pytest.mark.slow
@pytest.mark.parametrize("inner", ["ws_qaoa", "cvar_vqe"])
def test_shrink_with_an_inherited_inner_solver(inner):
    """``ws_qaoa``/``cvar_vqe`` extend ``qaoa``/``vqe`` (Hydra defaults list) and run as inner solvers."""
    record = run("problem=mdkp", "solver=shrink", f"solver.inner={inner}", "solver.target_qubits=8",
                 "+solver.inner_params.maxiter=5", "+solver.inner_params.optimizer=Powell",
                 "+solver.inner_params.reps=1", "progress=false")
    assert record.status == "ok", record.error
    info = record.solver_info
    assert info["inner"] == inner and info["shrunk_qubits"] == record.qubits == 8
    assert info["feasible_after_repair"]
