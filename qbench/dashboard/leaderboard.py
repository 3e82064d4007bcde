"""Leaderboard: per problem x method the report's summary numbers, sortable, exportable as CSV.

The numbers are :func:`qbench.report.summary_table` (the table ``python -m qbench report``
prints), so the dashboard and the paper's tables can never disagree; this module only chooses
how the columns look.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from qbench import report


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard of ``frame`` (already filtered), best median gap first within a problem."""
    summary = report.summary_table(frame)
    if summary.empty:
        return summary
    return summary.sort_values(["problem", "gap_median", "feasible_rate"], ascending=[True, True, False],
                               na_position="last", ignore_index=True)


def column_config() -> dict:
    config = {
        "problem": st.column_config.TextColumn("problem"),
        "method": st.column_config.TextColumn("method", help="solver, with its settings that vary here"),
        "runs": st.column_config.NumberColumn("runs", help="all records (ok, error, timeout)"),
        "ok": st.column_config.NumberColumn("ok"),
        "failed": st.column_config.NumberColumn("failed", help="error or timeout"),
        "qubits": st.column_config.NumberColumn("qubits", help="median qubits used (none for classical solvers)"),
        "qubo_variables": st.column_config.NumberColumn("QUBO vars", help="median variables of the formulation's QUBO"),
        "time_median_s": st.column_config.NumberColumn("time median [s]", format="%.3g"),
        "time_mean_s": st.column_config.NumberColumn("time mean [s]", format="%.3g"),
        "covering_runs": st.column_config.NumberColumn(
            "covering", help="runs whose final sampling drew >= 1/4 as many shots as the QUBO has states"),
    }
    helps = {
        "feasible_rate": ("feasible", "feasible answers / runs (failed runs count as not feasible)"),
        "raw_feasible_rate": ("feasible raw", "the same for the solvers' own answers, before repair"),
        "gap_mean": ("gap mean", "relative optimality gap of feasible answers"),
        "raw_gap_mean": ("gap raw", "mean gap of the solvers' own feasible answers, before repair"),
        "gap_median": ("gap median", "relative optimality gap of feasible answers"),
        "success_probability": ("success", "mean probability of sampling an optimal solution"),
        "success_uniform": ("success uniform", "the same for uniformly random bitstrings of the QUBO"),
    }
    for name, (label, text) in helps.items():
        config[name] = st.column_config.NumberColumn(label, help=text, format="percent")
    return config


def render(frame: pd.DataFrame) -> None:
    board = table(frame)
    st.caption("Per problem and method over the filtered runs; click a column header to sort. "
               + report.DEFINITIONS.replace("\n", " "))
    with st.container(key="leaderboard"):
        st.dataframe(board, hide_index=True, column_config=column_config(), placeholder="-",
                     key="leaderboard_table")
    st.download_button("Download CSV", board.to_csv(index=False), file_name="leaderboard.csv",
                       mime="text/csv", key="leaderboard_csv")
