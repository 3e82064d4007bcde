"""TSPLIB reader: each distance rule against hand-computed values, every explicit format, the
shipped files, and malformed files (named by file and line)."""

import numpy as np
import pytest

from qbench.problems import tsplib
from qbench.errors import InputFileError

# Hand-computed (TSPLIB 95, section 2.1-2.5):
# EUC_2D: |(0,0)-(3,4)| = 5; |(0,0)-(1,1)| = 1.414 -> 1; |(0,0)-(2.5,0)| = 2.5 -> nint 3;
#         |(1,1)-(2.5,0)| = 1.803 -> 2.  CEIL_2D: 1.414 -> 2, 1.803 -> 2, 4.03 -> 5.
# ATT: (0,0)-(10,0): sqrt(100/10) = 3.162, nint 3 < r -> 4; (0,0)-(30,40): sqrt(250) = 15.81,
#      nint 16 >= r -> 16; (0,0)-(10,30): sqrt(100) = 10 -> 10; (10,0)-(30,40): sqrt(200) = 14.14 -> 15.
# GEO on the equator, q2 = q3 = 1, so d = int(RRR * dlon + 1) with dlon in radians:
#      1 degree: 6378.388 * 3.141592 / 180 = 111.32 -> 112; "1.50" = 1 deg 50 min = 1.8333 deg:
#      204.09 -> 205 (reading degrees with nint would give 1.1667 deg -> 130); "0.30" = 0.5 deg:
#      55.66 -> 56.
POINTS = np.array([[0, 0], [3, 4], [1, 1], [2.5, 0]])
EXPECTED = {
    "EUC_2D": (POINTS, {(0, 1): 5, (0, 2): 1, (0, 3): 3, (2, 3): 2, (1, 3): 4}),
    "CEIL_2D": (POINTS, {(0, 1): 5, (0, 2): 2, (2, 3): 2, (1, 3): 5}),
    "ATT": (np.array([[0, 0], [10, 0], [30, 40], [10, 30]]), {(0, 1): 4, (0, 2): 16, (0, 3): 10, (1, 2): 15}),
    "GEO": (np.array([[0, 0], [0, 1.0], [0, 1.50], [0, 0.30]]), {(0, 1): 112, (0, 2): 205, (0, 3): 56}),
}


def write(tmp_path, text, name="t.tsp"):
    path = tmp_path / name
    path.write_text(text)
    return path


def coord_file(kind, points, extra=""):
    nodes = "\n".join(f"{k + 1} {x} {y}" for k, (x, y) in enumerate(points))
    return (
        f"NAME : t\nTYPE : TSP\nCOMMENT : hand made\nDIMENSION : {len(points)}\n"
        f"EDGE_WEIGHT_TYPE : {kind}\n{extra}NODE_COORD_SECTION\n{nodes}\nEOF\n"
    )


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_distance_rules_match_hand_computed_values(tmp_path, kind):
    points, expected = EXPECTED[kind]
    d = tsplib.read_problem(write(tmp_path, coord_file(kind, points))).distances
    assert np.array_equal(d, d.T) and np.all(np.diag(d) == 0)
    for (i, j), value in expected.items():
        assert d[i, j] == value, (kind, i, j)


MATRIX = np.array([[0, 3, 5, 9], [3, 0, 4, 7], [5, 4, 0, 2], [9, 7, 2, 0]])


def listing(fmt, m):
    """The numbers of ``m`` in the order TSPLIB's format ``fmt`` lists them (from its definition)."""
    n = len(m)
    rows = {
        "FULL_MATRIX": [(i, j) for i in range(n) for j in range(n)],
        "UPPER_ROW": [(i, j) for i in range(n) for j in range(i + 1, n)],
        "LOWER_ROW": [(i, j) for i in range(n) for j in range(i)],
        "UPPER_DIAG_ROW": [(i, j) for i in range(n) for j in range(i, n)],
        "LOWER_DIAG_ROW": [(i, j) for i in range(n) for j in range(i + 1)],
        # column-wise: column j top to bottom
        "UPPER_COL": [(i, j) for j in range(n) for i in range(j)],
        "LOWER_COL": [(i, j) for j in range(n) for i in range(j + 1, n)],
        "UPPER_DIAG_COL": [(i, j) for j in range(n) for i in range(j + 1)],
        "LOWER_DIAG_COL": [(i, j) for j in range(n) for i in range(j, n)],
    }[fmt]
    return [int(m[c]) for c in rows]


@pytest.mark.parametrize("fmt", sorted(tsplib.MATRIX_FORMATS))
def test_explicit_formats(tmp_path, fmt):
    numbers = listing(fmt, MATRIX)
    # spread the numbers unevenly over lines, as real files do
    body = "\n".join(" ".join(map(str, numbers[k:k + 3])) for k in range(0, len(numbers), 3))
    text = f"NAME: m\nTYPE: TSP\nDIMENSION: 4\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: {fmt}\nEDGE_WEIGHT_SECTION\n{body}\nEOF\n"
    assert np.array_equal(tsplib.read_problem(write(tmp_path, text)).distances, MATRIX)


def test_display_data_is_read(tmp_path):
    numbers = " ".join(map(str, listing("UPPER_ROW", MATRIX)))
    text = (
        "NAME: m\nTYPE: TSP\nDIMENSION: 4\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: UPPER_ROW\n"
        "DISPLAY_DATA_TYPE: TWOD_DISPLAY\nEDGE_WEIGHT_SECTION\n" + numbers + "\nDISPLAY_DATA_SECTION\n"
        "1 0 0\n2 1 0\n3 1 1\n4 0 1\nEOF\n"
    )
    data = tsplib.read_problem(write(tmp_path, text))
    assert data.display.tolist() == [[0, 0], [1, 0], [1, 1], [0, 1]] and data.coords is None


def tour_length(d, tour):
    return int(sum(d[tour[k], tour[(k + 1) % len(tour)]] for k in range(len(tour))))


def test_shipped_files(instances_dir):
    tsp = instances_dir / "tsp"
    burma = tsplib.read_problem(tsp / "burma14.tsp")
    assert (burma.name, burma.dimension, burma.edge_weight_type) == ("burma14", 14, "GEO")
    # cities 1 (16.47, 96.10) and 2 (16.47, 94.44): same latitude 16 deg 47 min, longitudes
    # 96 deg 10 min and 94 deg 44 min, 1.4333 deg apart: the GEO rule gives 153 km.
    assert burma.distances[0, 1] == 153
    gr17 = tsplib.read_problem(tsp / "gr17.tsp")
    assert (gr17.edge_weight_type, gr17.edge_weight_format, gr17.coords) == ("EXPLICIT", "LOWER_DIAG_ROW", None)
    # the file starts "0 633 0 257 390 0 91 661 228 0" and ends "... 153 336 0"
    assert [gr17.distances[1, 0], gr17.distances[2, 0], gr17.distances[2, 1], gr17.distances[3, 2]] == [633, 257, 390, 228]
    assert gr17.distances[16, 15] == 336 and gr17.distances[15, 16] == 336
    assert np.array_equal(gr17.distances, gr17.distances.T)
    for name, optimum in (("ulysses16", 6859), ("ulysses22", 7013)):
        data = tsplib.read_problem(tsp / f"{name}.tsp")
        tour = tsplib.read_tour(tsp / f"{name}.opt.tour", data.dimension)
        assert sorted(tour.tolist()) == list(range(data.dimension))
        assert tour_length(data.distances, tour) == optimum


GOOD = coord_file("EUC_2D", POINTS)


def assert_file_error(read, path, line, message):
    """``read(path)`` fails with one line starting ``PATH:LINE: `` and holding ``message``."""
    with pytest.raises(InputFileError) as info:
        read(path)
    text = str(info.value)
    assert text.startswith(f"{path}:{line}: ") and message in text and "\n" not in text


@pytest.mark.parametrize("text,line,message", [
    (GOOD.replace("COMMENT", "COLOUR"), 3, "unknown or unsupported keyword 'COLOUR'"),
    (GOOD.replace("EUC_2D", "EUC_9D"), 5, "unsupported EDGE_WEIGHT_TYPE 'EUC_9D'; supported: EUC_2D"),
    (GOOD.replace("TYPE : TSP", "TYPE : ATSP"), 2, "unsupported TYPE 'ATSP'; supported: TSP"),
    (GOOD.replace("DIMENSION : 4", "DIMENSION : 5"), 6, "NODE_COORD_SECTION has 4 nodes, DIMENSION is 5"),
    (GOOD.replace("DIMENSION : 4", "DIMENSION : four"), 4, "DIMENSION: expected an integer, got 'four'"),
    (GOOD.replace("DIMENSION : 4", "DIMENSION : 2"), 4, "a tour needs at least 3 cities"),
    (GOOD.replace("3 1.0 1.0", "3 1.0 x"), 9, "NODE_COORD_SECTION coordinate: expected a number, got 'x'"),
    (GOOD.replace("3 1.0 1.0", "3 1.0"), 9, "expected 'node x y', got 2 values"),
    (GOOD.replace("3 1.0 1.0", "2 1.0 1.0"), 9, "node 2 appears twice"),
    (GOOD.replace("3 1.0 1.0", "7 1.0 1.0"), 9, "node number must be in 1..4, got 7"),
    (GOOD.replace("NODE_COORD_SECTION", "NODE_COORD_SECTION\n1 0 0\nNODE_COORD_SECTION"), 8, "NODE_COORD_SECTION appears twice"),
    ("NAME: m\nTYPE: TSP\nDIMENSION: 4\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: UPPER_ROW\n"
     "EDGE_WEIGHT_SECTION\n3 5 9\n4 7\nEOF\n", 6, "EDGE_WEIGHT_SECTION holds 5 numbers; UPPER_ROW of DIMENSION 4 needs 6"),
    ("NAME: m\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: FULL_MATRIX\n"
     "EDGE_WEIGHT_SECTION\n0 1 2\n1 0 3\n2 4 0\nEOF\n", 8, "FULL_MATRIX is not symmetric: d(2,3) != d(3,2)"),
    ("NAME: m\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: UPPER_ROW\n"
     "EDGE_WEIGHT_SECTION\n1 2 z\nEOF\n", 7, "EDGE_WEIGHT_SECTION: expected a number, got 'z'"),
    ("NAME: m\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\nEOF\n", 4,
     "EDGE_WEIGHT_TYPE EXPLICIT needs an EDGE_WEIGHT_FORMAT"),
])
def test_malformed_files_name_file_and_line(tmp_path, text, line, message):
    assert_file_error(tsplib.read_problem, write(tmp_path, text), line, message)


@pytest.mark.parametrize("text,line,message", [
    (GOOD.split("NODE_COORD_SECTION")[0], 5, "missing NODE_COORD_SECTION (EDGE_WEIGHT_TYPE EUC_2D)"),
    (GOOD.replace("DIMENSION : 4\n", ""), None, "missing DIMENSION"),
    ("NAME: m\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\nEDGE_WEIGHT_FORMAT: UPPER_ROW\nEOF\n",
     4, "missing EDGE_WEIGHT_SECTION"),
])
def test_missing_parts_name_the_file(tmp_path, text, line, message):
    """A missing section is reported at the header line that calls for it."""
    path = write(tmp_path, text)
    with pytest.raises(InputFileError) as info:
        tsplib.read_problem(path)
    where = f"{path}:{line}" if line else f"{path}"
    assert str(info.value).startswith(f"{where}: {message}")


TOUR = "NAME : t.tour\nTYPE : TOUR\nDIMENSION : 4\nTOUR_SECTION\n1 3\n2 4\n-1\nEOF\n"


def test_tour_reading_across_lines(tmp_path):
    assert tsplib.read_tour(write(tmp_path, TOUR, "t.tour")).tolist() == [0, 2, 1, 3]


@pytest.mark.parametrize("text,line,message", [
    (TOUR.replace("-1\n", ""), 4, "missing the -1 terminator"),
    (TOUR.replace("2 4", "2 3"), 6, "node 3 visited twice"),
    (TOUR.replace("2 4", "2"), 4, "TOUR_SECTION visits 3 nodes, DIMENSION is 4"),
    (TOUR.replace("2 4", "2 5"), 6, "not a node number in 1..4: 5"),
    (TOUR.replace("-1\n", "-1 2\n"), 7, "data after the -1 terminator"),
    (TOUR.replace("TYPE : TOUR", "TYPE : TSP"), 2, "unsupported TYPE 'TSP'; supported: TOUR"),
])
def test_malformed_tours_name_file_and_line(tmp_path, text, line, message):
    assert_file_error(tsplib.read_tour, write(tmp_path, text, "t.tour"), line, message)


def test_tour_dimension_must_match_the_instance(tmp_path):
    path = write(tmp_path, TOUR, "t.tour")
    with pytest.raises(InputFileError, match=r":3: DIMENSION 4 does not match the instance's 5 cities"):
        tsplib.read_tour(path, 5)
