"""The results dashboard (Streamlit): ``python -m qbench dashboard RESULTS_DIR``.

``app`` is the Streamlit script; ``overview``, ``leaderboard``, ``plots`` and ``detail`` render
one view each; ``data`` (loading, filtering, counting) and ``drawing`` (solutions in their
problem's terms) are pure and unit-tested; ``serve`` builds the ``streamlit run`` command.
"""
