"""How much would choosing the epoch on the test set be worth?

    python benchmarks/epoch_selection.py --data-root ../shared/data/chest_xray \
        --methods ae ganomaly ssim_ae salad --out benchmarks/results-epochs
    python benchmarks/epoch_selection.py --data-root ../shared/data/chest_xray \
        --methods vae fanogan --out benchmarks/results-epochs/vae-fanogan

    # the paper preset, on a GPU (not run yet):
    python benchmarks/epoch_selection.py --size 256 --epochs 200 --precision bf16 --device cuda \
        --methods salad ganomaly --seeds 0 --out benchmarks/results-epochs-paper

GANomaly's reference code (samet-akcay/ganomaly, lib/model.py) scores the test set after every
epoch and keeps the weights, and reports the AUC, of the best epoch; a paper that trains its baselines, or itself, that way
reports a number chosen on the test labels. benchbox never does: its number is the last
epoch's. This script measures what the other practice would add on the paper's protocol
(official chest X-ray split, `--preset cpu` by default: 64×64, 15 epochs, seeds 0, 1, 2): each
method is trained as `benchbox run` would train it, the official test set is scored after
every epoch of its last training phase, and the table gives the last epoch's AUROC (the
result), the best epoch's (**optimistic: chosen on the test labels**, never a result) and the
difference. The per-epoch AUROCs are in the JSON.

An analysis of a protocol difference, not a selection: nothing is chosen from these numbers.
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

from benchbox.execute import device_description
from benchbox.plan import plan
from benchbox.plugins import Plugins
from benchbox.training import resolve_device


def train_scoring_every_epoch(method, train, test) -> list[float]:
    """Fit ``method`` on ``train``; the test AUROC after each epoch of its last phase."""
    curve = []

    def on_epoch(epoch, total, losses):
        if method.phase_ == method.phases()[-1]:
            curve.append(float(roc_auc_score(test.labels, method.score(test))))

    method.fit(train, on_epoch=on_epoch)
    return curve


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="chest_xray")
    parser.add_argument("--data-root", default="../shared/data/chest_xray")
    parser.add_argument("--methods", nargs="+", default=["ae", "ganomaly", "ssim_ae", "salad"])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", default="0,1,2", help="comma list; mean ± std (ddof=1) over them")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--precision",
        default=None,
        choices=["fp32", "bf16"],
        help="training precision (default: the method's, fp32); the paper preset ran in bf16",
    )
    parser.add_argument("--out", default="benchmarks/results-epochs")
    args = parser.parse_args(argv)

    plugins = Plugins(load_entry_points=False)
    cells = plan(
        plugins,
        args.methods,
        [args.dataset],
        [int(seed) for seed in args.seeds.split(",")],
        image_size=args.size,
        epochs=args.epochs,
        device=args.device,
        precision=args.precision,
        data_root=args.data_root,
    )
    dataset = plugins.make_dataset(args.dataset, cells[0].dataset_params, args.data_root)
    train, test = dataset.load("train", args.size), dataset.load("test", args.size)
    rows = []
    for cell in cells:
        curve = train_scoring_every_epoch(plugins.methods.get(cell.method)(**cell.method_params), train, test)
        rows.append({"method": cell.label, "seed": cell.seed, "auroc_per_epoch": curve})
        print(
            f"{cell.label} seed {cell.seed}: last {curve[-1]:.4f}, best {max(curve):.4f} "
            f"(epoch {int(np.argmax(curve)) + 1} of {len(curve)})",
            flush=True,
        )

    where = device_description(str(resolve_device(args.device)))
    lines = [
        f"# The last epoch against the best epoch on the test set ({datetime.now(timezone.utc):%Y-%m-%d})",
        "",
        f"`python benchmarks/epoch_selection.py --dataset {args.dataset} --methods "
        f"{' '.join(map(shlex.quote, args.methods))}`; {args.dataset} "
        f"({(dataset.provenance() or {}).get('protocol', 'as generated')} split), {len(train)} training and "
        f"{len(test)} test images;",
        f"{args.size}×{args.size}, {args.epochs} epochs, {where}, {args.precision or 'fp32'}, torch {torch.__version__}. AUROC, mean ± std "
        f"over seeds {args.seeds}.",
        "**The best-epoch column is chosen on the test labels: optimistic, never a result.**",
        "",
        "| method | last epoch (the result) | best epoch on test (optimistic) | best − last | best epoch, per seed |",
        "|---|---|---|---|---|",
    ]
    for label in dict.fromkeys(row["method"] for row in rows):
        curves = [row["auroc_per_epoch"] for row in rows if row["method"] == label]
        last, best = np.array([c[-1] for c in curves]), np.array([max(c) for c in curves])
        ddof = 1 if len(curves) > 1 else 0
        where_best = ", ".join(str(int(np.argmax(c)) + 1) for c in curves)
        lines.append(
            f"| {label} | {last.mean():.4f} ± {last.std(ddof=ddof):.4f} | {best.mean():.4f} ± "
            f"{best.std(ddof=ddof):.4f} | {(best - last).mean():+.4f} | {where_best} of {len(curves[0])} |"
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "epochs.md").write_text("\n".join(lines) + "\n")
    (out / "epochs.json").write_text(
        json.dumps({"args": vars(args), "device": where, "torch": torch.__version__, "rows": rows}, indent=1) + "\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
