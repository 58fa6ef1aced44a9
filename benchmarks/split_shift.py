"""Are the official test normals of the chest X-ray drawn like its training normals?

    python benchmarks/split_shift.py --data-root ../shared/data/chest_xray \
        --methods intensity 'intensity[statistic=std]' pca ae ssim_ae ganomaly salad \
        --out benchmarks/results-shift

Each method is trained on the dev protocol's training patients (80% of train/NORMAL +
val/NORMAL, `--preset cpu`: 64×64, 15 epochs, seeds 0, 1, 2) and scores three groups it never saw:
the held-out 20% of the training normals, the official test normals, and the official test
pneumonia. Reported AUROCs: test normals against held-out training normals (0.5: the two
normal sets look alike to the method; above: the test normals look anomalous), the dev AUROC
(held-out normals against train/PNEUMONIA), test pneumonia against held-out training
normals, and the official pair (test pneumonia against test normals) — here from a model
trained on 80% of the normals, so not the Table I number. Last, whether the method can see
global contrast at all: the held-out normals with every intensity scaled by 0.9 (black stays
black, the brightest value drops by a tenth, about the gap between the median brightest value
of normal and of pneumonia images) against the same images as they are.
``intensity`` is the floor that scores one global number per image (its brightest value, or
with ``statistic=std`` its intensity spread) by its distance from the training normals'.

An analysis of the data, not a selection: nothing is chosen from these numbers.
"""

from __future__ import annotations

import argparse
import json
import shlex
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from benchbox.contracts import ImageSet
from benchbox.execute import device_description
from benchbox.plan import plan
from benchbox.plugins import Plugins
from benchbox.report.numbers import over_seeds
from benchbox.training import resolve_device


def auroc(normal: np.ndarray, anomalous: np.ndarray) -> float:
    return float(roc_auc_score(np.r_[np.zeros(len(normal)), np.ones(len(anomalous))], np.r_[normal, anomalous]))


def dimmed(images: ImageSet, factor: float) -> ImageSet:
    """Every intensity times ``factor`` (black stays black): lower contrast, same anatomy."""
    scaled = (images.images.float() * factor).round().to(torch.uint8)
    return ImageSet(scaled, images.labels, images.classes, images.ids)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="../shared/data/chest_xray")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["intensity", "intensity[statistic=std]", "pca", "ae", "ssim_ae", "ganomaly", "salad"],
    )
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", default="0,1,2", help="comma list; mean ± std (ddof=1) over them")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="benchmarks/results-shift")
    args = parser.parse_args(argv)

    plugins = Plugins(load_entry_points=False)
    chest = plugins.datasets.get("chest_xray")
    dev = chest(data_root=args.data_root, protocol="dev")
    official = chest(data_root=args.data_root, protocol="official")
    train, dev_test, test = dev.load("train", args.size), dev.load("test", args.size), official.load("test", args.size)
    dev_labels, test_labels = np.asarray(dev_test.labels), np.asarray(test.labels)
    held_out_dimmed = dimmed(dev_test.subset(np.flatnonzero(dev_labels == 0)), 0.9)

    # The cells `benchbox run` would plan for these methods on the dev protocol: the same
    # parameters (run settings only where a method declares them), checked before training.
    cells = plan(
        plugins,
        args.methods,
        ["chest_xray"],
        [int(seed) for seed in args.seeds.split(",")],
        image_size=args.size,
        epochs=args.epochs,
        device=args.device,
        overrides=[("chest_xray", "protocol", "dev")],
        data_root=args.data_root,
    )
    rows = []
    for cell in cells:
        method = plugins.methods.get(cell.method)(**cell.method_params).fit(train)
        dev_scores, test_scores, dimmed_scores = (
            method.score(dev_test),
            method.score(test),
            method.score(held_out_dimmed),
        )
        held_out, train_pneumonia = dev_scores[dev_labels == 0], dev_scores[dev_labels == 1]
        test_normal, test_pneumonia = test_scores[test_labels == 0], test_scores[test_labels == 1]
        rows.append(
            {
                "method": cell.label,
                "seed": cell.seed,
                "test_normal_vs_heldout_normal": auroc(held_out, test_normal),
                "dev": auroc(held_out, train_pneumonia),
                "test_pneumonia_vs_heldout_normal": auroc(held_out, test_pneumonia),
                "test_pneumonia_vs_test_normal": auroc(test_normal, test_pneumonia),
                "dimmed_vs_heldout_normal": auroc(held_out, dimmed_scores),
            }
        )
        print(rows[-1], flush=True)

    where = device_description(str(resolve_device(args.device)))
    counts = (
        f"held-out training normals {int((dev_labels == 0).sum())}, train/PNEUMONIA "
        f"{int((dev_labels == 1).sum())}, test NORMAL {int((test_labels == 0).sum())}, "
        f"test PNEUMONIA {int((test_labels == 1).sum())}"
    )
    lines = [
        f"# Official chest X-ray test normals against held-out training normals ({datetime.now(timezone.utc):%Y-%m-%d})",
        "",
        f"`python benchmarks/split_shift.py --methods {' '.join(map(shlex.quote, args.methods))}`; trained on the dev protocol's training",
        f"patients, {args.size}×{args.size}, {args.epochs} epochs, {where}, fp32, torch {torch.__version__}.",
        f"Images: {counts}. AUROC, mean ± std over seeds {args.seeds} (the floors are deterministic);",
        "0.5 in the first column means the test normals look like the training normals to the method.",
        "",
        "| method | test normals vs held-out training normals | dev: train pneumonia vs held-out normals "
        "| test pneumonia vs held-out normals | test pneumonia vs test normals | held-out normals at 90% contrast vs as they are |",
        "|---|---|---|---|---|---|",
    ]
    columns = [
        "test_normal_vs_heldout_normal",
        "dev",
        "test_pneumonia_vs_heldout_normal",
        "test_pneumonia_vs_test_normal",
        "dimmed_vs_heldout_normal",
    ]
    for label in dict.fromkeys(row["method"] for row in rows):
        values = np.array([[row[c] for c in columns] for row in rows if row["method"] == label])
        shown = " | ".join(over_seeds(list(column)) for column in values.T)  # one run: no std
        lines.append(f"| {label} | {shown} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "shift.md").write_text("\n".join(lines) + "\n")
    (out / "shift.json").write_text(
        json.dumps(
            {"args": vars(args), "device": where, "counts": counts, "torch": torch.__version__, "rows": rows}, indent=1
        )
        + "\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
