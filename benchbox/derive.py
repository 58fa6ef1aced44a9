"""``--leaks drop`` without training again. Training never sees the test set, so under
``--select last`` and ``--select val`` a leaks-dropped result is its kept twin's (the same
experiment with ``--leaks keep``) on fewer test images: the stored per-image scores of the images
the leak audit did not flag, their metrics computed afresh. ``--select test`` chose its
checkpoint on the very images dropped, so it trains again.

What a kept record cannot give: the full anomaly maps are not stored, so a derived result's pixel
AUROC comes from the kept run's per-image pixel histograms (256 bins a map, not the 4,096 of
:func:`benchbox.localisation.pixel_metrics`: close, not equal), and AUPRO and Dice are left out
(``benchbox run --no-derive`` trains such cells for them). A derived record says so
(``derived``), with the source cell's key.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .contracts import file_list_hash
from .experiment import Experiment
from .localisation import auroc_from_histograms
from .metrics import evaluate
from .plan import Cell
from .store import ResultStore

#: Which artifact arrays index test images (``*_index``) and which arrays each index carries.
INDEXED = {
    "recon_index": ("originals", "reconstructions"),
    "latent_index": ("latent",),
    "map_index": ("map_images", "maps", "masks"),
}
#: Arrays with one row per test image.
PER_IMAGE = ("pixel_hist_positive", "pixel_hist_negative", "explorer_maps")
WHOLE = ("explorer_map_range",)  # the kept run's scale, kept with its maps


def kept_twin(experiment: Experiment) -> Experiment | None:
    """The ``--leaks keep`` experiment a leaks-dropped one can be derived from; None where it
    cannot (leaks kept, or the checkpoint chosen on the test set)."""
    dimensions = dict(experiment.dimensions)
    if dimensions.pop("leaks", "keep") != "drop" or dimensions.get("select", "last") == "test":
        return None
    return replace(experiment, dimensions=dimensions)


def source(cell: Cell, store: ResultStore) -> tuple[Path, dict] | None:
    """Where the finished kept record ``cell`` can be derived from is, and the record; or None."""
    twin = kept_twin(cell.experiment)
    if twin is None:
        return None
    path = store.path(twin)
    record = store.finished(path)
    if record is None or (record.get("leak_audit") or {}).get("flagged_ids") is None or not record.get("scores"):
        return None  # none, or made before the leak audit: trained instead
    return path, record


def derive(base: dict, kept: dict, artifacts: dict | None) -> tuple[dict, dict]:
    """The leaks-dropped record (``base``: its :func:`benchbox.execute.base_record`) and its
    artifacts, from the kept record and the kept run's artifacts."""
    start = time.perf_counter()
    flagged = set(kept["leak_audit"]["flagged_ids"])
    scores = kept["scores"]
    keep = [i for i, image_id in enumerate(scores["ids"]) if image_id not in flagged]
    test = {name: [values[i] for i in keep] for name, values in scores.items()}
    record = {**base, "status": "ok"}
    for name in ("code", "split", "history", "parts", "selection", "method_provenance", "val_scores"):
        if name in kept:
            record[name] = kept[name]
    record["leak_audit"] = {**kept["leak_audit"], "dropped": len(flagged)}
    classes = test["classes"]
    record["test_set"] = {
        "n": len(keep),
        "hash": file_list_hash(test["ids"], classes),
        "classes": {c: classes.count(c) for c in sorted(set(classes))},
    }
    val = kept.get("val_scores")
    record["metrics"] = evaluate(
        np.asarray(test["labels"]),
        np.asarray(test["scores"]),
        None if val is None else np.asarray(val["labels"]),
        None if val is None else np.asarray(val["scores"]),
    )
    record["scores"] = test
    arrays = _subset_artifacts(artifacts or {}, keep, len(scores["ids"]))
    if kept.get("pixel_metrics"):
        positive, negative = arrays.get("pixel_hist_positive"), arrays.get("pixel_hist_negative")
        if positive is not None and negative is not None:
            pixels = positive.sum(1).astype(np.int64) + negative.sum(1)
            record["pixel_metrics"] = {
                "pixel_auroc": float(auroc_from_histograms(positive.sum(0), negative.sum(0))),
                "bins": int(positive.shape[1]),
                "n_images": int((pixels > 0).sum()),  # the images with known masks
                "n_anomalous_images": int((positive.sum(1) > 0).sum()),
                "positive_share": float(positive.sum() / max(int(pixels.sum()), 1)),
            }
    record["derived"] = {
        "from_key": kept["key"],
        "from_created": kept.get("created"),
        "what": "the kept cell's per-image scores without the flagged test images; no training",
        "missing": [m for m in ("aupro", "best_dice") if (kept.get("pixel_metrics") or {}).get(m) is not None],
    }
    record["timings"] = {"derive_s": time.perf_counter() - start}
    return record, arrays


def _subset_artifacts(artifacts: dict, keep: list[int], n_test: int) -> dict:
    """The artifacts of the kept images, indices renumbered; arrays of unknown meaning are left out."""
    position = {old: new for new, old in enumerate(keep)}
    out = {}
    for index_name, carried in INDEXED.items():
        if index_name not in artifacts:
            continue
        rows = [j for j, i in enumerate(artifacts[index_name]) if int(i) in position]
        out[index_name] = np.asarray([position[int(artifacts[index_name][j])] for j in rows], dtype=np.int64)
        for name in carried:
            if name in artifacts:
                out[name] = artifacts[name][rows]
    for name in PER_IMAGE:
        if name in artifacts and len(artifacts[name]) == n_test:
            out[name] = artifacts[name][keep]
    for name in WHOLE:
        if name in artifacts:
            out[name] = artifacts[name]
    return out
