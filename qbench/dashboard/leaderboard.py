"""Leaderboard: per problem x method the report's summary numbers, and per problem x instance x
method success and time to solution; sortable, exportable as CSV.

The numbers are :func:`qbench.report.summary_table` and :func:`qbench.report.leaderboard_table`
(the tables ``python -m qbench report`` prints), so the dashboard and the paper's tables can
never disagree; this module only chooses how the columns look.
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


def success_column_config(epsilon: float) -> dict:
    number = st.column_config.NumberColumn
    return {
        "problem": st.column_config.TextColumn("problem"),
        "instance": st.column_config.TextColumn("instance"),
        "method": st.column_config.TextColumn("method", help="solver, with its settings that vary here"),
        "runs": number("runs", help="all records (ok, error, timeout)"),
        "feasible_runs": number("feasible", help="finished runs with a feasible answer"),
        "successful_runs": number(f"successful@{epsilon:g}",
                                  help="feasible runs with a relative gap to the reference <= epsilon"),
        "p_s": number("p_s", help="successful runs / runs", format="percent"),
        "shot_success_probability": number("p_opt/shot", format="percent",
                                           help="mean probability of sampling an optimum in the final distribution"),
        "optimal_lift": number("lift", format="%.3g", help="p_opt/shot over uniform random sampling's"),
        "tts99_s": number("TTS99 [s]", format="%.3g",
                          help="mean run time x ln(0.01)/ln(1 - p_s): time to succeed with 99% confidence"),
        "tts99_low_s": number("TTS99 low", format="%.3g", help="95% percentile-bootstrap interval over runs"),
        "tts99_high_s": number("TTS99 high", format="%.3g", help="95% percentile-bootstrap interval over runs"),
        "time_to_best_s": number("to best [s]", format="%.3g",
                                 help="mean time a feasible run first held its final best (QOBLIB's time to solution)"),
        "raw_gap": number("raw gap", format="percent", help="mean gap before repair"),
        "gap": number("gap", format="percent", help="mean gap of feasible answers (after repair)"),
        "energy_approximation_ratio": number("E ratio", format="%.3g", help="mean energy approximation ratio"),
        "qubits": number("qubits", help="median"),
        "two_qubit_gates": number("2q gates", help="median two-qubit gates of the transpiled circuit"),
        "covers_space": st.column_config.CheckboxColumn(
            "covers space", help="some run sampled at least 2^n/4 shots: success may owe nothing to the method"),
    }


def render(frame: pd.DataFrame) -> None:
    board = table(frame)
    st.caption("Per problem and method over the filtered runs; click a column header to sort. "
               + report.DEFINITIONS.replace("\n", " "))
    with st.container(key="leaderboard"):
        st.dataframe(board, hide_index=True, column_config=column_config(), placeholder="-",
                     key="leaderboard_table")
    st.download_button("Download CSV", board.to_csv(index=False), file_name="leaderboard.csv",
                       mime="text/csv", key="leaderboard_csv")

    st.subheader("Success and time to solution, per instance")
    epsilon = st.number_input("success threshold epsilon (relative gap to the reference)", min_value=0.0,
                              value=0.0, step=0.01, format="%.4g", key="leaderboard_epsilon")
    success = report.leaderboard_table(frame, epsilon)
    st.caption(report.LEADERBOARD_DEFINITIONS.replace("\n", " "))
    with st.container(key="success"):
        st.dataframe(success, hide_index=True, column_config=success_column_config(epsilon), placeholder="-",
                     key="success_table")
    st.download_button("Download CSV", success.to_csv(index=False), file_name="success.csv",
                       mime="text/csv", key="success_csv")
