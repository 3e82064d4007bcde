"""The shipped experiment configs (``experiment=NAME``), installed as ``qbench.experiments``."""
