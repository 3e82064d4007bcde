"""Plots: gap vs qubits, feasibility by method, time vs instance size (log), qubit savings of
slack-free methods against the penalty QUBO, and optimizer convergence traces of chosen runs.

Interactive Altair charts (Altair ships with Streamlit). Aggregates come from
:mod:`qbench.report` (feasibility from its summary table, qubit counts from its qubits table);
the ``*_data`` functions here only reshape them, and are tested directly.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from qbench import report
from qbench.dashboard import data as tables

#: The formulation whose QUBO is the baseline of the qubit savings (slack qubits included).
BASELINE = "penalty"


def savings_data(frame: pd.DataFrame) -> pd.DataFrame:
    """Per problem x instance x method: qubits it needs (qubits used; a classical solver: its
    QUBO's variables), the penalty QUBO's size on the same instance, and the saving.

    Only instances with a penalty-QUBO baseline, and only methods that need fewer qubits than
    the baseline (the slack-free ones: dual methods, unbalanced penalization, ...).
    """
    qubits = report.qubits_table(frame)
    if qubits.empty:
        return pd.DataFrame(columns=["problem", "instance", "method", "formulation", "qubits",
                                     "penalty_qubo", "saving", "saving_rate"])
    qubits = qubits.assign(needed=qubits["qubits"].fillna(qubits["qubo_variables"]))
    baseline = (qubits[qubits["formulation"] == BASELINE].groupby(["problem", "instance"])["qubo_variables"]
                .median().rename("penalty_qubo"))
    rows = qubits.join(baseline, on=["problem", "instance"], how="inner")
    rows = rows[rows["needed"] < rows["penalty_qubo"]]
    rows = rows.assign(qubits=rows["needed"], saving=rows["penalty_qubo"] - rows["needed"])
    rows["saving_rate"] = rows["saving"] / rows["penalty_qubo"]
    return rows[["problem", "instance", "method", "formulation", "qubits", "penalty_qubo", "saving",
                 "saving_rate"]].reset_index(drop=True)


def trace_data(frame: pd.DataFrame, labels: dict[str, object]) -> pd.DataFrame:
    """Long table (run, evaluation, value) of the optimizer traces of the rows ``labels``
    (label -> index, as :func:`qbench.dashboard.data.run_labels` makes them)."""
    rows = []
    for label, index in labels.items():
        trace = frame.at[index, "trace"]
        if trace is None or len(trace) == 0:
            continue
        rows.extend({"run": label, "evaluation": i, "value": float(v)} for i, v in enumerate(trace, 1))
    return pd.DataFrame(rows, columns=["run", "evaluation", "value"])


def _log_scale(values: pd.Series) -> alt.Scale:
    """A log scale just around the data (Vega's default rounding can cut points off)."""
    if values.empty:
        return alt.Scale(type="log")
    return alt.Scale(type="log", domain=[float(values.min()) / 1.5, float(values.max()) * 1.5], nice=False)


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] == "ok"]


def render(frame: pd.DataFrame) -> None:
    ok = _ok(frame)
    left, right = st.columns(2)
    with left:
        st.subheader("Gap vs qubits")
        data = ok.dropna(subset=["qubits", "gap"])
        if data.empty:
            st.info("No feasible run with qubits (quantum methods) and a gap in the selection.")
        else:
            st.altair_chart(alt.Chart(data).mark_circle(size=80).encode(
                x=alt.X("qubits:Q", scale=alt.Scale(padding=12)),
                y=alt.Y("gap:Q", axis=alt.Axis(format="%"), title="optimality gap", scale=alt.Scale(padding=12)),
                color="method:N", shape="problem:N",
                tooltip=["problem", "instance", "method", "seed", "qubits", alt.Tooltip("gap:Q", format=".2%")],
            ).interactive(), width="stretch")
    with right:
        st.subheader("Feasibility by method")
        summary = report.summary_table(frame)
        summary = summary.assign(row=summary["problem"] + " · " + summary["method"])
        st.altair_chart(alt.Chart(summary).mark_bar().encode(
            y=alt.Y("row:N", title=None, sort=None),
            x=alt.X("feasible_rate:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]),
                    title="feasible runs"),
            color="problem:N",
            tooltip=["problem", "method", "runs", alt.Tooltip("feasible_rate:Q", format=".1%")],
        ), width="stretch")
    left, right = st.columns(2)
    with left:
        st.subheader("Time vs instance size")
        data = ok.dropna(subset=["variables", "time_total"])
        data = data[(data["time_total"] > 0) & (data["variables"] > 0)]
        st.altair_chart(alt.Chart(data).mark_circle(size=70).encode(
            x=alt.X("variables:Q", scale=_log_scale(data["variables"]), title="instance size (binary variables)"),
            y=alt.Y("time_total:Q", scale=_log_scale(data["time_total"]), title="wall time [s]"),
            color="method:N", shape="problem:N",
            tooltip=["problem", "instance", "method", "seed", "variables", "time_total"],
        ).interactive(), width="stretch")
    with right:
        st.subheader("Qubit savings vs penalty QUBO")
        savings = savings_data(frame)
        if savings.empty:
            st.info("No slack-free run (fewer qubits than the penalty QUBO of the same instance, "
                    "with a penalty-formulation run on it) in the selection.")
        else:
            st.altair_chart(alt.Chart(savings).mark_bar().encode(
                x=alt.X("saving_rate:Q", axis=alt.Axis(format="%"), title="qubits saved vs penalty QUBO"),
                y=alt.Y("method:N", title=None), color="problem:N",
                tooltip=["problem", "instance", "method", "qubits", "penalty_qubo", "saving",
                         alt.Tooltip("saving_rate:Q", format=".1%")],
            ), width="stretch")
            st.dataframe(savings, hide_index=True, key="savings_table")
    st.subheader("Convergence traces")
    traced = ok[ok["trace"].map(lambda t: t is not None and len(t) > 0)]
    if traced.empty:
        st.info("No run in the selection recorded an optimizer trace.")
        return
    labels = tables.run_labels(traced)
    chosen = st.multiselect("runs", list(labels), default=list(labels)[: min(3, len(labels))],
                            key="trace_runs")
    traces = trace_data(traced, {c: labels[c] for c in chosen})
    if traces.empty:
        st.info("Choose runs to compare their traces.")
        return
    st.altair_chart(alt.Chart(traces).mark_line().encode(
        x=alt.X("evaluation:Q", title="optimizer evaluation"),
        y=alt.Y("value:Q", title="objective (solver's cost)", scale=alt.Scale(zero=False)),
        color=alt.Color("run:N", legend=alt.Legend(orient="bottom", columns=1)),
        tooltip=["run", "evaluation", "value"],
    ).interactive(), width="stretch")

