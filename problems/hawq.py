"""Read HAWQ-V3's per-layer tables out of its ``ILP.ipynb`` notebook, without executing it.

HAWQ-V3 (Yao et al., ICML 2021) publishes the data of its bit-allocation integer program only as
``np.array([...])`` literals in the code cells of ``ILP.ipynb`` (MIT-licensed HAWQ repository):
cell 4 for ResNet18, cell 17 for ResNet50 (first and last layers already excluded). The notebook
is JSON; each table cell is parsed with :mod:`ast` and only the literal lists are read with
:func:`ast.literal_eval`, so nothing of the notebook is ever run. The tie constraints (residual
downsample layers that must share their block's bit width) are the notebook's
``prob += variable[f"xI"] == variable[f"xJ"]`` lines in that network's section.

Units: the ResNet18 literals are counts (the cell divides parameters by 1024^2 and bops by 10^6
afterwards, a display unit that cancels out of a fractional budget); the ResNet50 literals are
in millions. Both are returned as counts.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qbench.errors import InputFileError
from qbench.parsing import MAX_MAGNITUDE, read_text

#: Code cell holding each network's table, and the factor turning its parameter and bops literals
#: into counts.
NETWORKS = {"resnet18": (4, 1.0), "resnet50": (17, 1e6)}

#: Notebook variable name -> field of :class:`HawqTable`.
ARRAYS = {
    "Hutchinson_trace": "trace",
    "delta_weights_8bit_square": "delta8",
    "delta_weights_4bit_square": "delta4",
    "parameters": "parameters",
    "bops": "bops",
    "latency_int4": "latency4",
    "latency_int8": "latency8",
}

_TIE = re.compile(r'variable\[f"x(\d+)"\]\s*==\s*variable\[f"x(\d+)"\]')


@dataclass(frozen=True, eq=False)
class HawqTable:
    """One network's layers: Hessian trace per parameter, squared weight perturbation at 8 and 4
    bits, parameter and bit-operation counts, INT4/INT8 latency (ms, T4 GPU), and tied pairs."""

    network: str
    trace: np.ndarray
    delta8: np.ndarray
    delta4: np.ndarray
    parameters: np.ndarray
    bops: np.ndarray
    latency4: np.ndarray
    latency8: np.ndarray
    ties: tuple[tuple[int, int], ...]

    @property
    def n_layers(self) -> int:
        return int(self.trace.shape[0])


def read_table(path: Path, network: str) -> HawqTable:
    """The layer table of ``network`` (``resnet18`` or ``resnet50``) in the notebook at ``path``."""
    cells = _code_cells(path)
    index, unit = NETWORKS[network]
    if index >= len(cells) or cells[index][0] != "code":
        raise InputFileError(path, f"has no code cell {index} (the {network} layer table)")
    arrays = _literal_arrays(path, cells[index][1], index, network)
    arrays["parameters"] = np.round(arrays["parameters"] * unit)
    arrays["bops"] = np.round(arrays["bops"] * unit)
    # The network's section runs from its table cell to the next network's table cell.
    end = min([i for i, _ in NETWORKS.values() if i > index] + [len(cells)])
    ties = sorted({
        tuple(sorted((int(a), int(b))))
        for kind, source in cells[index:end] if kind == "code"
        for a, b in _TIE.findall(source)
    })
    n = arrays["trace"].shape[0]
    for a, b in ties:
        if max(a, b) >= n or a == b:
            raise InputFileError(path, f"{network}: tie x{a} == x{b} does not name two of its {n} layers")
    return HawqTable(network=network, ties=tuple(ties), **arrays)


def _code_cells(path: Path) -> list[tuple[str, str]]:
    """(cell type, source text) of every notebook cell."""
    text = read_text(path)
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not a Jupyter notebook (invalid JSON: {exc.msg})", exc.lineno) from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise InputFileError(path, "not a Jupyter notebook (no 'cells' list)")
    result = []
    for cell in cells:
        source = cell.get("source", "") if isinstance(cell, dict) else ""
        text = "".join(source) if isinstance(source, list) else str(source)
        result.append((cell.get("cell_type", "") if isinstance(cell, dict) else "", text))
    return result


def _numbers(path: Path, field: str, values: list) -> np.ndarray:
    """A literal list as an array: plain numbers only, each finite, non-negative (the tables
    hold traces, squared perturbations, counts and times) and at most 2^53."""
    for k, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InputFileError(path, f"{field}[{k}]: expected a number, got {v!r}")
        if not (abs(v) <= MAX_MAGNITUDE):  # also false for nan
            raise InputFileError(path, f"{field}[{k}]: must be a finite number within 2^53, got {v!r}")
        if v < 0:
            raise InputFileError(path, f"{field}[{k}]: must be >= 0, got {v!r}")
    return np.array(values, dtype=float)


def _literal_arrays(path: Path, source: str, index: int, network: str) -> dict[str, np.ndarray]:
    """``NAME = np.array([...])`` (optionally followed by ``/ constant`` divisions) -> the list."""
    where = f"cell {index} ({network})"
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise InputFileError(path, f"{where}: not Python code ({exc.msg}, cell line {exc.lineno})") from None
    found: dict[str, np.ndarray] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        if name not in ARRAYS:
            continue
        value = node.value
        while isinstance(value, ast.BinOp) and isinstance(value.op, ast.Div):
            value = value.left  # the cell's unit conversions; see the module docstring
        if not (isinstance(value, ast.Call) and len(value.args) == 1 and isinstance(value.args[0], ast.List)):
            raise InputFileError(path, f"{where}: {name} is not np.array([...]) of a literal list")
        try:
            values = ast.literal_eval(value.args[0])
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise InputFileError(path, f"{where}: {name} holds something other than numbers") from None
        found[ARRAYS[name]] = _numbers(path, f"{where}: {name}", values)
    missing = [name for name, field in ARRAYS.items() if field not in found]
    if missing:
        raise InputFileError(path, f"{where}: no {', '.join(missing)} array")
    lengths = {name: found[field].shape for name, field in ARRAYS.items()}
    if len(set(lengths.values())) != 1 or found["trace"].ndim != 1:
        raise InputFileError(path, f"{where}: arrays differ in length: "
                             + ", ".join(f"{k} {v[0] if v else 0}" for k, v in lengths.items()))
    return found
