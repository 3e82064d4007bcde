"""Mutated and unusual input files for every format the loaders read.

Each case either loads correctly (the same instance as the clean file, or the values stated) or
is refused with one :class:`InputFileError` line naming the file and, where the problem sits on
a line, that line. The bulk runs the loaders in-process; a representative subset runs the whole
command line in a subprocess under an address-space limit (so a regression that allocates a
declared size cannot exhaust the machine), checking exit status 2, exactly one
``qbench: error`` line on stderr and an error record.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from qbench import registry
from qbench.errors import InputFileError
from qbench.params import build_params
from qbench.problem import Problem
from tests.helpers import repo_root

# --- clean files, one per format --------------------------------------------------------------

SAC = "3 2 10\n4 5 6\n1 2 3\n3 2 1\n4 4\n"
MULTI = "2\n\n3 2 10\n4 5 6\n1 2 3\n3 2 1\n4 4\n\n2 1 0\n7 8\n1 1\n1\n"
# OR-Library mknap2 layout: a description (text, an example annotated with // comments), then
# instances opened by "problem NAME" lines: m n, profits, capacities, weight rows, optimum.
LITERATURE = (
    "Small instances in the layout of the literature collection; the text and the\n"
    "annotated example below are not instances.\n"
    "\n"
    "  1  2   // 1 knapsack, 2 objects\n"
    "  7  8   // profits\n"
    "  1      // capacity\n"
    "  1  1   // constraint\n"
    "  8      // optimum value\n"
    "\n"
    "problem SMALL1.DAT\n"
    "\n"
    " 2 3\n 4 5 6\n 4 4\n 1 2 3\n 3 2 1\n\n 10\n"
    "\n"
    "problem SMALL2.DAT\n"
    " 1 2\n 7 8\n 1\n 1 1\n\n 0\n"
)
GRAPH = "c path on 4 vertices\np edge 4 3\ne 1 2\ne 2 3\ne 3 4\n"
GRAPH_SOLUTION = "# Objective value = 2\n1\n3\n"
SPLIT = "# licence line\n2 3\n1 2 3 3\n1 1 2 2\n"
SPLIT_SOLUTION = "1\n1\n0\n"
QAP = "3\n0 1 2\n1 0 3\n2 3 0\n0 5 2\n5 0 1\n2 1 0\n"
QAP_SOLUTION = "3 24\n1 2 3\n"
COORDS = (
    "NAME : t\nTYPE : TSP\nDIMENSION : 4\nEDGE_WEIGHT_TYPE : EUC_2D\n"
    "NODE_COORD_SECTION\n1 0 0\n2 3 0\n3 3 4\n4 0 4\nEOF\n"
)
TOUR = "NAME : t.opt.tour\nTYPE : TOUR\nDIMENSION : 4\nTOUR_SECTION\n1\n2\n3\n4\n-1\nEOF\n"
EXPLICIT = (
    "NAME : e\nTYPE : TSP\nDIMENSION : 4\nEDGE_WEIGHT_TYPE : EXPLICIT\nEDGE_WEIGHT_FORMAT : UPPER_ROW\n"
    "EDGE_WEIGHT_SECTION\n3 5 4\n4 5\n3\nEOF\n"
)
TABLE = (
    "import numpy as np\n"
    "Hutchinson_trace = np.array([0.5, 0.25, 0.125])\n"
    "delta_weights_8bit_square = np.array([0.01, 0.02, 0.03])\n"
    "delta_weights_4bit_square = np.array([1.0, 2.0, 3.0])\n"
    "parameters = np.array([100, 200, 300]) / 1024**2\n"
    "bops = np.array([1000, 2000, 3000]) / 10**6\n"
    "latency_int4 = np.array([0.1, 0.2, 0.3])\n"
    "latency_int8 = np.array([0.2, 0.3, 0.5])\n"
)
TIES = 'prob += variable[f"x1"] == variable[f"x2"]\n'


def notebook(table: str = TABLE, ties: str = TIES) -> str:
    """A notebook shaped like HAWQ's ILP.ipynb: the ResNet18 table in code cell 4, ties after it."""
    def cell(source: str) -> dict:
        return {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                "source": source.splitlines(keepends=True)}

    cells = [cell("# setup\n") for _ in range(4)] + [cell(table), cell(ties)]
    cells += [cell("# other\n") for _ in range(12)]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}, indent=1) + "\n"


@dataclass(frozen=True)
class Format:
    """A file format: its problem kind, clean files (the instance first), loader options, and
    what the clean instance is."""

    name: str
    kind: str
    files: dict[str, str]
    options: dict = field(default_factory=dict)

    @property
    def main(self) -> str:
        return next(iter(self.files))


FORMATS = {
    "sac94": Format("sac94", "mdkp", {"sac.dat": SAC}),
    "mknap1": Format("mknap1", "mdkp", {"multi.txt": MULTI}, {"index": 2}),
    "mknap2": Format("mknap2", "mdkp", {"lit.txt": LITERATURE}, {"index": 2}),
    "dimacs": Format("dimacs", "mis", {"g.gph": GRAPH, "g.opt.sol": GRAPH_SOLUTION}),
    "split": Format("split", "msp", {"ms.dat": SPLIT, "ms.opt.sol": SPLIT_SOLUTION}),
    "qaplib": Format("qaplib", "qap", {"q.dat": QAP, "q.sln": QAP_SOLUTION}),
    "tsp_coords": Format("tsp_coords", "tsp", {"t.tsp": COORDS, "t.opt.tour": TOUR}),
    "tsp_explicit": Format("tsp_explicit", "tsp", {"e.tsp": EXPLICIT}),
    "notebook": Format("notebook", "bitalloc", {"ILP.ipynb": notebook()}, {"network": "resnet18"}),
}


def load(kind: str, path: Path, options: dict) -> Problem:
    family = registry.problem_family(kind)
    return family.load(path, build_params(family.Options, options, "problem"), None)


def write_files(directory: Path, files: dict[str, str | bytes]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = directory / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, newline="")


def same_instance(a: Problem, b: Problem) -> bool:
    pa, pb = a.payload(), b.payload()
    return (
        pa.keys() == pb.keys()
        and all(np.array_equal(np.asarray(pa[k]), np.asarray(pb[k])) for k in pa)
        and a.reference == b.reference
    )


# --- what the clean files hold ---------------------------------------------------------------

def test_clean_files_load_the_stated_instances(tmp_path):
    loaded = {}
    for fmt in FORMATS.values():
        write_files(tmp_path / fmt.name, fmt.files)
        loaded[fmt.name] = load(fmt.kind, tmp_path / fmt.name / fmt.main, fmt.options)
    sac = loaded["sac94"]
    assert sac.profits.tolist() == [4, 5, 6] and sac.weights.tolist() == [[1, 2, 3], [3, 2, 1]]
    assert sac.capacities.tolist() == [4, 4] and sac.reference.value == 10
    for name in ("mknap1", "mknap2"):
        p = loaded[name]
        assert (p.profits.tolist(), p.weights.tolist(), p.capacities.tolist()) == ([7, 8], [[1, 1]], [1])
        assert p.reference.value is None
    assert loaded["mknap2"].name == "lit-SMALL2"
    graph = loaded["dimacs"]
    assert (graph.n_vertices, graph.edges, graph.reference.value) == (4, ((0, 1), (1, 2), (2, 3)), 2)
    split = loaded["split"]
    assert split.coefficients.tolist() == [[1, 2, 3], [1, 1, 2]] and split.rhs.tolist() == [3, 2]
    assert split.solution.tolist() == [1, 1, 0] and split.reference.value == 0
    qap = loaded["qaplib"]
    assert qap.flow[1, 2] == 3 and qap.distance[0, 1] == 5 and qap.reference.value == 24
    coords = loaded["tsp_coords"]
    assert coords.distances[0].tolist() == [0, 3, 5, 4] and coords.reference.value == 14
    explicit = loaded["tsp_explicit"]
    assert explicit.distances.tolist() == [[0, 3, 5, 4], [3, 0, 4, 5], [5, 4, 0, 3], [4, 5, 3, 0]]
    bits = loaded["notebook"]
    assert bits.ties == ((1, 2),) and bits.cost[:, 1].tolist() == [100, 200, 300]
    assert np.allclose(bits.perturbation[:, 1], [0.5 * (0.01 - 1.0), 0.25 * (0.02 - 2.0), 0.125 * (0.03 - 3.0)])


# --- cases -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """``files`` replace the format's clean files (``None`` removes one). Without ``message`` the
    files must load as the clean instance (or pass ``check``); with it, loading fails with
    ``message`` naming ``error_file`` (default: the instance) and ``line`` (``None``: no line)."""

    id: str
    format: str
    files: dict[str, str | bytes | None]
    line: int | None = None
    message: str | None = None
    error_file: str | None = None
    options: dict | None = None
    check: Callable[[Problem], bool] | None = None


def _variants(fmt: Format) -> list[Case]:
    """Mutations every format meets: encodings, line ends, blanks, empty and binary files."""
    text, main = fmt.files[fmt.main], fmt.main
    lines = text.splitlines(keepends=True)
    cases = [
        Case(f"{fmt.name}-bom", fmt.name, {main: b"\xef\xbb\xbf" + text.encode()}),
        Case(f"{fmt.name}-crlf", fmt.name, {main: text.replace("\n", "\r\n")}),
        Case(f"{fmt.name}-cr", fmt.name, {main: text.replace("\n", "\r")}),
        Case(f"{fmt.name}-blank-lines", fmt.name, {main: text.replace("\n", "\n\n")}),
        Case(f"{fmt.name}-trailing-blanks", fmt.name, {main: text.replace("\n", " \t \n")}),
        Case(f"{fmt.name}-no-final-newline", fmt.name, {main: text.rstrip("\n")}),
        Case(f"{fmt.name}-png", fmt.name, {main: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"}, 1,
             "not a text file (byte 0x89 is not UTF-8)"),
        Case(f"{fmt.name}-nul", fmt.name, {main: "".join(lines[:1]) + "\0" + "".join(lines[1:])}, 2,
             "not a text file (NUL byte)"),
        Case(f"{fmt.name}-latin1", fmt.name, {main: text.encode() + "caf\u00e9\n".encode("latin-1")},
             len(lines) + 1, "not a text file (byte 0xe9 is not UTF-8)"),
        Case(f"{fmt.name}-utf16", fmt.name, {main: text.encode("utf-16")}, 1,
             "not a text file (byte 0xff is not UTF-8)"),
    ]
    if fmt.kind != "bitalloc":  # JSON strings may not hold a raw tab
        cases.append(Case(f"{fmt.name}-tabs", fmt.name, {main: text.replace(" ", "\t")}))
    return cases


def _replace(fmt: str, old: str, new: str, count: int = 1) -> dict[str, str]:
    """The format's instance file with ``old`` replaced by ``new`` (which must occur)."""
    f = FORMATS[fmt]
    text = f.files[f.main]
    assert old in text, (fmt, old)
    return {f.main: text.replace(old, new, count)}


EMPTY = {
    "sac94": (1, "file ends before instance number of items"),
    "mknap1": (1, "file ends before instance number of items"),
    "mknap2": (1, "file ends before instance number of items"),
    "dimacs": (None, "no 'p edge N M' line"),
    "split": (1, "file ends before number of products m"),
    "qaplib": (1, "file ends before size n"),
    "tsp_coords": (None, "missing TYPE"),
    "tsp_explicit": (None, "missing TYPE"),
    "notebook": (1, "not a Jupyter notebook (invalid JSON: Expecting value)"),
}

HUGE = 10**12

SPECIFIC = [
    # SAC-94
    Case("sac94-truncated", "sac94", {"sac.dat": SAC[:17]}, 1,
         "instance: n=3 items and m=2 constraints need 12 more numbers; the file has 6"),
    Case("sac94-huge-n", "sac94", _replace("sac94", "3 2 10", f"{HUGE} 2 10"), 1,
         f"instance: n={HUGE} items and m=2 constraints need {3 * HUGE + 3} more numbers; the file has 12"),
    Case("sac94-huge-m", "sac94", _replace("sac94", "3 2 10", f"3 {HUGE} 10"), 1,
         f"m={HUGE} constraints need {4 * HUGE + 4} more numbers"),
    Case("sac94-n-zero", "sac94", _replace("sac94", "3 2 10", "0 2 10"), 1,
         "instance number of items: must be >= 1, got 0"),
    Case("sac94-n-fraction", "sac94", _replace("sac94", "3 2 10", "2.5 2 10"), 1,
         "instance number of items: expected an integer, got '2.5'"),
    Case("sac94-n-integral-decimal", "sac94", _replace("sac94", "3 2 10", "3.0 2 1e1")),
    Case("sac94-optimum-inf", "sac94", _replace("sac94", "3 2 10", "3 2 inf"), 1,
         "instance optimum: must be a finite number, got 'inf'"),
    Case("sac94-optimum-nan", "sac94", _replace("sac94", "3 2 10", "3 2 NaN"), 1,
         "instance optimum: must be a finite number, got 'NaN'"),
    Case("sac94-optimum-overflow", "sac94", _replace("sac94", "3 2 10", "3 2 1e400"), 1,
         "instance optimum: must lie within +-2^53 = 9007199254740992, got 1e400"),
    Case("sac94-optimum-negative", "sac94", _replace("sac94", "3 2 10", "3 2 -10"), 1,
         "instance optimum: must be >= 0, got -10"),
    Case("sac94-optimum-above-all-profits", "sac94", _replace("sac94", "3 2 10", "3 2 16"), 1,
         "optimum 16 exceeds 15, the profit of all items together"),
    Case("sac94-optimum-zero-is-unknown", "sac94", _replace("sac94", "3 2 10", "3 2 0"),
         check=lambda p: p.reference.value is None),
    Case("sac94-profit-nan", "sac94", _replace("sac94", "4 5 6", "4 nan 6"), 2,
         "instance profit[1]: must be a finite number, got 'nan'"),
    Case("sac94-profit-infinity", "sac94", _replace("sac94", "4 5 6", "4 5 -Infinity"), 2,
         "instance profit[2]: must be a finite number, got '-Infinity'"),
    Case("sac94-weight-inf", "sac94", _replace("sac94", "1 2 3", "1 inf 3"), 3,
         "instance weight row 1[1]: must be a finite number, got 'inf'"),
    Case("sac94-weight-negative", "sac94", _replace("sac94", "\n3 2 1\n", "\n3 -2 1\n"), 4,
         "instance weight row 2[1]: must be >= 0, got -2"),
    Case("sac94-capacity-nan", "sac94", _replace("sac94", "4 4\n", "4 nan\n"), 5,
         "instance capacity[1]: must be a finite number, got 'nan'"),
    Case("sac94-capacity-negative", "sac94", _replace("sac94", "4 4\n", "-4 4\n"), 5,
         "instance capacity[0]: must be >= 0, got -4"),
    Case("sac94-underscore", "sac94", _replace("sac94", "4 5 6", "4 5 7_074"), 2,
         "instance profit[2]: expected a number, got '7_074'"),
    Case("sac94-arabic-indic-digit", "sac94", _replace("sac94", "4 5 6", "4 5 \u0666"), 2,
         "instance profit[2]: expected a number (ASCII digits only), got '\u0666'"),
    Case("sac94-fullwidth-digit", "sac94", _replace("sac94", "4 4\n", "4 \uff14\n"), 5,
         "instance capacity[1]: expected a number (ASCII digits only), got '\uff14'"),
    Case("sac94-no-break-space", "sac94", _replace("sac94", "4 5 6", "4 5\u00a06"), 2,
         "data: expected a number (ASCII digits only), got '5\\xa06'"),
    Case("sac94-hex", "sac94", _replace("sac94", "4 5 6", "4 5 0x6"), 2,
         "instance profit[2]: expected a number, got '0x6'"),
    Case("sac94-extra-data", "sac94", {"sac.dat": SAC + "9\n"}, 6, "unexpected extra data '9'"),
    Case("sac94-leading-text", "sac94", {"sac.dat": "This is hp1\n" + SAC}, 1,
         "instance number of items: expected an integer, got 'This'"),
    Case("sac94-exponent-and-sign", "sac94", _replace("sac94", "4 5 6", "+4 0.5e1 6.0")),
    # OR-Library mknap1 / mknapcb layout
    Case("mknap1-no-index", "mknap1", {}, None,
         "holds 2 instances; choose one with problem.index=1..2", options={}),
    Case("mknap1-index-too-large", "mknap1", {}, None,
         "problem.index=3 but the file holds 2 instances", options={"index": 3}),
    Case("mknap1-first-instance", "mknap1", {}, options={"index": 1},
         check=lambda p: p.profits.tolist() == [4, 5, 6] and p.reference.value == 10),
    Case("mknap1-huge-second-instance", "mknap1", _replace("mknap1", "2 1 0", f"2 {HUGE} 0"), 9,
         f"instance 2: n=2 items and m={HUGE} constraints"),
    Case("mknap1-truncated-first-instance", "mknap1", {"multi.txt": MULTI[:20]}, 3,
         "instance 1: n=3 items and m=2 constraints need 12 more numbers; the file has 6"),
    Case("mknap1-count-nan", "mknap1", _replace("mknap1", "2\n", "nan\n"), 1,
         "instance count: must be a finite number, got 'nan'"),
    # OR-Library mknap2 layout
    Case("mknap2-no-index", "mknap2", {}, None,
         "holds 2 instances (SMALL1.DAT, SMALL2.DAT); choose one with problem.index=1..2", options={}),
    Case("mknap2-first-instance", "mknap2", {}, options={"index": 1},
         check=lambda p: p.profits.tolist() == [4, 5, 6] and p.capacities.tolist() == [4, 4]
         and p.weights.tolist() == [[1, 2, 3], [3, 2, 1]] and p.reference.value == 10
         and p.name == "lit-SMALL1"),
    Case("mknap2-index-too-large", "mknap2", {}, None,
         "problem.index=5 but the file holds 2 instances", options={"index": 5}),
    Case("mknap2-lowercase-problem-lines", "mknap2",
         {"lit.txt": LITERATURE.replace("problem SMALL", "PROBLEM SMALL")}),
    Case("mknap2-comment-after-data", "mknap2", _replace("mknap2", " 7 8\n 1\n", " 7 8 // profits\n 1\n")),
    Case("mknap2-truncated-block", "mknap2", {"lit.txt": LITERATURE[:-6]}, 21,
         "SMALL2.DAT: m=1 constraints and n=2 items need 6 more numbers; the file has 4"),
    Case("mknap2-text-after-optimum", "mknap2", {"lit.txt": LITERATURE + " WEINGARTNER 1\n"}, 27,
         "unexpected extra data 'WEINGARTNER'"),
    Case("mknap2-optimum-inf", "mknap2", {"lit.txt": LITERATURE[:-3] + " inf\n"}, 26,
         "SMALL2.DAT optimum: must be a finite number, got 'inf'"),
    Case("mknap2-huge-n", "mknap2", _replace("mknap2", " 1 2\n", f" 1 {HUGE}\n"), 21,
         f"SMALL2.DAT: m=1 constraints and n={HUGE} items need"),
    Case("mknap2-empty-block", "mknap2", {"lit.txt": LITERATURE + "problem EMPTY.DAT\n"}, 27,
         "file ends before EMPTY.DAT number of constraints", options={"index": 3}),
    Case("mknap2-optimum-false-claim", "mknap2", _replace("mknap2", "\n 10\n", "\n 99\n"), 18,
         "optimum 99 exceeds 15, the profit of all items together", options={"index": 1}),
    # DIMACS edge files and .opt.sol
    Case("dimacs-huge-n", "dimacs", _replace("dimacs", "p edge 4 3", f"p edge {HUGE} 3"), 2,
         f"N={HUGE} vertices need about 931 TiB of memory"),
    Case("dimacs-n-beyond-2^53", "dimacs", _replace("dimacs", "p edge 4 3", "p edge 99999999999999999999 3"), 2,
         "vertex count N: must lie within +-2^53 = 9007199254740992, got 99999999999999999999"),
    Case("dimacs-huge-m", "dimacs", _replace("dimacs", "p edge 4 3", f"p edge 4 {HUGE}"), 2,
         f"'p' line declares {HUGE} edges but the file has 3"),
    Case("dimacs-too-few-edges", "dimacs", _replace("dimacs", "e 3 4\n", ""), 2,
         "'p' line declares 3 edges but the file has 2"),
    Case("dimacs-vertex-zero", "dimacs", _replace("dimacs", "e 1 2", "e 0 2"), 3, "vertex: must be >= 1, got 0"),
    Case("dimacs-vertex-out-of-range", "dimacs", _replace("dimacs", "e 3 4", "e 3 5"), 5,
         "vertex 5 out of range 1..4"),
    Case("dimacs-vertex-negative", "dimacs", _replace("dimacs", "e 2 3", "e 2 -3"), 4, "vertex: must be >= 1, got -3"),
    Case("dimacs-vertex-fraction", "dimacs", _replace("dimacs", "e 2 3", "e 2 2.5"), 4,
         "vertex: expected an integer, got '2.5'"),
    Case("dimacs-vertex-nan", "dimacs", _replace("dimacs", "e 2 3", "e 2 nan"), 4,
         "vertex: must be a finite number, got 'nan'"),
    Case("dimacs-vertex-arabic-indic", "dimacs", _replace("dimacs", "e 2 3", "e \u0662 3"), 4,
         "vertex: expected an integer (ASCII digits only), got '\u0662'"),
    Case("dimacs-n-underscore", "dimacs", _replace("dimacs", "p edge 4 3", "p edge 4_0 3"), 2,
         "vertex count N: expected an integer, got '4_0'"),
    Case("dimacs-self-loop", "dimacs", _replace("dimacs", "e 2 3", "e 3 3"), 4, "self loop on vertex 3"),
    Case("dimacs-duplicate-edge", "dimacs", {"g.gph": GRAPH.replace("3 4\n", "3 4\ne 1 2\n").replace("4 3", "4 4", 1)},
         check=lambda p: p.edges == ((0, 1), (1, 2), (2, 3))),
    Case("dimacs-both-directions", "dimacs", {"g.gph": GRAPH.replace("3 4\n", "3 4\ne 2 1\n").replace("4 3", "4 4", 1)},
         check=lambda p: p.edges == ((0, 1), (1, 2), (2, 3))),
    Case("dimacs-isolated-vertices", "dimacs", _replace("dimacs", "p edge 4 3", "p edge 6 3"),
         check=lambda p: p.n_vertices == 6 and p.n_edges == 3),
    Case("dimacs-col-header", "dimacs", _replace("dimacs", "p edge", "p col")),
    Case("dimacs-edge-before-p", "dimacs", {"g.gph": "e 1 2\n" + GRAPH}, 1,
         "edge line before the 'p edge N M' line"),
    Case("dimacs-second-p", "dimacs", {"g.gph": GRAPH + "p edge 4 3\n"}, 6, "second 'p' line (the first is line 2)"),
    Case("dimacs-unknown-tag", "dimacs", {"g.gph": GRAPH + "x 1 2\n"}, 6, "unknown line type 'x'; expected c, p or e"),
    Case("dimacs-short-edge", "dimacs", _replace("dimacs", "e 2 3", "e 2"), 4, "expected 'e u v', got 'e 2'"),
    Case("dimacs-solution-not-independent", "dimacs", {"g.opt.sol": "# Objective value = 2\n1\n2\n"}, 3,
         "not an independent set: 1 edge(s) inside it, the first 1-2", "g.opt.sol"),
    Case("dimacs-solution-out-of-range", "dimacs", {"g.opt.sol": "1\n9\n"}, 2, "vertex 9 out of range 1..4",
         "g.opt.sol"),
    Case("dimacs-solution-twice", "dimacs", {"g.opt.sol": "1\n3\n1\n"}, 3, "vertex 1 listed twice", "g.opt.sol"),
    Case("dimacs-solution-wrong-objective", "dimacs", {"g.opt.sol": "# Objective value = 3\n1\n3\n"}, 1,
         "states objective 3 but lists 2 vertices", "g.opt.sol"),
    Case("dimacs-solution-objective-inf", "dimacs", {"g.opt.sol": "# Objective value = inf\n1\n3\n"}, 1,
         "objective value: must be a finite number, got 'inf'", "g.opt.sol"),
    Case("dimacs-solution-two-per-line", "dimacs", {"g.opt.sol": "1 3\n"}, 1,
         "vertex: expected an integer, got '1 3'", "g.opt.sol"),
    Case("dimacs-solution-garbage", "dimacs", {"g.opt.sol": b"\x00\x01\x02"}, 1, "not a text file (NUL byte)",
         "g.opt.sol"),
    Case("dimacs-solution-bom-crlf", "dimacs",
         {"g.opt.sol": b"\xef\xbb\xbf" + GRAPH_SOLUTION.replace("\n", "\r\n").encode()}),
    Case("dimacs-without-solution", "dimacs", {"g.opt.sol": None}, check=lambda p: p.reference.value is None),
    # market split .dat and .opt.sol
    Case("split-truncated", "split", {"ms.dat": SPLIT[:-4]}, 2,
         "m=2 products and n=3 retailers need 8 more numbers; the file has 6"),
    Case("split-huge-m", "split", _replace("split", "2 3\n", f"{HUGE} 3\n"), 2,
         f"m={HUGE} products and n=3 retailers need {4 * HUGE} more numbers; the file has 8"),
    Case("split-huge-n", "split", _replace("split", "2 3\n", f"2 {HUGE}\n"), 2,
         f"m=2 products and n={HUGE} retailers"),
    Case("split-coefficient-nan", "split", _replace("split", "1 2 3 3", "1 nan 3 3"), 3,
         "row 1 coefficient[1]: must be a finite number, got 'nan'"),
    Case("split-coefficient-fraction", "split", _replace("split", "1 2 3 3", "1 2.5 3 3"), 3,
         "row 1 coefficient[1]: expected an integer, got '2.5'"),
    Case("split-rhs-inf", "split", _replace("split", "1 1 2 2", "1 1 2 inf"), 4,
         "row 2 right-hand side: must be a finite number, got 'inf'"),
    Case("split-row-overflows", "split", _replace("split", "1 2 3 3", "9007199254740992 9007199254740992 0 3"), 3,
         "row 1: sum of |coefficients| and |right-hand side| exceeds 2^53"),
    Case("split-arabic-indic", "split", _replace("split", "1 2 3 3", "1 2 \u0663 3"), 3,
         "row 1 coefficient[2]: expected an integer (ASCII digits only), got '\u0663'"),
    Case("split-extra-data", "split", {"ms.dat": SPLIT + "5\n"}, 5, "unexpected extra data '5'"),
    Case("split-negative-m", "split", _replace("split", "2 3\n", "-2 3\n"), 2,
         "number of products m: must be >= 1, got -2"),
    Case("split-comment-only", "split", {"ms.dat": "# nothing\n# here\n"}, 2, "file ends before number of products m"),
    Case("split-solution-two", "split", {"ms.opt.sol": "1\n2\n0\n"}, 2, "x[2]: expected 0 or 1, got 2", "ms.opt.sol"),
    Case("split-solution-short", "split", {"ms.opt.sol": "1\n1\n"}, 2, "file ends before x[3]", "ms.opt.sol"),
    Case("split-solution-long", "split", {"ms.opt.sol": "1\n1\n0\n1\n"}, 4, "unexpected extra data '1'",
         "ms.opt.sol"),
    Case("split-solution-not-a-split", "split", {"ms.opt.sol": "0\n1\n1\n"}, None,
         "not an exact split: product 1 is off by 2", "ms.opt.sol"),
    Case("split-solution-nan", "split", {"ms.opt.sol": "1\nnan\n0\n"}, 2, "x[2]: must be a finite number, got 'nan'",
         "ms.opt.sol"),
    Case("split-solution-half", "split", {"ms.opt.sol": "1\n0.5\n0\n"}, 2, "x[2]: expected an integer, got '0.5'",
         "ms.opt.sol"),
    Case("split-solution-crlf-comments", "split", {"ms.opt.sol": "# split\r\n1\r\n1\r\n0\r\n"}),
    # QAPLIB .dat and .sln
    Case("qaplib-truncated", "qaplib", {"q.dat": QAP[:-6]}, 1,
         "size n=3: two 3 x 3 matrices need 18 more numbers; the file has 15"),
    Case("qaplib-huge-n", "qaplib", _replace("qaplib", "3\n", f"{HUGE}\n"), 1,
         f"size n={HUGE}: two {HUGE} x {HUGE} matrices need"),
    Case("qaplib-flow-nan", "qaplib", _replace("qaplib", "1 0 3", "1 nan 3"), 3,
         "matrix A row 2[1]: must be a finite number, got 'nan'"),
    Case("qaplib-distance-inf", "qaplib", _replace("qaplib", "5 0 1", "5 0 inf"), 6,
         "matrix B row 2[2]: must be a finite number, got 'inf'"),
    Case("qaplib-overflow", "qaplib", _replace("qaplib", "5 0 1", "5 0 1e309"), 6,
         "matrix B row 2[2]: must lie within +-2^53"),
    Case("qaplib-underscore", "qaplib", _replace("qaplib", "0 5 2", "0 5_0 2"), 5,
         "matrix B row 1[1]: expected a number, got '5_0'"),
    Case("qaplib-extra-data", "qaplib", {"q.dat": QAP + "7\n"}, 8, "unexpected extra data '7'"),
    Case("qaplib-sln-wrong-size", "qaplib", {"q.sln": "4 24\n1 2 3 4\n"}, 1,
         "size 4 does not match the instance's n=3", "q.sln"),
    Case("qaplib-sln-repeat", "qaplib", {"q.sln": "3 24\n1 1 3\n"}, 2, "the solution is not a permutation of 1..3",
         "q.sln"),
    Case("qaplib-sln-out-of-range", "qaplib", {"q.sln": "3 24\n1 2 4\n"}, 2, "permutation[2]: must be <= 3, got 4",
         "q.sln"),
    Case("qaplib-sln-zero-based", "qaplib", {"q.sln": "3 24\n0 1 2\n"}, 2, "permutation[0]: must be >= 1, got 0",
         "q.sln"),
    Case("qaplib-sln-wrong-cost", "qaplib", {"q.sln": "3 23\n1 2 3\n"}, 1,
         "the permutation costs 24 but the header says 23", "q.sln"),
    Case("qaplib-sln-nan-cost", "qaplib", {"q.sln": "3 nan\n1 2 3\n"}, 1,
         "optimal value: must be a finite number, got 'nan'", "q.sln"),
    Case("qaplib-sln-truncated", "qaplib", {"q.sln": "3 24\n1 2\n"}, 2, "file ends before permutation[2]", "q.sln"),
    Case("qaplib-sln-bom", "qaplib", {"q.sln": b"\xef\xbb\xbf" + QAP_SOLUTION.encode()}),
    Case("qaplib-negative-entries", "qaplib", _replace("qaplib", "0 5 2", "-1 5 2"),
         check=lambda p: p.distance[0, 0] == -1 and p.reference.value == 24),
    # TSPLIB coordinates and tours
    Case("tsp_coords-huge-dimension", "tsp_coords", _replace("tsp_coords", "DIMENSION : 4", "DIMENSION : 1000000"), 5,
         "NODE_COORD_SECTION has 4 nodes, DIMENSION is 1000000"),
    Case("tsp_coords-dimension-arabic-indic", "tsp_coords",
         _replace("tsp_coords", "DIMENSION : 4", "DIMENSION : \u0664"), 3,
         "DIMENSION: expected an integer (ASCII digits only), got '\u0664'"),
    Case("tsp_coords-dimension-underscore", "tsp_coords", _replace("tsp_coords", "DIMENSION : 4", "DIMENSION : 0_4"),
         3, "DIMENSION: expected an integer, got '0_4'"),
    Case("tsp_coords-dimension-nan", "tsp_coords", _replace("tsp_coords", "DIMENSION : 4", "DIMENSION : nan"), 3,
         "DIMENSION: must be a finite number, got 'nan'"),
    Case("tsp_coords-truncated", "tsp_coords", {"t.tsp": COORDS[:-14]}, 5,
         "NODE_COORD_SECTION has 3 nodes, DIMENSION is 4"),
    Case("tsp_coords-coordinate-nan", "tsp_coords", _replace("tsp_coords", "3 3 4", "3 nan 4"), 8,
         "NODE_COORD_SECTION coordinate: must be a finite number, got 'nan'"),
    Case("tsp_coords-coordinate-inf", "tsp_coords", _replace("tsp_coords", "3 3 4", "3 3 -inf"), 8,
         "NODE_COORD_SECTION coordinate: must be a finite number, got '-inf'"),
    Case("tsp_coords-node-zero", "tsp_coords", _replace("tsp_coords", "4 0 4", "0 0 4"), 9,
         "node number must be in 1..4, got 0"),
    Case("tsp_coords-node-fraction", "tsp_coords", _replace("tsp_coords", "4 0 4", "3.5 0 4"), 9,
         "NODE_COORD_SECTION node number: expected an integer, got '3.5'"),
    Case("tsp_coords-node-twice", "tsp_coords", _replace("tsp_coords", "4 0 4", "3 0 4"), 9, "node 3 appears twice"),
    Case("tsp_coords-missing-section", "tsp_coords", {"t.tsp": COORDS.split("NODE_COORD_SECTION")[0]}, 4,
         "missing NODE_COORD_SECTION (EDGE_WEIGHT_TYPE EUC_2D)"),
    Case("tsp_coords-tour-out-of-range", "tsp_coords", {"t.opt.tour": TOUR.replace("4\n-1", "5\n-1")}, 8,
         "TOUR_SECTION: not a node number in 1..4: 5", "t.opt.tour"),
    Case("tsp_coords-tour-twice", "tsp_coords", {"t.opt.tour": TOUR.replace("4\n-1", "1\n-1")}, 8,
         "TOUR_SECTION: node 1 visited twice", "t.opt.tour"),
    Case("tsp_coords-tour-no-terminator", "tsp_coords", {"t.opt.tour": TOUR.replace("-1\n", "")}, 4,
         "TOUR_SECTION: missing the -1 terminator", "t.opt.tour"),
    Case("tsp_coords-tour-nan", "tsp_coords", {"t.opt.tour": TOUR.replace("2\n3", "2 nan\n3")}, 6,
         "TOUR_SECTION: must be a finite number, got 'nan'", "t.opt.tour"),
    Case("tsp_coords-tour-wrong-dimension", "tsp_coords",
         {"t.opt.tour": TOUR.replace("DIMENSION : 4", "DIMENSION : 5")},
         3, "DIMENSION 5 does not match the instance's 4 cities", "t.opt.tour"),
    Case("tsp_coords-tour-short", "tsp_coords", {"t.opt.tour": TOUR.replace("4\n-1", "-1")}, 4,
         "TOUR_SECTION visits 3 nodes, DIMENSION is 4", "t.opt.tour"),
    Case("tsp_coords-tour-crlf-bom", "tsp_coords",
         {"t.opt.tour": b"\xef\xbb\xbf" + TOUR.replace("\n", "\r\n").encode()}),
    # TSPLIB explicit matrices
    Case("tsp_explicit-huge-dimension", "tsp_explicit",
         _replace("tsp_explicit", "DIMENSION : 4", "DIMENSION : 1000000"), 6,
         "EDGE_WEIGHT_SECTION holds 6 numbers; UPPER_ROW of DIMENSION 1000000 needs 499999500000"),
    Case("tsp_explicit-truncated", "tsp_explicit", {"e.tsp": EXPLICIT.replace("3\nEOF", "EOF")}, 6,
         "EDGE_WEIGHT_SECTION holds 5 numbers; UPPER_ROW of DIMENSION 4 needs 6"),
    Case("tsp_explicit-weight-inf", "tsp_explicit", _replace("tsp_explicit", "4 5\n", "4 inf\n"), 8,
         "EDGE_WEIGHT_SECTION: must be a finite number, got 'inf'"),
    Case("tsp_explicit-weight-nan", "tsp_explicit", _replace("tsp_explicit", "3 5 4", "3 NAN 4"), 7,
         "EDGE_WEIGHT_SECTION: must be a finite number, got 'NAN'"),
    Case("tsp_explicit-weight-underscore", "tsp_explicit", _replace("tsp_explicit", "3 5 4", "3 5 4_0"), 7,
         "EDGE_WEIGHT_SECTION: expected a number, got '4_0'"),
    Case("tsp_explicit-full-asymmetric", "tsp_explicit",
         {"e.tsp": EXPLICIT.replace("UPPER_ROW", "FULL_MATRIX").replace("3 5 4\n4 5\n3\n",
                                                                         "0 3 5 4\n3 0 4 5\n5 4 0 3\n4 6 3 0\n")}, 8,
         "FULL_MATRIX is not symmetric: d(2,4) != d(4,2)"),
    Case("tsp_explicit-lower-diag-row", "tsp_explicit",
         {"e.tsp": EXPLICIT.replace("UPPER_ROW", "LOWER_DIAG_ROW").replace("3 5 4\n4 5\n3\n",
                                                                            "0\n3 0\n5 4 0\n4 5 3 0\n")},
         check=lambda p: p.distances.tolist() == [[0, 3, 5, 4], [3, 0, 4, 5], [5, 4, 0, 3], [4, 5, 3, 0]]),
    # HAWQ notebook tables
    Case("notebook-inf-literal", "notebook",
         {"ILP.ipynb": notebook(TABLE.replace("[100, 200, 300]", "[100, 1e999, 300]"))}, None,
         "cell 4 (resnet18): parameters[1]: must be a finite number within 2^53, got inf"),
    Case("notebook-negative", "notebook",
         {"ILP.ipynb": notebook(TABLE.replace("[0.1, 0.2, 0.3]", "[0.1, -0.2, 0.3]"))}, None,
         "cell 4 (resnet18): latency_int4[1]: must be >= 0, got -0.2"),
    Case("notebook-string", "notebook",
         {"ILP.ipynb": notebook(TABLE.replace("[1000, 2000, 3000]", "[1000, 'nan', 3000]"))}, None,
         "cell 4 (resnet18): bops[1]: expected a number, got 'nan'"),
    Case("notebook-bool", "notebook",
         {"ILP.ipynb": notebook(TABLE.replace("[0.5, 0.25, 0.125]", "[0.5, True, 0.125]"))}, None,
         "cell 4 (resnet18): Hutchinson_trace[1]: expected a number, got True"),
    Case("notebook-nested", "notebook",
         {"ILP.ipynb": notebook(TABLE.replace("[1.0, 2.0, 3.0]", "[[1.0, 2.0], 3.0, 4.0]"))}, None,
         "cell 4 (resnet18): delta_weights_4bit_square[0]: expected a number, got [1.0, 2.0]"),
    Case("notebook-huge-int", "notebook",
         {"ILP.ipynb": notebook(TABLE.replace("[100, 200, 300]", f"[100, {10**400}, 300]"))}, None,
         "cell 4 (resnet18): parameters[1]: must be a finite number within 2^53"),
    Case("notebook-call-not-literal", "notebook",
         {"ILP.ipynb": notebook(TABLE.replace("[0.1, 0.2, 0.3]", "[0.1, float('nan'), 0.3]"))}, None,
         "cell 4 (resnet18): latency_int4 holds something other than numbers"),
    Case("notebook-arabic-indic", "notebook",
         {"ILP.ipynb": notebook(TABLE.replace("[0.1, 0.2, 0.3]", "[0.1, \u0660.2, 0.3]"))}, None,
         "cell 4 (resnet18): not Python code"),
    Case("notebook-lengths-differ", "notebook",
         {"ILP.ipynb": notebook(TABLE.replace("[0.2, 0.3, 0.5]", "[0.2, 0.3]"))}, None,
         "cell 4 (resnet18): arrays differ in length"),
    Case("notebook-tie-out-of-range", "notebook",
         {"ILP.ipynb": notebook(ties='prob += variable[f"x1"] == variable[f"x7"]\n')}, None,
         "resnet18: tie x1 == x7 does not name two of its 3 layers"),
    Case("notebook-python-underscore-literal", "notebook",
         {"ILP.ipynb": notebook(TABLE.replace("[1000, 2000, 3000]", "[1_000, 2000, 3000]"))}),
    Case("notebook-not-json", "notebook", {"ILP.ipynb": "{\n \"cells\": [\n"}, 3,
         "not a Jupyter notebook (invalid JSON: Expecting value)"),
]


def _cases() -> list[Case]:
    cases = []
    for fmt in FORMATS.values():
        cases += _variants(fmt)
        line, message = EMPTY[fmt.name]
        cases.append(Case(f"{fmt.name}-empty", fmt.name, {fmt.main: ""}, line, message))
    return cases + SPECIFIC


CASES = _cases()


def materialise(case: Case, directory: Path) -> tuple[Format, Path]:
    fmt = FORMATS[case.format]
    files = {**fmt.files, **case.files}
    write_files(directory, {name: content for name, content in files.items() if content is not None})
    return fmt, directory / fmt.main


def test_the_suite_covers_every_format_with_over_a_hundred_files():
    assert len(CASES) >= 100 and len({c.id for c in CASES}) == len(CASES)
    assert {c.format for c in CASES} == set(FORMATS)


#: Address space a loader may add in-process: a regression that allocates a declared size fails
#: with MemoryError instead of exhausting the machine.
IN_PROCESS_HEADROOM = 2 * 1024**3


@pytest.fixture
def bounded_address_space():
    """Limit the address space to what is mapped now plus :data:`IN_PROCESS_HEADROOM`."""
    status = Path("/proc/self/status")
    if not status.exists():
        yield
        return
    mapped = next(int(l.split()[1]) * 1024 for l in status.read_text().splitlines() if l.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + IN_PROCESS_HEADROOM
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_loader_accepts_or_names_file_and_line(tmp_path, case, bounded_address_space):
    fmt, path = materialise(case, tmp_path / "case")
    options = fmt.options if case.options is None else case.options
    if case.message is None:
        problem = load(fmt.kind, path, options)
        if case.check is not None:
            assert case.check(problem)
        else:
            write_files(tmp_path / "clean", fmt.files)
            assert same_instance(problem, load(fmt.kind, tmp_path / "clean" / fmt.main, options))
        return
    with pytest.raises(InputFileError) as info:
        load(fmt.kind, path, options)
    text = str(info.value)
    named = tmp_path / "case" / (case.error_file or fmt.main)
    where = f"{named}:{case.line}: " if case.line is not None else f"{named}: "
    assert text.startswith(where), text
    assert case.message in text, text
    assert "\n" not in text


# --- the command line, for a representative subset ----------------------------------------------

ADDRESS_SPACE_LIMIT = 3 * 1024**3

CLI_CASES = [
    "sac94-optimum-inf", "sac94-huge-n", "sac94-arabic-indic-digit", "mknap2-truncated-block",
    "dimacs-huge-n", "dimacs-solution-not-independent", "split-huge-m", "qaplib-flow-nan",
    "tsp_explicit-huge-dimension", "notebook-inf-literal", "qaplib-png",
]


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def qbench_run(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(repo_root())}
    return subprocess.run(
        [sys.executable, "-m", "qbench", "run", *overrides, f"output_root={tmp_path / 'out'}"],
        capture_output=True, text=True, cwd=repo_root(), env=env, timeout=300,
        preexec_fn=_limit_address_space,
    )


def _overrides(fmt: Format, path: Path, options: dict) -> list[str]:
    solver = "scip" if fmt.kind == "bitalloc" else "exact"
    return [f"problem={fmt.kind}", f"problem.instance={path}", f"solver={solver}",
            *(f"problem.{k}={v}" for k, v in options.items())]


def _records(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("record.json"))]


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in CASES if c.id in CLI_CASES], ids=lambda c: c.id)
def test_command_line_gives_one_error_line_exit_2_and_an_error_record(tmp_path, case):
    fmt, path = materialise(case, tmp_path / "case")
    out = qbench_run(tmp_path, *_overrides(fmt, path, fmt.options if case.options is None else case.options))
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stdout + out.stderr and "MemoryError" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("qbench: error:")]
    assert len(errors) == 1 and case.message in errors[0], out.stderr
    named = tmp_path / "case" / (case.error_file or fmt.main)
    assert errors[0].startswith(f"qbench: error: {named}:")
    (record,) = _records(tmp_path / "out")
    assert record["status"] == "error" and record["error"] == errors[0].removeprefix("qbench: error: ")


@pytest.mark.slow
def test_command_line_refuses_a_vertex_count_beyond_the_address_space_limit(tmp_path):
    """10^7 vertices (about 10 GiB of model) may fit the machine but not a 3 GiB address space:
    refused up front, not a MemoryError halfway."""
    fmt = FORMATS["dimacs"]
    case = Case("dimacs-ten-million", "dimacs", _replace("dimacs", "p edge 4 3", "p edge 10000000 3"))
    _, path = materialise(case, tmp_path / "case")
    out = qbench_run(tmp_path, *_overrides(fmt, path, {}))
    assert out.returncode == 2, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("qbench: error:")]
    assert len(errors) == 1 and f"{path}:2: N=10000000 vertices need about 9.54 GiB of memory" in errors[0]
    (record,) = _records(tmp_path / "out")
    assert record["status"] == "error"


@pytest.mark.slow
@pytest.mark.parametrize("case_id", ["sac94-bom", "mknap2-crlf"])
def test_command_line_solves_unusual_but_valid_files(tmp_path, case_id):
    (case,) = [c for c in CASES if c.id == case_id]
    fmt, path = materialise(case, tmp_path / "case")
    out = qbench_run(tmp_path, *_overrides(fmt, path, fmt.options))
    assert out.returncode == 0, out.stderr
    (record,) = _records(tmp_path / "out")
    assert record["status"] == "ok" and record["feasible"]
    assert record["objective"] == {"sac94-bom": 10, "mknap2-crlf": 8}[case_id]
