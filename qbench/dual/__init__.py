"""Multiplier updates for Lagrangian duals: one class per method in :mod:`qbench.dual.methods`."""

from qbench.dual.methods import METHODS, Cut, DualSettings, MultiplierMethod, make_method

__all__ = ["METHODS", "Cut", "DualSettings", "MultiplierMethod", "make_method"]
