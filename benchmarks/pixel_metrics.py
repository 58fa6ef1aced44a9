"""What the pixel metrics cost at COVID-QU-Ex's size: ``--images`` anomaly maps of ``--size``²
pixels (float32, half of the images with a mask of a few blobs), scored by
:func:`benchbox.localisation.pixel_metrics` (pixel AUROC, AUPRO, best Dice from binned counts)
and, for pixel AUROC alone, by scikit-learn's ``roc_auc_score`` on the flattened maps (what
most AD code does: it copies every score at least twice, to float64 and while sorting).
Peak memory is what ``tracemalloc`` sees beyond the maps themselves (numpy reports to it).

    python benchmarks/pixel_metrics.py --images 700 --size 256 --out benchmarks/results-pixel

Run it alone: the timings are wall-clock.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from benchbox.localisation import pixel_metrics
from benchbox.training import device_description


def make_maps(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size), dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n // 2, n):
        for _ in range(rng.integers(1, 4)):
            cy, cx, r = rng.uniform(0.2, 0.8) * size, rng.uniform(0.2, 0.8) * size, rng.uniform(0.04, 0.15) * size
            masks[i][(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 1
    maps = (rng.normal(size=masks.shape) + 1.5 * masks).astype(np.float32)
    return maps, masks


def measured(fn):
    tracemalloc.start()
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return value, seconds, peak


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=700)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", default="benchmarks/results-pixel")
    args = parser.parse_args(argv)
    maps, masks = make_maps(args.images, args.size)
    ours, ours_s, ours_peak = measured(lambda: pixel_metrics(maps, masks))
    exact, sk_s, sk_peak = measured(lambda: roc_auc_score(masks.ravel(), maps.ravel()))
    result = {
        "images": args.images,
        "size": args.size,
        "maps_mb": maps.nbytes / 2**20,
        "benchbox_s": ours_s,
        "benchbox_peak_mb": ours_peak / 2**20,
        "benchbox_pixel_auroc": ours["pixel_auroc"],
        "aupro": ours["aupro"],
        "best_dice": ours["best_dice"],
        "sklearn_auroc_s": sk_s,
        "sklearn_auroc_peak_mb": sk_peak / 2**20,
        "sklearn_pixel_auroc": exact,
        "auroc_difference": abs(ours["pixel_auroc"] - exact),
        "device": device_description("cpu"),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
