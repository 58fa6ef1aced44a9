"""Is one method's AUROC really higher than another's on the same test images?

A paired bootstrap: the test images are resampled with replacement (the same resample for
both methods), the AUROC difference is computed on each resample, and — with several seeds —
averaged over the seeds both methods share. The paper gives no such test; a 0.01 difference
on a few hundred images is often noise.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def _auroc_rows(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUROC of each row of ``scores`` (B×n) against the matching row of ``labels`` (B×n),
    via midranks (ties count one half). Rows without both classes give NaN."""
    ranks = rankdata(scores, axis=1)
    positives = labels.sum(1)
    negatives = labels.shape[1] - positives
    rank_sum = (ranks * labels).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def paired_bootstrap(labels_per_seed, scores_a_per_seed, scores_b_per_seed, n_boot: int = 2000,
                     seed: int = 0) -> dict:
    """ΔAUROC = AUROC(a) − AUROC(b) with a 95% percentile interval and a two-sided p-value.

    Each argument is a list with one array per shared seed (same images, same order)."""
    rng = np.random.default_rng(seed)
    observed, replicates = [], []
    for labels, a, b in zip(labels_per_seed, scores_a_per_seed, scores_b_per_seed):
        labels, a, b = (np.asarray(v, dtype=np.float64) for v in (labels, a, b))
        observed.append(_auroc_rows(labels[None], a[None])[0] - _auroc_rows(labels[None], b[None])[0])
        index = rng.integers(0, len(labels), (n_boot, len(labels)))
        lab = labels[index]
        replicates.append(_auroc_rows(lab, a[index]) - _auroc_rows(lab, b[index]))
    deltas = np.nanmean(np.stack(replicates), axis=0)
    deltas = deltas[np.isfinite(deltas)]
    delta = float(np.mean(observed))
    if np.allclose(deltas, 0.0):
        p_value = 1.0
    else:
        p_value = float(min(1.0, 2 * min((deltas <= 0).mean(), (deltas >= 0).mean())))
    low, high = np.percentile(deltas, [2.5, 97.5])
    return {"delta": delta, "ci_low": float(low), "ci_high": float(high), "p_value": p_value,
            "n_seeds": len(observed), "n_boot": n_boot}
