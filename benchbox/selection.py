"""Choosing the checkpoint that is scored (``--select last|val|test``).

Under ``val`` and ``test`` a trained method scores a labelled *selection split* every
``select_every`` epochs of its last training phase (and after the last epoch), and keeps the
networks of the epoch with the best AUROC there (``--select-metric pixel_auroc``: the best pixel
AUROC over its masks) (the first such epoch on ties); the test split is
then scored with them. The curve, the chosen epoch and the kept networks travel in the method's
checkpoint, so a resumed cell continues the same curve. Under ``val`` the selection split shares no
image with the test split and the test labels are never read before the choice is made; under
``test`` the selection split *is* the test split (the oracle that some published numbers use).
"""

from __future__ import annotations

import copy
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from .contracts import ImageSet
from .errors import DataError, ParamError
from .experiment import SELECTION_RULES
from .localisation import pixel_metrics

#: What a selection split is scored by (``--select-metric``): the name each curve point keeps it under.
SELECTION_METRICS = {
    "auroc": "AUROC",
    "pixel_auroc": "pixel AUROC",  # over the split's masks (BMAD's rule for its distillation methods)
}


class Selection:
    """The checkpoint rule of one cell, and what it saw so far."""

    def __init__(self, rule: str, every: int, images: ImageSet, split: str, metric: str = "auroc"):
        if rule not in SELECTION_RULES or rule == "last":
            raise ValueError(f"a Selection is for rules val or test, not {rule!r}")
        if len(set(images.labels.tolist())) < 2:
            raise ValueError(f"the selection split ({split}) needs normal and anomalous images")
        if metric not in SELECTION_METRICS:
            raise ValueError(f"--select-metric: expected one of {', '.join(SELECTION_METRICS)}, got {metric!r}")
        if metric == "pixel_auroc" and not images.has_masks():
            raise DataError(f"--select-metric pixel_auroc: the selection split ({split}) has no pixel masks")
        self.rule, self.every, self.images, self.split, self.metric = rule, int(every), images, split, metric
        self.curve: list[dict] = []  # {"epoch", <metric>: value} per evaluation
        self.best_epoch: int | None = None
        self.best_auroc = -np.inf
        self.best_state: dict | None = None  # the networks' state at best_epoch, on the CPU
        self.seconds = 0.0  # time spent evaluating (the rule's cost)

    def due(self, epoch: int, epochs: int) -> bool:
        """Whether to evaluate after ``epoch`` of the last phase's ``epochs``."""
        return epoch % self.every == 0 or epoch == epochs

    def consider(self, epoch: int, method) -> None:
        """Score the selection split with ``method`` as it is now; keep its networks if best."""
        start = time.perf_counter()
        auroc = self._value(method)
        self.curve.append({"epoch": int(epoch), self.metric: auroc})
        if auroc > self.best_auroc:  # strict: the earliest of equal epochs
            self.best_epoch, self.best_auroc = int(epoch), auroc
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in method.nets_.state_dict().items()}
        self.seconds += time.perf_counter() - start

    def _value(self, method) -> float:
        """The selection split's metric for ``method`` as it is now; NaN where a diverged epoch
        gave non-finite scores or maps (recorded, never chosen)."""
        if self.metric == "auroc":
            scores = np.asarray(method.score(self.images), dtype=np.float64)
            return float(roc_auc_score(self.images.labels, scores)) if np.all(np.isfinite(scores)) else float("nan")
        maps = method.anomaly_maps(self.images)
        if maps is None:
            raise ParamError(f"--select-metric pixel_auroc: {method.name} has no anomaly maps; use auroc")
        maps = np.asarray(maps)
        if not np.all(np.isfinite(maps)):
            return float("nan")
        return float(pixel_metrics(maps, self.images.masks[:, 0].numpy(), self.images.mask_known)["pixel_auroc"])

    # -- in the method's checkpoint -------------------------------------------------------
    def state(self) -> dict:
        return {
            "rule": self.rule,
            "every": self.every,
            "metric": self.metric,
            "curve": copy.deepcopy(self.curve),
            "best_epoch": self.best_epoch,
            "best_auroc": self.best_auroc,
            "best_state": self.best_state,
            "seconds": self.seconds,
        }

    def matches(self, state: dict | None) -> bool:
        return (
            state is not None
            and state.get("rule") == self.rule
            and state.get("every") == self.every
            and state.get("metric", "auroc") == self.metric
        )

    def restore(self, state: dict) -> None:
        self.curve = list(state["curve"])
        self.best_epoch, self.best_auroc = state["best_epoch"], state["best_auroc"]
        self.best_state, self.seconds = state["best_state"], state["seconds"]

    def summary(self) -> dict:
        """What the result records."""
        labels = self.images.labels
        return {
            "rule": self.rule,
            "description": SELECTION_RULES[self.rule],
            "every": self.every,
            "metric": self.metric,
            "split": self.split,
            "n_normal": int((labels == 0).sum()),
            "n_anomalous": int((labels == 1).sum()),
            "curve": self.curve,
            "chosen_epoch": self.best_epoch,
            # The chosen epoch's value of the metric (kept under this name for every metric).
            "chosen_auroc": None if self.best_epoch is None else self.best_auroc,
        }


def curve_value(summary: dict, point: dict) -> float:
    """A selection curve point's value of the metric its selection used (AUROC for records made
    before there was a choice)."""
    return point[summary.get("metric", "auroc")]
