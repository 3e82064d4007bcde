"""Overview: experiments, run counts by status, last update, and the runs that failed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from qbench.dashboard import data


def render(frame: pd.DataFrame) -> None:
    counts = frame["status"].value_counts()
    cols = st.columns(5)
    cols[0].metric("runs", len(frame))
    cols[1].metric("experiments", frame["experiment"].map(data.label).nunique())
    for col, status in zip(cols[2:], ("ok", "error", "timeout")):
        col.metric(status, int(counts.get(status, 0)))
    st.subheader("Experiments")
    st.dataframe(data.overview(frame), hide_index=True, key="overview_table")
    failed = frame[frame["status"] != "ok"]
    if not failed.empty:
        st.subheader("Failed runs")
        st.dataframe(failed[["experiment", "problem", "instance", "solver", "seed", "status", "error", "key"]],
                     hide_index=True, key="failed_table")
