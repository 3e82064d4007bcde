"""``docs/reproduction.md`` from the records of the study experiments.

    python benchmarks/reproduction.py results/comparative_small results/cutting_slack \
        results/graph_shrinking results/bit_allocation --out docs/reproduction.md

Writes the document, its figures and CSV tables (``docs/reproduction/``): what was run, the
results per study, qubits per formulation, the seed studies' published figures beside qbench's,
and each sampled run's matched random baseline. The logic is :mod:`qbench.reproduction`
(``--help`` for the options); needs ``QBENCH_INSTANCES`` for the named instances.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qbench.reproduction import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
