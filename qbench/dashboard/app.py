"""The dashboard's Streamlit script: ``streamlit run app.py -- RESULTS_DIR`` (what
``python -m qbench dashboard RESULTS_DIR`` runs).

Reads the records under the directory through :mod:`qbench.store` (cached, keyed by the number
of record files and the newest modification time, so a record landing from a running sweep
invalidates it), applies the sidebar filters and renders four tabs: Overview, Leaderboard, Plots,
Run detail. An auto-refresh fragment polls the directory and reruns the app when records land.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

from qbench.dashboard import data, detail, leaderboard, overview, plots

#: How often the open page checks the directory for new records (seconds).
REFRESH_SECONDS = 10
#: Environment fallback for the directory (tests; ``streamlit run app.py`` without arguments).
DIRECTORY_ENV = "QBENCH_DASHBOARD_DIR"
TABS = ("Overview", "Leaderboard", "Plots", "Run detail")


def results_directory(argv: list[str]) -> Path:
    """``streamlit run app.py -- DIR`` sets ``sys.argv`` to ``[app.py, DIR]``; under a test
    client ``sys.argv`` is the host program's, so the argument counts only after this script."""
    if len(argv) > 1 and Path(argv[0]).resolve() == Path(__file__).resolve():
        return Path(argv[1])
    return Path(os.environ.get(DIRECTORY_ENV, "results"))


@st.cache_data(show_spinner="Reading run records...", max_entries=4)
def _load(directory: str, signature: tuple[int, int]) -> data.Table:
    return data.load(directory)


def _watch(directory: str, signature: tuple[int, int]) -> None:
    """Rerun the whole app when the directory's records change (checked every few seconds)."""
    @st.fragment(run_every=REFRESH_SECONDS)
    def check() -> None:
        if data.signature(directory) != signature:
            st.rerun(scope="app")

    check()


def sidebar(frame) -> data.Filters:
    st.sidebar.header("Filters")
    choices = data.options(frame)
    selected = {}
    for column in data.FILTER_COLUMNS:
        values = choices.get(column, [])
        selected[column] = tuple(st.sidebar.multiselect(column, values, key=f"filter_{column}",
                                                        placeholder="all"))
    seeds = None
    span = data.seed_range(frame)
    if span is not None and span[0] < span[1]:
        seeds = tuple(st.sidebar.slider("seed range", span[0], span[1], span, key="filter_seeds"))
    return data.Filters(selected, seeds)


def main(directory: Path) -> None:
    st.set_page_config(page_title="qbench results", layout="wide")
    st.title("qbench results")
    if not directory.is_dir():
        st.error(f"The results directory `{directory}` does not exist. Start the dashboard on a "
                 "directory that holds run records, e.g. `python -m qbench dashboard results/`.")
        return
    if st.sidebar.button("Refresh now", help="re-read every record"):
        _load.clear()
    auto = st.sidebar.toggle("Auto-refresh", value=True, help=f"check for new records every {REFRESH_SECONDS} s")
    signature = data.signature(directory)
    try:
        table = _load(str(directory), signature)
    except Exception as exc:  # a record the store cannot make a row of: say so, not a traceback
        st.error(f"Reading the records under `{directory}` failed: {type(exc).__name__}: {exc}")
        return
    if auto:
        _watch(str(directory), signature)
    st.caption(f"`{directory.resolve()}`: {len(table.frame)} records")
    if table.skipped:
        st.warning(f"{len(table.skipped)} record file(s) could not be read (truncated, or not a valid "
                   "run record: each is listed with the field at fault); they are left out of every view.")
        with st.expander("unreadable files"):
            st.code("\n".join(table.skipped), language=None)
    if table.frame.empty:
        st.info(f"No run records under `{directory}` yet. Records appear here as runs finish: "
                "`python -m qbench sweep experiment=smoke` or `python -m qbench run ...`.")
        return
    filters = sidebar(table.frame)
    frame = data.apply(table.frame, filters)
    if frame.empty:
        st.warning("No run matches the filters.")
        return
    views = st.tabs(list(TABS))
    with views[0]:
        overview.render(frame)
    with views[1]:
        leaderboard.render(frame)
    with views[2]:
        plots.render(frame)
    with views[3]:
        detail.render(frame)


main(results_directory(sys.argv))
