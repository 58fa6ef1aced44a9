"""Pixel-level metrics of anomaly maps against ground-truth masks: pixel AUROC, AUPRO up to 30%
false-positive rate, and the best Dice over thresholds.

Only images whose mask is known count (``known``); a normal image's mask is all negative. The
maps are never copied whole: every image's scores are binned once on one grid of thresholds
(``bins`` equal steps between the smallest and the largest score), and the metrics are read off
the per-threshold counts. Two scores in one bin count as tied, so pixel AUROC differs from the
exact one by at most the share of (positive, negative) pixel pairs that share a bin (a test
checks 1e-3 against scikit-learn at the default 4,096 bins). Memory: the maps themselves (float32)
and one bin index per pixel of one image at a time.

- AUPRO (Bergmann et al., MVTec AD, IJCV 2021; BMAD): the per-region overlap (PRO: the mean,
  over the connected components of the masks (8-connectivity), of the share of the component's
  pixels above the threshold) as a function of the false-positive rate on the negative pixels,
  integrated from 0 to 0.3 (interpolated at 0.3) and divided by 0.3, so that a perfect map scores
  1.0.
- Best Dice: ``2·TP / (2·TP + FP + FN)`` over all known pixels at the threshold that maximises it,
  as MedIAnomaly and the brain-MRI AD literature report it. That threshold is chosen on the test
  masks themselves: the number is labelled so (``dice_threshold_on``).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import label as connected_components

FPR_LIMIT = 0.3
BINS = 4096
#: Bins of the per-image histograms the significance test resamples (its pixel AUROC is that
#: of these coarser bins: ties within a bin count one half).
HIST_BINS = 256
#: The metrics this module writes, with the words tables use for them.
PIXEL_METRICS = {
    "pixel_auroc": "pixel AUROC",
    "aupro": "AUPRO (FPR ≤ 0.3)",
    "best_dice": "best Dice (threshold chosen on the test masks)",
}


def _bin_index(scores: np.ndarray, low: float, high: float, bins: int) -> np.ndarray:
    if high <= low:
        return np.zeros(scores.shape, dtype=np.int64)
    index = ((scores - low) * (bins / (high - low))).astype(np.int64)
    return np.clip(index, 0, bins - 1)


def pixel_metrics(maps, masks, known=None, bins: int = BINS) -> dict:
    """``maps`` (N, H, W) anomaly maps (higher = more anomalous), ``masks`` (N, H, W) 0/1,
    ``known`` (N,) which images' masks are ground truth (default: all). Returns the three
    metrics, the counts they rest on, and the threshold Dice chose."""
    maps = np.asarray(maps)
    masks = np.asarray(masks)
    if maps.shape != masks.shape or maps.ndim != 3:
        raise ValueError(f"pixel metrics: maps of shape {maps.shape} but masks of shape {masks.shape}")
    known = np.ones(len(maps), dtype=bool) if known is None else np.asarray(known, dtype=bool)
    index = np.nonzero(known)[0]
    if len(index) == 0:
        raise ValueError("pixel metrics: no image has a known mask")
    low = float(min(maps[i].min() for i in index))
    high = float(max(maps[i].max() for i in index))
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError("pixel metrics: the anomaly maps hold NaN or infinite values")
    positive = np.zeros(bins, dtype=np.int64)
    negative = np.zeros(bins, dtype=np.int64)
    regions = []  # per connected component: its pixels' bin indices, sorted
    for i in index:
        where = _bin_index(maps[i], low, high, bins)
        truth = masks[i] > 0
        positive += np.bincount(where[truth], minlength=bins)
        negative += np.bincount(where[~truth], minlength=bins)
        if truth.any():
            components, _ = connected_components(truth, structure=np.ones((3, 3)))
            component, scores = components[truth], where[truth]
            order = np.lexsort((scores, component))  # by component, then by bin
            sizes = np.bincount(component)[1:]
            regions += np.split(scores[order], np.cumsum(sizes)[:-1])
    n_pos, n_neg = int(positive.sum()), int(negative.sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"pixel metrics: need positive and negative pixels, got {n_pos} and {n_neg}")
    # Counts at or above each bin's lower edge, from the highest bin down (threshold b: score
    # in bin >= b), with the all-negative threshold (above everything) first.
    tp = np.concatenate([[0], np.cumsum(positive[::-1])])
    fp = np.concatenate([[0], np.cumsum(negative[::-1])])
    tpr, fpr = tp / n_pos, fp / n_neg
    auroc = float(np.trapezoid(tpr, fpr))
    # PRO at each threshold: the mean over regions of the share of pixels in bins >= b.
    thresholds = np.arange(bins, -1, -1)  # matches tp/fp order: bins (nothing above), ..., 0
    pro = np.zeros(len(thresholds))
    for region in regions:
        pro += (len(region) - np.searchsorted(region, thresholds, side="left")) / len(region)
    pro /= len(regions)
    aupro = _area_to(fpr, pro, FPR_LIMIT) / FPR_LIMIT
    dice = np.divide(2 * tp, tp + fp + n_pos, out=np.zeros(len(tp)), where=tp > 0)
    best = int(np.argmax(dice))
    return {
        "pixel_auroc": auroc,
        "aupro": float(aupro),
        "best_dice": float(dice[best]),
        "dice_threshold": float(low + (high - low) * thresholds[best] / bins) if best else float(high),
        "dice_threshold_on": "test masks",
        "n_images": int(len(index)),
        "n_anomalous_images": int(sum(masks[i].any() for i in index)),
        "n_regions": len(regions),
        "positive_share": n_pos / (n_pos + n_neg),
        "bins": bins,
    }


def _area_to(x: np.ndarray, y: np.ndarray, limit: float) -> float:
    """∫ y dx from x = 0 to ``limit`` over the increasing points (x, y), interpolated at the limit."""
    keep = x <= limit
    xs, ys = x[keep], y[keep]
    if xs[-1] < limit and keep.sum() < len(x):  # the next point lies beyond: interpolate
        j = int(keep.sum())
        y_at = np.interp(limit, [x[j - 1], x[j]], [y[j - 1], y[j]]) if x[j] > x[j - 1] else y[j]
        xs, ys = np.append(xs, limit), np.append(ys, y_at)
    return float(np.trapezoid(ys, xs))


def image_histograms(maps, masks, known=None, bins: int = HIST_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Per image: counts of its positive and of its negative pixels in ``bins`` equal bins
    between the smallest and largest score of the known images, (N, bins) each (zero rows
    for images whose mask is unknown). Summed over any resample of the images, they give that
    resample's pixel AUROC (:func:`auroc_from_histograms`)."""
    maps, masks = np.asarray(maps), np.asarray(masks)
    known = np.ones(len(maps), dtype=bool) if known is None else np.asarray(known, dtype=bool)
    index = np.nonzero(known)[0]
    low = float(min(maps[i].min() for i in index))
    high = float(max(maps[i].max() for i in index))
    kind = np.uint16 if maps[0].size <= np.iinfo(np.uint16).max else np.uint32  # counts per image: small files
    positive = np.zeros((len(maps), bins), dtype=kind)
    negative = np.zeros((len(maps), bins), dtype=kind)
    for i in index:
        where = _bin_index(maps[i], low, high, bins)
        truth = masks[i] > 0
        positive[i] = np.bincount(where[truth], minlength=bins)
        negative[i] = np.bincount(where[~truth], minlength=bins)
    return positive, negative


def auroc_from_histograms(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """Pixel AUROC of summed histograms (..., bins): P(positive > negative) + ½ P(same bin).
    NaN where either class is empty."""
    positive = np.asarray(positive, dtype=np.float64)
    negative = np.asarray(negative, dtype=np.float64)
    n_pos, n_neg = positive.sum(-1), negative.sum(-1)
    below = np.cumsum(negative, -1) - negative  # negatives in lower bins
    wins = (positive * (below + 0.5 * negative)).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return wins / (n_pos * n_neg)
