"""Run detail: one run's outcome, its solution drawn in the problem's terms, its optimizer trace,
its config and its whole record."""

from __future__ import annotations

import dataclasses
import json

import altair as alt
import pandas as pd
import streamlit as st

from qbench.dashboard import drawing
from qbench.dashboard.plots import run_label, trace_data
from qbench.records import RunRecord, read_record
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
    runs = frame.sort_values(["problem", "instance", "method", "seed"])
    labels = {run_label(run): index for index, run in runs.iterrows()}
    choice = st.selectbox("run", list(labels), key="detail_run")
    run = runs.loc[labels[choice]]
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
    trace = trace_data(frame.loc[[labels[choice]]], [record.key])
    if not trace.empty:
        st.subheader("Optimizer trace")
        st.altair_chart(alt.Chart(trace).mark_line(point=True).encode(
            x=alt.X("evaluation:Q", title="optimizer evaluation"),
            y=alt.Y("value:Q", title="objective (solver's cost)", scale=alt.Scale(zero=False)),
            tooltip=["evaluation", "value"]).interactive(), width="stretch")
    st.subheader("Config")
    st.json(record.config, expanded=2)
    st.subheader("Record")
    st.caption(f"`{run['record_path']}`")
    st.json({k: v for k, v in dataclasses.asdict(record).items() if k != "config"}, expanded=1)


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
