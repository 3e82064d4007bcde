"""Hydra configuration (config groups mirror the code: problem, solver, backend, formulation)."""
