"""Group-aware, label-stratified, seeded train / validation / test assignment."""

from __future__ import annotations

import numpy as np

TRAIN, VALIDATION, TEST = 0, 1, 2


def assign_splits(
    groups: np.ndarray,
    strata: np.ndarray,
    test_ok: np.ndarray,
    ratios: tuple[float, float, float],
    seed: int,
) -> np.ndarray:
    """Split code (0 train, 1 validation, 2 test) per row; all rows of a group land together.

    ``groups``: group id per row; ``strata``: stratum (e.g. label id) per row, the group takes the
    stratum of its first row; ``test_ok``: row may go to test (a group with any row that may not,
    e.g. a weak label, stays in train/validation, which then share its stratum by their ratios).
    Within each (stratum, test_ok) the groups are shuffled with ``seed`` and each goes to the split
    furthest below its target row count.
    """
    n = len(groups)
    out = np.zeros(n, dtype=np.int8)
    if n == 0:
        return out
    uniq, first, inverse, sizes = np.unique(groups, return_index=True, return_inverse=True, return_counts=True)
    g_test_ok = np.ones(len(uniq), dtype=bool)
    np.logical_and.at(g_test_ok, inverse, test_ok.astype(bool))
    g_stratum = strata[first]
    base = np.asarray(ratios, dtype=float)
    no_test = base.copy()
    no_test[TEST] = 0.0
    no_test = no_test / no_test.sum() if no_test.sum() > 0 else np.array([1.0, 0.0, 0.0])
    rng = np.random.default_rng(seed)
    g_split = np.zeros(len(uniq), dtype=np.int8)
    keys = sorted({(int(s), bool(t)) for s, t in zip(g_stratum, g_test_ok)})
    for stratum, ok in keys:
        idx = np.flatnonzero((g_stratum == stratum) & (g_test_ok == ok))
        idx = idx[rng.permutation(len(idx))]
        ratio = base if ok else no_test
        target = ratio * sizes[idx].sum()
        filled = np.zeros(3)
        closed = np.where(ratio > 0, 0.0, -np.inf)  # a split with ratio 0 never gets a group
        for g in idx:
            deficit = target - filled + closed
            s = int(np.argmax(deficit))  # ties -> train, then validation
            g_split[g] = s
            filled[s] += sizes[g]
    out[:] = g_split[inverse]
    return out
