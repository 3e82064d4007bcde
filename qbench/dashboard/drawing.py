"""A run's solution drawn in its problem's own terms (Altair charts, which Streamlit renders).

One drawer per problem kind: knapsack load vs capacity and the items chosen (mdkp), the set on
the graph (mis), the permutation matrix (qap), the tour on the city map (tsp; an edge-model
answer that is no tour: its edges on the map), the bit width per layer (bitalloc), the residual
per product (msp). Each returns a :class:`Drawing`: the chart, a caption, and the table the chart
shows (so tests check numbers, not pixels).

The instance is rebuilt from the record's ``config.problem`` through
:func:`qbench.registry.build_problem` (the one way instances are made) and compared with the
record's ``instance_hash``; anything that prevents drawing becomes a note, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import altair as alt
import networkx as nx
import numpy as np
import pandas as pd

from qbench.errors import QbenchError
from qbench.problem import Problem


@dataclass(frozen=True)
class Drawing:
    chart: alt.TopLevelMixin
    caption: str
    data: pd.DataFrame


@dataclass(frozen=True)
class Rebuilt:
    """The instance of a record, or why it could not be rebuilt (``problem`` is then None)."""

    problem: Problem | None
    note: str | None = None


def rebuild(problem_config: dict[str, Any] | None, instance_hash: str | None) -> Rebuilt:
    """Rebuild the instance a record describes; a note when impossible or when it has changed."""
    from qbench import registry

    if not problem_config:
        return Rebuilt(None, "the record has no problem config, so its instance cannot be rebuilt")
    try:
        problem = registry.build_problem(problem_config)
    except QbenchError as exc:
        return Rebuilt(None, f"cannot rebuild the instance: {exc}")
    except Exception as exc:  # a problem class that is not importable here, a changed schema
        return Rebuilt(None, f"cannot rebuild the instance: {type(exc).__name__}: {exc}")
    if instance_hash and problem.content_hash() != instance_hash:
        return Rebuilt(None, "the instance rebuilt from the config differs from the one the run "
                             f"used (hash {problem.content_hash()[:12]} != {instance_hash[:12]}): "
                             "the instance file or generator has changed since")
    return Rebuilt(problem)


def draw(problem: Problem, solution: list[int] | np.ndarray) -> Drawing | str:
    """The drawing of ``solution`` on ``problem``, or a note saying why there is none."""
    drawer = _DRAWERS.get(problem.kind)
    if drawer is None:
        return f"no drawing for problem kind {problem.kind!r} yet"
    x = np.asarray(solution, dtype=float)
    expected = problem.size()["variables"]
    if x.shape != (expected,):
        return f"the solution has {x.size} values but the instance has {expected} variables"
    return drawer(problem, x)


# --- drawers -------------------------------------------------------------------------------------
def _knapsack(problem, x: np.ndarray) -> Drawing:
    load = problem.weights @ x
    constraints = pd.DataFrame({
        "constraint": [f"capacity[{i}]" for i in range(problem.n_constraints)],
        "load": load, "capacity": problem.capacities,
        "state": np.where(load > problem.capacities + 1e-9, "over capacity", "within capacity"),
    })
    items = pd.DataFrame({
        "item": list(range(problem.n_items)), "profit": problem.profits,
        "chosen": np.where(x > 0.5, "chosen", "left out"),
    })
    bars = alt.Chart(constraints).mark_bar().encode(
        x=alt.X("constraint:N", title=None), y=alt.Y("load:Q", title="load (W x)"),
        color=alt.Color("state:N", scale=alt.Scale(domain=["within capacity", "over capacity"],
                                                   range=["#4c78a8", "#e45756"]), legend=alt.Legend(title="load")),
        tooltip=["constraint", "load", "capacity"],
    )
    caps = alt.Chart(constraints).mark_tick(color="black", thickness=3, size=30).encode(
        x="constraint:N", y="capacity:Q")
    chosen = alt.Chart(items).mark_bar().encode(
        x=alt.X("item:O"), y=alt.Y("profit:Q"),
        color=alt.Color("chosen:N", scale=alt.Scale(domain=["chosen", "left out"], range=["#54a24b", "#bab0ac"])),
        tooltip=["item", "profit", "chosen"],
    ).properties(title="items")
    chart = alt.hconcat((bars + caps).properties(title="load vs capacity (tick)"), chosen).resolve_scale(
        color="independent")
    caption = (f"{int((x > 0.5).sum())} of {problem.n_items} items chosen, profit "
               f"{float(problem.profits @ x):g}; load / capacity: "
               + ", ".join(f"{a:g}/{b:g}" for a, b in zip(load, problem.capacities)))
    return Drawing(chart, caption, constraints)


def _independent_set(problem, x: np.ndarray) -> Drawing:
    graph = problem.graph()
    # Deterministic layout: the same run always looks the same.
    pos = nx.spring_layout(graph, seed=0)
    chosen = x > 0.5
    nodes = pd.DataFrame({
        "vertex": list(range(problem.n_vertices)),
        "x": [pos[v][0] for v in range(problem.n_vertices)],
        "y": [pos[v][1] for v in range(problem.n_vertices)],
        "in_set": np.where(chosen, "in set", "not in set"),
    })
    edges = pd.DataFrame([
        {"x": pos[u][0], "y": pos[u][1], "x2": pos[v][0], "y2": pos[v][1],
         "edge": "inside the set" if chosen[u] and chosen[v] else "edge"}
        for u, v in problem.edges
    ], columns=["x", "y", "x2", "y2", "edge"])
    lines = alt.Chart(edges).mark_rule(strokeWidth=2).encode(
        x=alt.X("x:Q", axis=None, scale=alt.Scale(zero=False, padding=16)),
        y=alt.Y("y:Q", axis=None, scale=alt.Scale(zero=False, padding=16)), x2="x2", y2="y2",
        color=alt.Color("edge:N", scale=alt.Scale(domain=["edge", "inside the set"], range=["#9d9d9d", "#e45756"]),
                        legend=alt.Legend(title="edges")),
    )
    points = alt.Chart(nodes).mark_circle(size=160, opacity=1).encode(
        x="x:Q", y="y:Q",
        fill=alt.Fill("in_set:N", scale=alt.Scale(domain=["in set", "not in set"], range=["#54a24b", "#eeeeee"])),
        stroke=alt.value("black"), tooltip=["vertex", "in_set"],
    )
    conflicts = int((edges["edge"] == "inside the set").sum())
    caption = (f"{int(chosen.sum())} of {problem.n_vertices} vertices in the set"
               + (f", {conflicts} edges inside it (infeasible)" if conflicts else ", independent"))
    chart = (lines + points).resolve_scale(color="independent").properties(width=420, height=420)
    return Drawing(chart, caption, nodes)


def _matrix_frame(matrix: np.ndarray, row: str, col: str) -> pd.DataFrame:
    n = matrix.shape[0]
    return pd.DataFrame([{row: i, col: p, "value": int(round(matrix[i, p]))}
                         for i in range(n) for p in range(matrix.shape[1])])


def _heatmap(frame: pd.DataFrame, row: str, col: str) -> alt.Chart:
    return alt.Chart(frame).mark_rect(stroke="white").encode(
        x=alt.X(f"{col}:O"), y=alt.Y(f"{row}:O"),
        color=alt.Color("value:O", scale=alt.Scale(domain=[0, 1], range=["#eeeeee", "#4c78a8"]), legend=None),
        tooltip=[row, col, "value"],
    ).properties(width=300, height=300)


def _permutation(problem, x: np.ndarray) -> Drawing:
    matrix = problem.layout.matrix(x)
    frame = _matrix_frame(matrix, "facility", "location")
    perm = problem.layout.permutation(x)
    if perm is None:
        caption = f"not a permutation matrix (row/column violation {problem.layout.violation(x):g})"
    else:
        caption = "facility -> location: " + ", ".join(f"{i}->{p}" for i, p in enumerate(perm))
    return Drawing(_heatmap(frame, "facility", "location"), caption, frame)


def city_positions(problem) -> tuple[np.ndarray, str]:
    """City coordinates when the instance has them, else a classical-MDS embedding of its
    distance matrix (exact for Euclidean distances up to rotation and reflection).

    Written with numpy (double centring and an eigendecomposition, a few lines) rather than
    scikit-learn's MDS, which is iterative SMACOF and not a dependency of qbench.
    """
    coords = problem.coordinates
    if coords is not None:
        return np.asarray(coords, dtype=float), "city coordinates"
    d2 = np.asarray(problem.distances, dtype=float) ** 2
    n = d2.shape[0]
    centre = np.eye(n) - np.ones((n, n)) / n
    values, vectors = np.linalg.eigh(-0.5 * centre @ d2 @ centre)
    top = np.argsort(values)[::-1][:2]
    return vectors[:, top] * np.sqrt(np.maximum(values[top], 0.0)), \
        "positions reconstructed from the distance matrix (classical MDS)"


def _map_scales(xy: np.ndarray) -> tuple[alt.Scale, alt.Scale]:
    """One scale for both axes, so distances on screen are true to the map."""
    low, high = xy.min(axis=0), xy.max(axis=0)
    half = max(float((high - low).max()) / 2, 1e-9) * 1.1
    mid = (low + high) / 2
    return (alt.Scale(domain=[mid[0] - half, mid[0] + half]), alt.Scale(domain=[mid[1] - half, mid[1] + half]))


def _tour(problem, x: np.ndarray) -> Drawing:
    """The tour on the map; an answer that is no tour: the city x step matrix (position model)
    or the chosen edges on the map (edge model)."""
    tour = problem.tour(x)
    if tour is None and problem.model == "edge":
        return _edges(problem, x)
    if tour is None:
        frame = _matrix_frame(problem.layout.matrix(x), "city", "step")
        caption = f"not a tour: the city x step matrix breaks a row or column (violation {problem.layout.violation(x):g})"
        return Drawing(_heatmap(frame, "city", "step"), caption, frame)
    xy, where = city_positions(problem)
    order = list(tour) + [tour[0]]
    path = pd.DataFrame({"order": range(len(order)), "city": order,
                         "x": xy[order, 0], "y": xy[order, 1]})
    sx, sy = _map_scales(xy)
    line = alt.Chart(path).mark_line(point=False, color="#4c78a8").encode(
        x=alt.X("x:Q", axis=None, scale=sx), y=alt.Y("y:Q", axis=None, scale=sy), order="order:Q")
    points = alt.Chart(path.iloc[:-1]).mark_circle(size=120, color="#e45756", opacity=1).encode(
        x="x:Q", y="y:Q", tooltip=["city", "order"])
    labels = points.mark_text(dy=-12).encode(text="city:N")
    caption = (f"tour {' -> '.join(map(str, order))}, length {problem.tour_length(tour):g} ({where})")
    return Drawing((line + points + labels).properties(width=400, height=400), caption, path)


def _edges(problem, x: np.ndarray) -> Drawing:
    """The chosen edges of an edge-model answer that is no tour, on the map."""
    xy, where = city_positions(problem)
    chosen = problem.layout.chosen(x)
    frame = pd.DataFrame([{"edge": f"{i}-{j}", "city": c, "x": xy[c, 0], "y": xy[c, 1]}
                          for i, j in chosen for c in (i, j)], columns=["edge", "city", "x", "y"])
    cities = pd.DataFrame({"city": range(problem.n), "x": xy[:, 0], "y": xy[:, 1],
                           "degree": problem.layout.degrees(x)})
    sx, sy = _map_scales(xy)
    lines = alt.Chart(frame).mark_line(color="#4c78a8").encode(
        x=alt.X("x:Q", axis=None, scale=sx), y=alt.Y("y:Q", axis=None, scale=sy), detail="edge:N")
    points = alt.Chart(cities).mark_circle(size=120, opacity=1).encode(
        x=alt.X("x:Q", axis=None, scale=sx), y=alt.Y("y:Q", axis=None, scale=sy),
        color=alt.condition("datum.degree == 2", alt.value("#e45756"), alt.value("#999999")),
        tooltip=["city", "degree"])
    labels = points.mark_text(dy=-12).encode(text="city:N")
    pieces = int(problem.layout.components(x).max()) + 1
    off = int((cities["degree"] != 2).sum())
    caption = (f"not a tour: {len(chosen)} edges chosen, {off} cities without degree 2, "
               f"{pieces} components (violation {problem.layout.violation(x):g}; {where})")
    return Drawing((lines + points + labels).properties(width=400, height=400), caption, cities)


def _bit_widths(problem, x: np.ndarray) -> Drawing:
    widths = problem.bit_widths(x)
    frame = pd.DataFrame({"layer": list(range(problem.n_layers)),
                          "bits": [w if w is not None else 0 for w in widths],
                          "valid": ["one width" if w is not None else "broken" for w in widths]})
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("layer:O"), y=alt.Y("bits:Q", title="bit width", scale=alt.Scale(domain=[0, max(problem.widths)])),
        color=alt.Color("valid:N", scale=alt.Scale(domain=["one width", "broken"], range=["#4c78a8", "#e45756"]),
                        legend=alt.Legend(title="layer")),
        tooltip=["layer", "bits", "valid"],
    ).properties(width=min(900, max(240, 24 * problem.n_layers)))
    cost = sum(problem.cost[i, problem.widths.index(w)] for i, w in enumerate(widths) if w is not None)
    broken = sum(w is None for w in widths)
    caption = (f"bit widths per layer {widths}; cost {cost:g} of budget {problem.budget:g}"
               + (f"; {broken} layers without exactly one width" if broken else ""))
    return Drawing(chart, caption, frame)


def _market_split(problem, x: np.ndarray) -> Drawing:
    residual = problem.residual(x)
    frame = pd.DataFrame({"product": list(range(problem.n_products)),
                          "residual": residual.astype(float)})
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("product:O"), y=alt.Y("residual:Q", title="A x - b"), tooltip=["product", "residual"],
    ).properties(width=min(600, max(200, 40 * problem.n_products)))
    caption = (f"{int((x > 0.5).sum())} of {problem.n_retailers} retailers in the first market; "
               f"total |A x - b| = {float(np.abs(residual).sum()):g}")
    return Drawing(chart, caption, frame)


_DRAWERS: dict[str, Callable[[Any, np.ndarray], Drawing]] = {
    "mdkp": _knapsack, "mis": _independent_set, "qap": _permutation, "tsp": _tour,
    "bitalloc": _bit_widths, "msp": _market_split,
}
