"""AUROC against each kind of pneumonia, from finished chest X-ray cells (no retraining).

    python benchmarks/pneumonia_subtypes.py results/cells/official-paper-preset results/cells/official-cpu-preset

Kermany's file names say whether a pneumonia image is bacterial (``person1_bacteria_1``) or
viral (``person1_virus_6``); the official test split has 242 bacterial and 148 viral images.
For every method label and preset folder: the AUROC of all normal test images against all
pneumonia images, against the bacterial ones only and against the viral ones only, each the mean
over the seeds found. An analysis of test scores already reported, not a choice of anything.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import numpy as np
from sklearn.metrics import roc_auc_score

from benchbox.store import ResultStore

SUBTYPES = ("bacteria", "virus")


def subtype_aurocs(record: dict) -> dict[str, float]:
    """AUROC of the normal images against all / each subtype of the abnormal ones."""
    scores = np.asarray(record["scores"]["scores"], dtype=float)
    labels = np.asarray(record["scores"]["labels"])
    ids = record["scores"]["ids"]
    normal = labels == 0
    out = {"all": roc_auc_score(labels, scores)}
    for kind in SUBTYPES:
        chosen = normal | np.array([kind in name for name in ids])
        out[kind] = roc_auc_score(labels[chosen], scores[chosen])
    return out


def table(folders: list[str]) -> str:
    rows: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for folder in folders:
        records, _ = ResultStore(folder).records()
        for record in records:
            if record.get("status") == "ok" and record["dataset"] == "chest_xray":
                rows[(folder, record["label"])].append(subtype_aurocs(record))
    lines = ["| results | method | seeds | AUROC, all pneumonia | bacterial | viral |", "|---|---|---:|---:|---:|---:|"]
    for (folder, label), found in rows.items():
        mean = {k: np.mean([f[k] for f in found]) for k in ("all", *SUBTYPES)}
        lines.append(f"| {folder} | {label} | {len(found)} | {mean['all']:.3f} | {mean['bacteria']:.3f} | "
                     f"{mean['virus']:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print(table(sys.argv[1:]))
