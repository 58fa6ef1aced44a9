"""Is one method's AUROC really higher than another's on the same test images?

A two-level (hierarchical) paired bootstrap over the two sources of variation in a Table I
cell: which test images were drawn, and which training run (seed) was drawn. Each replicate
resamples the test images once, with replacement — the *same* resample for both methods and
for every seed, because all seeds are scored on the same images, so their image-sampling
error is shared, not independent — and resamples the seeds with replacement; its ΔAUROC is the
mean over the resampled seeds of AUROC(a) − AUROC(b) on the resampled images. With one seed it
is the classic paired bootstrap of AUROC (e.g. as in pROC's ``roc.test(method="bootstrap")``);
the two-stage scheme is that of Davison & Hinkley, *Bootstrap Methods and their Application*
(1997), §3.8, for data with two levels of variation. The paper gives no such test; a 0.01
difference on a few hundred images is often noise.
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


def paired_bootstrap(labels_per_seed, scores_a_per_seed, scores_b_per_seed, n_boot: int = 2000, seed: int = 0) -> dict:
    """ΔAUROC = AUROC(a) − AUROC(b) with a 95% percentile interval and a two-sided p-value.

    Each argument is a list with one array per shared seed; every seed scores the same test
    images in the same order (the labels must agree)."""
    labels = np.asarray(labels_per_seed[0], dtype=np.float64)
    for other in labels_per_seed[1:]:
        if not np.array_equal(np.asarray(other, dtype=np.float64), labels):
            raise ValueError("paired_bootstrap: every seed must score the same test images")
    a = np.asarray(scores_a_per_seed, dtype=np.float64)  # seeds × images
    b = np.asarray(scores_b_per_seed, dtype=np.float64)
    n_seeds, n = a.shape
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n, (n_boot, n))  # one image resample per replicate, shared by all seeds
    picked = rng.integers(0, n_seeds, (n_boot, n_seeds))  # and a resample of the seeds
    lab = labels[index]
    observed = [
        _auroc_rows(labels[None], a[s][None])[0] - _auroc_rows(labels[None], b[s][None])[0] for s in range(n_seeds)
    ]
    per_seed = np.stack(
        [_auroc_rows(lab, a[s][index]) - _auroc_rows(lab, b[s][index]) for s in range(n_seeds)]
    )  # seeds × replicates
    return _summary(observed, per_seed, picked)


def _summary(observed, per_seed: np.ndarray, picked: np.ndarray) -> dict:
    """The bootstrap's result from per-seed observed deltas and per-seed replicate deltas
    (seeds × replicates), with the replicates' seed resamples ``picked`` (replicates × seeds)."""
    n_seeds, n_boot = per_seed.shape
    deltas = per_seed[picked, np.arange(n_boot)[:, None]].mean(1)
    deltas = deltas[np.isfinite(deltas)]
    delta = float(np.mean(observed))
    if np.allclose(deltas, 0.0):
        p_value = 1.0
    else:
        p_value = float(min(1.0, 2 * min((deltas <= 0).mean(), (deltas >= 0).mean())))
    low, high = np.percentile(deltas, [2.5, 97.5])
    return {
        "delta": delta,
        "ci_low": float(low),
        "ci_high": float(high),
        "p_value": p_value,
        "n_seeds": n_seeds,
        "n_boot": n_boot,
    }


def against_chance(labels_per_seed, scores_per_seed, n_boot: int = 2000, seed: int = 0) -> dict:
    """AUROC − 0.5 by the same two-level bootstrap: is the method above chance? (A constant
    score ties every image, so its AUROC is 0.5 on every resample.)"""
    constant = [np.zeros(len(scores)) for scores in scores_per_seed]
    return paired_bootstrap(labels_per_seed, scores_per_seed, constant, n_boot=n_boot, seed=seed)


def paired_bootstrap_pixel(hists_a_per_seed, hists_b_per_seed, n_boot: int = 2000, seed: int = 0) -> dict:
    """ΔAUROC at pixel level by the same two-level bootstrap: each argument a list with one
    (positive, negative) pair of per-image histograms per shared seed
    (:func:`benchbox.localisation.image_histograms`, same images in the same order). A resample
    of the images is a count per image, so each replicate's pixel AUROC is that of the
    count-weighted sums of the histograms."""
    from .localisation import auroc_from_histograms

    n_seeds, n = len(hists_a_per_seed), len(hists_a_per_seed[0][0])
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n, (n_boot, n))
    picked = rng.integers(0, n_seeds, (n_boot, n_seeds))
    weights = np.zeros((n_boot, n))
    np.add.at(weights, (np.arange(n_boot)[:, None], index), 1.0)

    def auroc(pair, w):
        positive, negative = (np.asarray(h, dtype=np.float64) for h in pair)
        return auroc_from_histograms(w @ positive, w @ negative)

    ones = np.ones((1, n))
    observed = [float(auroc(a, ones)[0] - auroc(b, ones)[0]) for a, b in zip(hists_a_per_seed, hists_b_per_seed)]
    per_seed = np.stack([auroc(a, weights) - auroc(b, weights) for a, b in zip(hists_a_per_seed, hists_b_per_seed)])
    return _summary(observed, per_seed, picked)
