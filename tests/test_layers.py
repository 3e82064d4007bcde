"""The core's layering: what a module loads tells which layers it depends on.

Each check runs in a fresh interpreter, so modules other tests loaded do not hide a dependency.
"""

import json
import subprocess
import sys


def loaded_after(code: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules starting with one of ``prefixes`` that ``code`` leaves loaded."""
    probe = code + ("\nimport json, sys\n"
                    f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_proving_a_reference_loads_no_solver_plugin():
    """The runner proves references with the core MIP module (qbench.mip), never through the
    SCIP solver plugin."""
    code = ("import dataclasses\n"
            "from qbench.problem import Reference\n"
            "from qbench.registry import build_problem\n"
            "from qbench.runner import with_proven_reference\n"
            "from qbench.settings import ReferenceSettings\n"
            "problem = dataclasses.replace(build_problem({'name': 'mis'}), reference=Reference.unknown())\n"
            "assert with_proven_reference(problem, ReferenceSettings(solve=True, time_limit=60)).reference.proven\n")
    assert loaded_after(code, ("qbench.solvers",)) == []


def test_backends_depend_on_the_qubo_helpers_not_on_solvers():
    """Backends evaluate a diagonal cost and merge samples with the QUBO helpers
    (qbench.qubo_cost, qbench.sample_rows), never through the solver or variational layers."""
    loaded = loaded_after("import qbench.backends.base, qbench.backends.aer, qbench.backends.ibm_fake",
                          ("qbench.solver", "qbench.variational", "qbench.sampling"))
    assert loaded == []


def test_answer_selection_depends_on_no_solver_context():
    """select_answer takes the samples, the encoding, the problem and the rule as arguments: the
    module that chooses answers loads no solver layer."""
    assert loaded_after("import qbench.sampling", ("qbench.solver", "qbench.variational")) == []
