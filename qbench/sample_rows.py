"""Distinct rows of a matrix of samples (one 0/1 assignment per row) and their counts or
summed weights: how measured shots, annealing reads and decoded assignments are merged."""

from __future__ import annotations

import numpy as np


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(rows, axis=0, return_inverse=True)``: 0/1 rows of up to 62 columns are packed
    into integers first (same lexicographic order, a plain integer sort instead of numpy's
    structured one: ~10x faster for thousands of rows)."""
    if rows.ndim == 2 and 0 < rows.shape[1] <= 62 and len(rows) and rows.min() >= 0 and rows.max() <= 1:
        weights = np.left_shift(np.int64(1), np.arange(rows.shape[1] - 1, -1, -1, dtype=np.int64))
        keys, first, inverse = np.unique(rows.astype(np.int64) @ weights, return_index=True, return_inverse=True)
        return rows[first], inverse.ravel()
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    return unique, inverse.ravel()


def merged_rows(rows: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows (in :func:`unique_rows` order) and, for each, how often it occurs
    (integer counts) or, with ``weights`` (one per row), the sum of its rows' weights."""
    unique, inverse = unique_rows(rows)
    return unique, np.bincount(inverse, weights=weights, minlength=len(unique))
