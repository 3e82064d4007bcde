"""Run detail: one run's outcome, its solution drawn in the problem's terms, its optimizer trace,
its config and its whole record."""

from __future__ import annotations

import dataclasses
import json

import altair as alt
import pandas as pd
import streamlit as st

from qbench.dashboard import data, drawing
from qbench.dashboard.plots import trace_data
from qbench.records import RunRecord, read_record
from qbench.solver_info import SolverInfo
from qbench.summary import format_summary


@st.cache_resource(max_entries=32, show_spinner="Rebuilding the instance...")
def _rebuild(problem_json: str, instance_hash: str | None) -> drawing.Rebuilt:
    """Instances are rebuilt once per (config, hash) and kept: loading QAPLIB/TSPLIB files or a
    SCIP-free generator is cheap, but not on every rerun of the page."""
    return drawing.rebuild(json.loads(problem_json), instance_hash)


def _record(path: str) -> RunRecord | str:
    try:
        return read_record(path)
    except (OSError, ValueError, TypeError) as exc:
        return f"cannot read {path}: {exc}"


def render(frame: pd.DataFrame) -> None:
    labels = data.run_labels(frame.sort_values(["problem", "instance", "method", "seed"]))
    choice = st.selectbox("run", list(labels), key="detail_run")
    run = frame.loc[labels[choice]]
    record = _record(run["record_path"])
    if isinstance(record, str):
        st.error(record)
        return
    if record.status != "ok":
        st.error(f"status {record.status}: {record.error}")
        if record.error_traceback:
            with st.expander("traceback"):
                st.code(record.error_traceback, language=None)
    else:
        st.code(format_summary(record), language=None)
        _solution(record)
    trace = trace_data(frame, {choice: labels[choice]})
    if not trace.empty:
        st.subheader("Optimizer trace")
        st.altair_chart(alt.Chart(trace).mark_line(point=True).encode(
            x=alt.X("evaluation:Q", title="optimizer evaluation"),
            y=alt.Y("value:Q", title="objective (solver's cost)", scale=alt.Scale(zero=False)),
            tooltip=["evaluation", "value"]).interactive(), width="stretch")
    else:
        _iteration_trace(record)
    st.subheader("Config")
    st.json(record.config, expanded=2)
    st.subheader("Record")
    st.caption(f"`{run['record_path']}`")
    st.json({k: v for k, v in dataclasses.asdict(record).items() if k != "config"}, expanded=1)


def iteration_table(record: RunRecord) -> pd.DataFrame | None:
    """A trace recorded as one dict per iteration (the Lagrangian dual: dual value, primal
    objective, violation, step, ...) as a table; None for any other trace."""
    trace = SolverInfo.read(record.solver_info).iteration_trace()
    return None if trace is None else pd.DataFrame(trace)


def _iteration_trace(record: RunRecord) -> None:
    table = iteration_table(record)
    if table is None:
        return
    st.subheader("Iterations")
    numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])
               and not pd.api.types.is_bool_dtype(table[c]) and c != "iteration"]
    default = [c for c in ("dual_value", "objective") if c in numeric] or numeric[:1]
    shown = st.multiselect("series", numeric, default=default, key="detail_series")
    if shown:
        long = table.reset_index(names="row").melt(id_vars="row", value_vars=shown, var_name="series")
        st.altair_chart(alt.Chart(long).mark_line(point=True).encode(
            x=alt.X("row:Q", title="iteration"), y=alt.Y("value:Q", scale=alt.Scale(zero=False)),
            color="series:N", tooltip=["row", "series", "value"]).interactive(), width="stretch")
    st.dataframe(table, hide_index=True, key="detail_iterations")


def _solution(record: RunRecord) -> None:
    st.subheader("Solution")
    if record.solution is None:
        st.info("This run returned no solution vector.")
        return
    problem_config = record.config.get("problem")
    rebuilt = _rebuild(json.dumps(problem_config, sort_keys=True), record.instance_hash)
    if rebuilt.problem is None:
        st.warning(f"The solution cannot be drawn: {rebuilt.note}")
        return
    result = drawing.draw(rebuilt.problem, record.solution)
    if isinstance(result, str):
        st.warning(f"The solution cannot be drawn: {result}")
        return
    st.caption(result.caption)
    st.altair_chart(result.chart, width="content")
