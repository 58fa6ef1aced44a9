"""Metrics of one run: threshold-free AUROC/AUPRC and thresholded F1/ACC/SEN/SPE.

Thresholds: the SALAD paper picks the threshold with the best F1 on the *test* scores
(IV-B); we reproduce that and label it ``test_best_f1``. Where the dataset has a labelled
validation split, the best-F1 threshold on validation is applied to the test scores too
(``val_best_f1``): the only one of the two chosen without test labels.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from .errors import DataError

PROTOCOLS = {
    "test_best_f1": "threshold with the best F1 on the test scores (SALAD paper, uses test labels)",
    "val_best_f1": "threshold with the best F1 on the labelled validation split, applied to test",
}


def _check(labels, scores, what: str):
    labels = np.asarray(labels, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.shape != scores.shape or labels.ndim != 1:
        raise DataError(f"{what}: {len(labels)} labels but scores of shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise DataError(f"{what}: {int((~np.isfinite(scores)).sum())} scores are NaN or infinite")
    if set(np.unique(labels)) != {0, 1}:
        raise DataError(
            f"{what}: needs both normal (0) and anomalous (1) images, got labels {sorted(set(labels.tolist()))}"
        )
    return labels, scores


def at_threshold(labels, scores, threshold: float) -> dict:
    """F1, ACC, SEN (recall of anomalies), SPE for 'anomalous iff score >= threshold'."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(scores) >= threshold
    tp = int(np.sum(predicted & (labels == 1)))
    fp = int(np.sum(predicted & (labels == 0)))
    fn = int(np.sum(~predicted & (labels == 1)))
    tn = int(np.sum(~predicted & (labels == 0)))
    return {
        "threshold": float(threshold),
        "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
        "acc": (tp + tn) / len(labels),
        "sen": tp / (tp + fn) if tp + fn else 0.0,
        "spe": tn / (tn + fp) if tn + fp else 0.0,
        "bacc": ((tp / (tp + fn) if tp + fn else 0.0) + (tn / (tn + fp) if tn + fp else 0.0)) / 2,
    }


def best_f1_threshold(labels, scores) -> float:
    """The score threshold that maximises F1 (ties: the highest threshold)."""
    labels, scores = _check(labels, scores, "best-F1 threshold")
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    positives, negatives = labels.sum(), len(labels) - labels.sum()
    tp, fp = tpr * positives, fpr * negatives
    f1 = np.divide(2 * tp, 2 * tp + fp + (positives - tp), out=np.zeros_like(tp), where=tp > 0)
    best = int(np.argmax(f1))  # first maximum = highest threshold among ties
    return float(min(thresholds[best], np.max(scores)))  # roc_curve's first threshold is +inf


def sensitivity_at_specificity(labels, scores, specificity: float = 0.95) -> float:
    """The highest sensitivity on the ROC curve whose specificity is at least ``specificity``:
    an operating point that does not depend on how a threshold was chosen (on an imbalanced
    test set the best-F1 threshold can flag every image)."""
    labels, scores = _check(labels, scores, "sensitivity at specificity")
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(tpr[fpr <= 1.0 - specificity + 1e-12].max())


def evaluate(labels, scores, val_labels=None, val_scores=None) -> dict:
    """All metrics of one run: ``auroc``, ``auprc`` and one dict per threshold protocol."""
    labels, scores = _check(labels, scores, "test set")
    result = {
        "auroc": float(roc_auc_score(labels, scores)),
        "auprc": float(average_precision_score(labels, scores)),
        "sen_at_95spe": sensitivity_at_specificity(labels, scores),
        "thresholds": {"test_best_f1": at_threshold(labels, scores, best_f1_threshold(labels, scores))},
    }
    if val_labels is not None and len(set(np.asarray(val_labels).tolist())) == 2:
        threshold = best_f1_threshold(val_labels, val_scores)
        result["thresholds"]["val_best_f1"] = at_threshold(labels, scores, threshold)
    return result
