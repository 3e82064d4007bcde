"""A TSPLIB reader: symmetric TSP files (``.tsp``) and tours (``.tour``), distances by TSPLIB's rules.

Written here rather than taken from ``tsplib95``: that package is unmaintained since 2020 and pins
networkx~=2.1, which conflicts with the project's dependencies. Only what the symmetric TSP
needs is read; anything else is refused with the file and line.

Distance rules (Reinelt, "TSPLIB 95", section 2), reproduced exactly, integer results:

- ``EUC_2D``: ``nint(sqrt(dx^2 + dy^2))`` with ``nint(v) = int(v + 0.5)``; ``CEIL_2D``: the ceiling.
- ``ATT`` (pseudo-Euclidean): ``r = sqrt((dx^2 + dy^2) / 10)``, ``t = nint(r)``, ``t + 1`` if
  ``t < r`` else ``t``.
- ``GEO``: coordinates are ``DDD.MM`` (degrees, minutes); ``rad = PI * (deg + 5 * min / 3) / 180``
  with ``deg`` the integer part (truncated, as in TSPLIB's reference code; the document's
  ``nint`` would misread minutes >= 30) and ``PI = 3.141592``; then with ``RRR = 6378.388``,
  ``q1 = cos(lon_i - lon_j)``, ``q2 = cos(lat_i - lat_j)``, ``q3 = cos(lat_i + lat_j)``,
  ``d = int(RRR * acos(0.5 * ((1 + q1) q2 - (1 - q1) q3)) + 1)``. Computed with ``math`` (the C
  library) pair by pair, so no vectorised approximation can move a value across an integer.
- ``EXPLICIT`` with ``FULL_MATRIX``, ``UPPER_ROW``, ``LOWER_ROW``, ``UPPER_DIAG_ROW``,
  ``LOWER_DIAG_ROW`` and their column-wise twins (for a symmetric matrix ``UPPER_COL`` lists the
  same numbers as ``LOWER_ROW``, and so on).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qbench.errors import InputFileError
from qbench.parsing import check_memory, parse_int, parse_number, read_lines, split_fields

PI = 3.141592
RRR = 6378.388

COORD_TYPES = ("EUC_2D", "CEIL_2D", "GEO", "ATT")
EDGE_WEIGHT_TYPES = (*COORD_TYPES, "EXPLICIT")
#: Explicit formats and the triangle they list (row-wise reading of the matrix).
MATRIX_FORMATS = {
    "FULL_MATRIX": "full",
    "UPPER_ROW": "upper",
    "LOWER_ROW": "lower",
    "UPPER_DIAG_ROW": "upper_diag",
    "LOWER_DIAG_ROW": "lower_diag",
    "UPPER_COL": "lower",
    "LOWER_COL": "upper",
    "UPPER_DIAG_COL": "lower_diag",
    "LOWER_DIAG_COL": "upper_diag",
}
EDGE_WEIGHT_FORMATS = ("FUNCTION", *MATRIX_FORMATS)
HEADER_KEYWORDS = (
    "NAME", "TYPE", "COMMENT", "DIMENSION", "EDGE_WEIGHT_TYPE", "EDGE_WEIGHT_FORMAT",
    "DISPLAY_DATA_TYPE", "NODE_COORD_TYPE",
)
SECTIONS = ("NODE_COORD_SECTION", "EDGE_WEIGHT_SECTION", "DISPLAY_DATA_SECTION", "TOUR_SECTION")
ALLOWED_VALUES = {
    "EDGE_WEIGHT_TYPE": EDGE_WEIGHT_TYPES,
    "EDGE_WEIGHT_FORMAT": EDGE_WEIGHT_FORMATS,
    "DISPLAY_DATA_TYPE": ("COORD_DISPLAY", "TWOD_DISPLAY", "NO_DISPLAY"),
    "NODE_COORD_TYPE": ("TWOD_COORDS", "NO_COORDS"),
}


@dataclass(frozen=True, eq=False)
class TsplibFile:
    """A parsed symmetric TSP file: header values, coordinates (if any) and the distance matrix."""

    path: Path
    name: str
    comment: str
    dimension: int
    edge_weight_type: str
    edge_weight_format: str | None
    coords: np.ndarray | None
    display: np.ndarray | None
    distances: np.ndarray


def nint(value: np.ndarray | float) -> np.ndarray:
    """TSPLIB's ``nint``: ``(int)(x + 0.5)`` (truncation toward zero, as in C)."""
    return np.trunc(np.asarray(value, dtype=float) + 0.5).astype(np.int64)


def _deltas(coords: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``sqrt((dx^2 + dy^2) / scale)`` for every pair (sqrt is correctly rounded in numpy too)."""
    coords = np.asarray(coords, dtype=float)
    dx = coords[:, None, 0] - coords[None, :, 0]
    dy = coords[:, None, 1] - coords[None, :, 1]
    return np.sqrt((dx * dx + dy * dy) / scale)


def euc_2d(coords: np.ndarray) -> np.ndarray:
    """EUC_2D distances (rounded Euclidean)."""
    return nint(_deltas(coords))


def ceil_2d(coords: np.ndarray) -> np.ndarray:
    """CEIL_2D distances (Euclidean rounded up)."""
    return np.ceil(_deltas(coords)).astype(np.int64)


def att(coords: np.ndarray) -> np.ndarray:
    """ATT pseudo-Euclidean distances."""
    r = _deltas(coords, scale=10.0)
    t = nint(r)
    return np.where(t < r, t + 1, t)


def _geo_radians(value: float) -> float:
    degrees = int(value)
    minutes = value - degrees
    return PI * (degrees + 5.0 * minutes / 3.0) / 180.0


def geo(coords: np.ndarray) -> np.ndarray:
    """GEO distances (kilometres on TSPLIB's idealised sphere) from DDD.MM latitude, longitude."""
    lat = [_geo_radians(float(c[0])) for c in coords]
    lon = [_geo_radians(float(c[1])) for c in coords]
    n = len(lat)
    d = np.zeros((n, n), dtype=np.int64)
    for i in range(n):
        for j in range(i + 1, n):
            q1 = math.cos(lon[i] - lon[j])
            q2 = math.cos(lat[i] - lat[j])
            q3 = math.cos(lat[i] + lat[j])
            d[i, j] = d[j, i] = int(RRR * math.acos(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3)) + 1.0)
    return d


DISTANCE_FUNCTIONS = {"EUC_2D": euc_2d, "CEIL_2D": ceil_2d, "GEO": geo, "ATT": att}


@dataclass
class _Section:
    line: int
    rows: list[tuple[int, list[str]]]


def _scan(path: Path) -> tuple[dict[str, tuple[str, int]], dict[str, _Section]]:
    """Header ``KEY: value`` pairs and the data lines of each section, with line numbers."""
    header: dict[str, tuple[str, int]] = {}
    sections: dict[str, _Section] = {}
    current: _Section | None = None
    for number, raw in enumerate(read_lines(path), 1):
        line = raw.strip(" \t\v\f")
        if not line:
            continue
        if current is not None and not line[0].isalpha():
            current.rows.append((number, split_fields(line)))
            continue
        key, _, value = (part.strip() for part in line.partition(":"))
        current = None
        if key == "EOF":
            break
        if key in SECTIONS:
            if key in sections:
                raise InputFileError(path, f"{key} appears twice", number)
            current = sections[key] = _Section(number, [])
        elif key in HEADER_KEYWORDS:
            if key == "COMMENT" and key in header:
                value = f"{header[key][0]} {value}"
            elif key in header:
                raise InputFileError(path, f"{key} appears twice", number)
            allowed = ALLOWED_VALUES.get(key)
            if allowed and value not in allowed:
                raise InputFileError(
                    path, f"unsupported {key} {value!r}; supported: {', '.join(allowed)}", number
                )
            header[key] = (value, number)
        else:
            known = ", ".join((*HEADER_KEYWORDS, *SECTIONS, "EOF"))
            raise InputFileError(path, f"unknown or unsupported keyword {key!r}; supported: {known}", number)
    return header, sections


def _dimension(path: Path, header: dict[str, tuple[str, int]]) -> int:
    if "DIMENSION" not in header:
        raise InputFileError(path, "missing DIMENSION")
    value, line = header["DIMENSION"]
    dimension = parse_int(path, value, line, "DIMENSION")
    if dimension < 3:
        raise InputFileError(path, f"DIMENSION: a tour needs at least 3 cities, got {dimension}", line)
    return dimension


#: Bytes per matrix entry while the distances are computed: the float64 matrix and up to seven
#: temporaries of its size (coordinate differences, squares, their sum, roots, rounding).
MATRIX_BYTES_PER_ENTRY = 64


def _check_matrix_memory(path: Path, header: dict[str, tuple[str, int]], dimension: int) -> None:
    check_memory(path, header["DIMENSION"][1], f"DIMENSION {dimension}: the {dimension} x {dimension} distances",
                 dimension * dimension * MATRIX_BYTES_PER_ENTRY)


def _check_type(path: Path, header: dict[str, tuple[str, int]], expected: tuple[str, ...]) -> None:
    value, line = header.get("TYPE", (None, None))
    if value is None:
        raise InputFileError(path, "missing TYPE")
    if value not in expected:
        raise InputFileError(path, f"unsupported TYPE {value!r}; supported: {', '.join(expected)}", line)


def _node_table(path: Path, section: _Section, dimension: int, name: str) -> np.ndarray:
    """``index x y`` lines, each node 1..dimension exactly once, as an array in node order."""
    if len(section.rows) != dimension:
        raise InputFileError(
            path, f"{name} has {len(section.rows)} nodes, DIMENSION is {dimension}", section.line
        )
    table = np.full((dimension, 2), np.nan)
    for line, tokens in section.rows:
        if len(tokens) != 3:
            raise InputFileError(path, f"{name}: expected 'node x y', got {len(tokens)} values", line)
        node = parse_int(path, tokens[0], line, f"{name} node number")
        if not 1 <= node <= dimension:
            raise InputFileError(path, f"{name}: node number must be in 1..{dimension}, got {tokens[0]}", line)
        k = node - 1
        if not np.isnan(table[k, 0]):
            raise InputFileError(path, f"{name}: node {k + 1} appears twice", line)
        table[k] = [parse_number(path, t, line, f"{name} coordinate") for t in tokens[1:]]
    return table


#: Cells each explicit shape lists, in the order listed (row by row).
_CELLS = {
    "full": lambda n: tuple(np.indices((n, n)).reshape(2, -1)),
    "upper": lambda n: np.triu_indices(n, 1),
    "upper_diag": lambda n: np.triu_indices(n, 0),
    "lower": lambda n: np.tril_indices(n, -1),
    "lower_diag": lambda n: np.tril_indices(n, 0),
}


def _cell_count(shape: str, n: int) -> int:
    return {"full": n * n, "upper": n * (n - 1) // 2, "lower": n * (n - 1) // 2,
            "upper_diag": n * (n + 1) // 2, "lower_diag": n * (n + 1) // 2}[shape]


def _explicit(
    path: Path, section: _Section, header: dict[str, tuple[str, int]], dimension: int, fmt: str
) -> np.ndarray:
    """The symmetric matrix an EDGE_WEIGHT_SECTION lists in format ``fmt``."""
    n, shape = dimension, MATRIX_FORMATS[fmt]
    present = sum(len(tokens) for _, tokens in section.rows)
    needed = _cell_count(shape, n)
    if present != needed:
        raise InputFileError(
            path, f"EDGE_WEIGHT_SECTION holds {present} numbers; {fmt} of DIMENSION {n} needs {needed}", section.line
        )
    _check_matrix_memory(path, header, dimension)
    lines = [line for line, tokens in section.rows for _ in tokens]
    values = np.array([
        parse_number(path, token, line, "EDGE_WEIGHT_SECTION") for line, tokens in section.rows for token in tokens
    ])
    matrix = np.zeros((n, n))
    matrix[_CELLS[shape](n)] = values
    if shape == "full":
        asymmetric = np.argwhere(matrix != matrix.T)
        if len(asymmetric):
            i, j = asymmetric[0]
            raise InputFileError(
                path, f"FULL_MATRIX is not symmetric: d({i + 1},{j + 1}) != d({j + 1},{i + 1}) (TYPE TSP)",
                lines[i * n + j],
            )
    else:  # one triangle (and perhaps the diagonal) was listed: mirror it
        matrix = matrix + matrix.T - np.diag(np.diag(matrix))
    return matrix


def read_problem(path: Path) -> TsplibFile:
    """Read a symmetric TSP file; raises :class:`InputFileError` naming the file and line."""
    path = Path(path)
    header, sections = _scan(path)
    _check_type(path, header, ("TSP",))
    dimension = _dimension(path, header)
    if "EDGE_WEIGHT_TYPE" not in header:
        raise InputFileError(path, "missing EDGE_WEIGHT_TYPE")
    kind = header["EDGE_WEIGHT_TYPE"][0]
    fmt = header.get("EDGE_WEIGHT_FORMAT", (None, None))[0]
    coords = None
    if "NODE_COORD_SECTION" in sections:
        coords = _node_table(path, sections["NODE_COORD_SECTION"], dimension, "NODE_COORD_SECTION")
    if kind == "EXPLICIT":
        if fmt is None or fmt == "FUNCTION":
            raise InputFileError(
                path, "EDGE_WEIGHT_TYPE EXPLICIT needs an EDGE_WEIGHT_FORMAT other than FUNCTION",
                header["EDGE_WEIGHT_TYPE"][1],
            )
        if "EDGE_WEIGHT_SECTION" not in sections:
            raise InputFileError(
                path, "missing EDGE_WEIGHT_SECTION (EDGE_WEIGHT_TYPE EXPLICIT)", header["EDGE_WEIGHT_TYPE"][1]
            )
        distances = _explicit(path, sections["EDGE_WEIGHT_SECTION"], header, dimension, fmt)
    else:
        if coords is None:
            raise InputFileError(
                path, f"missing NODE_COORD_SECTION (EDGE_WEIGHT_TYPE {kind})", header["EDGE_WEIGHT_TYPE"][1]
            )
        _check_matrix_memory(path, header, dimension)
        distances = DISTANCE_FUNCTIONS[kind](coords)
    display = None
    if "DISPLAY_DATA_SECTION" in sections:
        display = _node_table(path, sections["DISPLAY_DATA_SECTION"], dimension, "DISPLAY_DATA_SECTION")
    return TsplibFile(
        path=path,
        name=header.get("NAME", (path.stem, 0))[0],
        comment=header.get("COMMENT", ("", 0))[0],
        dimension=dimension,
        edge_weight_type=kind,
        edge_weight_format=fmt,
        coords=coords,
        display=display,
        distances=np.asarray(distances, dtype=float),
    )


def read_tour(path: Path, dimension: int | None = None) -> np.ndarray:
    """The tour of a TSPLIB ``.tour`` file as 0-based city indices in visiting order.

    ``TOUR_SECTION`` lists 1-based nodes, ended by ``-1``; the tour must visit each of the
    ``dimension`` cities once (the file's DIMENSION, which must agree with ``dimension`` if given).
    """
    path = Path(path)
    header, sections = _scan(path)
    _check_type(path, header, ("TOUR",))
    if "DIMENSION" in header:
        declared = _dimension(path, header)
        if dimension is not None and declared != dimension:
            raise InputFileError(
                path, f"DIMENSION {declared} does not match the instance's {dimension} cities",
                header["DIMENSION"][1],
            )
        dimension = declared
    if "TOUR_SECTION" not in sections:
        raise InputFileError(path, "missing TOUR_SECTION")
    section = sections["TOUR_SECTION"]
    nodes: list[int] = []
    visited: set[int] = set()
    ended = False
    for line, tokens in section.rows:
        for token in tokens:
            if ended:
                raise InputFileError(path, f"TOUR_SECTION: data after the -1 terminator: {token!r}", line)
            value = parse_number(path, token, line, "TOUR_SECTION")
            if value == -1:
                ended = True
                continue
            if not value.is_integer() or value < 1 or (dimension is not None and value > dimension):
                raise InputFileError(path, f"TOUR_SECTION: not a node number in 1..{dimension}: {token}", line)
            if int(value) - 1 in visited:
                raise InputFileError(path, f"TOUR_SECTION: node {int(value)} visited twice", line)
            nodes.append(int(value) - 1)
            visited.add(int(value) - 1)
    if not ended:
        raise InputFileError(path, "TOUR_SECTION: missing the -1 terminator", section.line)
    if dimension is not None and len(nodes) != dimension:
        raise InputFileError(
            path, f"TOUR_SECTION visits {len(nodes)} nodes, DIMENSION is {dimension}", section.line
        )
    return np.array(nodes, dtype=int)
