"""The numba kernels' LLVM-IR intrinsics (sv_intrinsics) against their plain-numba twins
(sv_intrinsics_plain): the same outputs to rounding, and kernels that fall back to the twins
when the IR layer does not import, with the same energy."""

import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
from numba import njit

from qbench.ansatz import qaoa_layout
from qbench.backends import sv_intrinsics, sv_intrinsics_plain
from qbench.backends.statevector import StatevectorBackend
from qbench.qubo_cost import DiagonalCost, normalisation
from tests.helpers import repo_root
from tests.test_statevector import random_qubo


def test_plain_intrinsics_equal_the_llvm_ir_ones():
    """The fallback layer's functions in the IR layer's probe: the same outputs to rounding;
    and the IR layer passes its own check against NumPy."""
    probe = sv_intrinsics._probe.py_func
    names = ("rx4_vectors", "row_vectors_rx", "row_vectors_general", "prefetch")
    scope = dict(probe.__globals__, **{name: getattr(sv_intrinsics_plain, name) for name in names})
    plain_probe = njit(types.FunctionType(probe.__code__, scope, "plain_probe"))
    rng = np.random.default_rng(1)
    re, im = rng.normal(size=64), rng.normal(size=64)
    rows = rng.normal(size=(6, 8))
    lanes = 4 * sv_intrinsics_plain.LANES  # the rows rx4_vectors writes; the others write all 64
    for k, (got, expected) in enumerate(zip(plain_probe(re, im, 0.3, 0.9, rows),
                                            sv_intrinsics._probe(re, im, 0.3, 0.9, rows))):
        size = lanes if k < 2 else 64
        np.testing.assert_allclose(got[:size], expected[:size], rtol=0, atol=1e-13)
    sv_intrinsics.check()


PLAIN_LAYER = """
import json, sys, warnings
sys.modules["qbench.backends.sv_intrinsics"] = None  # the IR layer does not import
import numpy as np
from qbench.ansatz import qaoa_layout
from qbench.backends import sv_kernels
from qbench.backends.statevector import StatevectorBackend
from qbench.qubo_cost import DiagonalCost, normalisation
from tests.test_statevector import random_qubo
qubo = random_qubo(16, 2)
cost = DiagonalCost(qubo, scale=normalisation(qubo))
layout = qaoa_layout(cost.circuit_hamiltonian, 2)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    backend = StatevectorBackend()
    prepared = backend.prepare(layout.circuit, structure=layout)
    energy = float(backend.cost(prepared, cost, np.array([0.4, 0.8, 0.6, 0.3]))[0])
print(json.dumps({"layer": sv_kernels.vector_layer(), "energy": energy,
                  "warned": [str(w.message) for w in caught if "intrinsics" in str(w.message)]}))
"""


@pytest.mark.slow
def test_kernels_fall_back_to_plain_numba_when_the_ir_layer_does_not_import(tmp_path):
    """In a fresh interpreter (and numba cache) where ``sv_intrinsics`` fails to import, a
    16-qubit QAOA energy runs on kernels compiled with the plain-numba twins (one warning) and
    equals the IR layer's here."""
    done = subprocess.run([sys.executable, "-c", PLAIN_LAYER], capture_output=True, text=True, cwd=repo_root(),
                          env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}, timeout=1200)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["layer"].startswith("plain numba (ModuleNotFoundError: ") and "sv_intrinsics" in found["layer"]
    assert len(found["warned"]) == 1 and "the same results to rounding" in found["warned"][0]
    qubo = random_qubo(16, 2)
    cost = DiagonalCost(qubo, scale=normalisation(qubo))
    layout = qaoa_layout(cost.circuit_hamiltonian, 2)
    backend = StatevectorBackend()
    prepared = backend.prepare(layout.circuit, structure=layout)
    assert found["energy"] == pytest.approx(backend.cost(prepared, cost, np.array([0.4, 0.8, 0.6, 0.3]))[0], abs=1e-10)
