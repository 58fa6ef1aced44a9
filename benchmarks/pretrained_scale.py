"""Fit time and peak memory of the methods on frozen ImageNet features against the training size,
and their scoring time per image, on generated 224×224 images (the synthetic dataset's
generator; the backbone's weights are the real ones, the timing does not depend on them).

Each (method, size) runs in a fresh process, so that its peak resident memory is its own:

    python benchmarks/pretrained_scale.py --sizes 1000,4000 --out benchmarks/results-pretrained
    python benchmarks/pretrained_scale.py --sizes 16000,26000 --methods patchcore   # adds rows

Run it alone: on 2 cores anything else running changes the times.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

METHODS = {"patchcore": {"coreset_ratio": 0.01}, "padim": {}}


def generated_train(size: int, image_size: int):
    """``size`` normal images of the synthetic generator, made 500 at a time so that its float
    arrays do not set the process's peak memory."""
    import numpy as np
    import torch

    from benchbox.contracts import ImageSet
    from benchbox.datasets.synthetic import Synthetic

    parts = [Synthetic(n_train=min(500, size - start), seed=start).load("train", image_size)
             for start in range(0, size, 500)]  # fmt: skip
    return ImageSet(torch.cat([p.images for p in parts]), np.zeros(size, np.int64), ["NORMAL"] * size,
                    [f"{i}" for i in range(size)])  # fmt: skip


def one(method: str, size: int, image_size: int, n_test: int, overrides: dict) -> dict:
    """In this process: generate, fit, score; the numbers of one row."""
    import torch

    from benchbox.datasets.synthetic import Synthetic
    from benchbox.execute import device_description
    from benchbox.plugins import Plugins

    train = generated_train(size, image_size)
    test = Synthetic(n_test=n_test).load("test", image_size)
    cls = Plugins(load_entry_points=False).methods.get(method)
    model = cls(**{**METHODS[method], **overrides})
    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    model.fit(train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    model.score(test)
    score_s = time.perf_counter() - start
    row = {"method": method, "params": {**METHODS[method], **overrides}, "train_images": size, "image_size": image_size,
           "fit_s": fit_s, "score_ms_per_image": 1000 * score_s / len(test),
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "peak_before_fit_mb": before_mb,
           "images_mb": train.images.numel() / 1e6, "device": device_description("cpu"),
           "torch": torch.__version__}  # fmt: skip
    if method == "patchcore":
        row["memory_bank"] = len(model.memory_)
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,4000")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--n-test", type=int, default=64)
    parser.add_argument("--out", default="benchmarks/results-pretrained")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a method parameter for every row (e.g. coreset_ratio=0.001 for a memory-only pass)",
    )
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        overrides = {k: float(v) for k, v in (item.split("=", 1) for item in args.set)}
        print(json.dumps(one(args.one[0], int(args.one[1]), args.image_size, args.n_test, overrides)))
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "results.json" if not args.set else "results-" + "-".join(args.set).replace("=", "") + ".json"
    path = out / name
    rows = json.loads(path.read_text()) if path.exists() else []
    for size in (int(s) for s in args.sizes.split(",")):
        for method in args.methods.split(","):
            command = [sys.executable, __file__, "--one", method, str(size), "--image-size", str(args.image_size),
                       "--n-test", str(args.n_test), *(f"--set={item}" for item in args.set)]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            print(json.dumps(row), flush=True)
            # Each row is written as it finishes, replacing an earlier run of the same row: a run of
            # the large sizes adds to the committed small ones, and a killed run keeps its rows.
            rows = [r for r in rows if _row_id(r) != _row_id(row)] + [row]
            rows.sort(key=lambda r: (r["train_images"], r["method"]))
            path.write_text(json.dumps(rows, indent=1) + "\n")


def _row_id(row: dict) -> tuple:
    return row["method"], row["train_images"], row["image_size"], json.dumps(row["params"], sort_keys=True)


if __name__ == "__main__":
    main()
