"""Solvers: one module per solver family; each class is named by a config in qbench/conf/solver."""
