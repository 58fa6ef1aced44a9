"""Our PatchCore against anomalib 2.7's, on the same backbone, weights, inputs and coreset share:
fit time, peak memory and score time on generated 224×224 images at growing training sizes,
and AUROC beside fit time on a small real case (the OCT sample).

Both sides get the same uint8 images, turned into the same network input (one channel repeated
on three, scaled to [-1, 1]: the EfficientNet-Lite weights' normalisation), the same
EfficientNet-Lite0 weights (ours, mapped onto timm's ``tf_efficientnet_lite0``, loaded into
anomalib's feature extractor) and the same feature levels (strides 8 and 16; anomalib's
``layers=[2, 3]``). anomalib's ``PatchcoreModel`` is driven directly (its forward in training
mode, then ``subsample_embedding``), as its Lightning module does, so that data loading is
outside the timing on both sides. Each row runs in a fresh process (its peak memory its own),
and is saved as it ends; a second run adds only the rows not saved yet:

    pip install -e ".[peer]"       # anomalib: a benchmark-only dependency
    python benchmarks/peer_patchcore.py --sizes 250,500 --out benchmarks/results-peer-patchcore

Run it alone: on 2 cores anything else running changes the times.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench import measure_in_fresh_process, peak_rss_mb  # noqa: E402
from pretrained_scale import generated_train  # noqa: E402

IMPLEMENTATIONS = ("benchbox", "anomalib")


class Ours:
    def __init__(self, ratio: float, seed: int):
        from benchbox.methods.patchcore.method import PatchCore

        self.model = PatchCore(coreset_ratio=ratio, seed=seed)

    def fit(self, train):
        self.model.fit(train)
        return len(self.model.memory_)

    def score(self, test):
        scores = self.model.score(test)
        self.model.anomaly_maps(test)  # anomalib's forward makes its maps too
        return scores


class Anomalib:
    def __init__(self, ratio: float, seed: int, batch_size: int = 32):
        from anomalib.models.image.patchcore.torch_model import PatchcoreModel

        from benchbox.methods.pretrained import LITE_MEAN, LITE_STD, lite_classifier

        torch.manual_seed(seed)  # its coreset's random start
        self.ratio, self.batch_size = ratio, batch_size
        self.model = PatchcoreModel(layers=[2, 3], backbone="tf_efficientnet_lite0", pre_trained=False)
        ours, _ = lite_classifier("efficientnet_lite0")
        extractor = self.model.feature_extractor.feature_extractor
        missing, _ = extractor.load_state_dict(ours.state_dict(), strict=False)
        if missing:
            raise RuntimeError(f"anomalib's extractor has weights ours lacks: {missing[:5]}")
        self.mean = torch.tensor(LITE_MEAN).view(1, 3, 1, 1)
        self.std = torch.tensor(LITE_STD).view(1, 3, 1, 1)

    def _batches(self, data):
        for start in range(0, len(data), self.batch_size):
            x = data.images[start : start + self.batch_size].float().div(255).expand(-1, 3, -1, -1)
            yield (x - self.mean) / self.std

    def fit(self, train):
        self.model.train()
        for x in self._batches(train):
            self.model(x)
        self.model.subsample_embedding(self.ratio)
        return len(self.model.memory_bank)

    @torch.no_grad()
    def score(self, test):
        self.model.eval()
        return np.concatenate([self.model(x).pred_score.numpy().ravel() for x in self._batches(test)])


def one(implementation: str, data: str, size: int, ratio: float, seed: int, n_test: int) -> dict:
    """In this process: the images, then fit and score, timed; one row."""
    from benchbox.datasets.folder import OCT
    from benchbox.datasets.synthetic import Synthetic
    from benchbox.execute import device_description
    from benchbox.metrics import evaluate

    if data == "synthetic":
        train, test = generated_train(size, 224), Synthetic(n_test=n_test).load("test", 224)
    else:
        oct_sample = OCT(data_root=data)
        train, test = oct_sample.load("train", 224), oct_sample.load("test", 224)
    model = (Ours if implementation == "benchbox" else Anomalib)(ratio, seed)
    before = peak_rss_mb()
    start = time.perf_counter()
    bank = model.fit(train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    scores = model.score(test)
    score_s = time.perf_counter() - start
    return {
        "implementation": implementation, "data": data, "train_images": len(train), "test_images": len(test),
        "coreset_ratio": ratio, "seed": seed, "memory_bank": bank, "fit_s": fit_s,
        "score_ms_per_image": 1000 * score_s / len(test), "auroc": evaluate(test.labels, scores)["auroc"],
        "peak_rss_mb": peak_rss_mb(), "peak_before_fit_mb": before, "threads": torch.get_num_threads(),
        "device": device_description("cpu"), "torch": torch.__version__,
    }  # fmt: skip


def markdown(rows: list[dict]) -> str:
    lines = [
        "| data | training images | coreset | implementation | fit | score per image (with maps) | "
        "peak RSS | AUROC | fit: anomalib ÷ benchbox |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    fits = {(r["data"], r["train_images"], r["coreset_ratio"], r["implementation"]): r["fit_s"] for r in rows}
    for r in rows:
        key = (r["data"], r["train_images"], r["coreset_ratio"])
        ratio = fits.get((*key, "anomalib"), np.nan) / fits.get((*key, "benchbox"), np.nan)
        data = "generated" if r["data"] == "synthetic" else "OCT sample"
        lines.append(
            f"| {data} | {r['train_images']:,} | {r['coreset_ratio']:.0%} | {r['implementation']} | "
            f"{r['fit_s']:.1f} s | {r['score_ms_per_image']:.0f} ms | {r['peak_rss_mb']:,.0f} MB | "
            f"{r['auroc']:.4f} | {'' if r['implementation'] == 'benchbox' else f'{ratio:.2f}×'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="250,500", help="generated training sizes")
    parser.add_argument("--ratio", type=float, default=0.01, help="coreset share on the generated images")
    parser.add_argument("--oct", default="../shared/data/oct", help="OCT sample root ('' to skip)")
    parser.add_argument("--oct-ratio", type=float, default=0.1, help="coreset share on the OCT sample (the default)")
    parser.add_argument("--n-test", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results-peer-patchcore")
    parser.add_argument("--one", nargs=4, metavar=("IMPL", "DATA", "SIZE", "RATIO"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        impl, data, size, ratio = args.one
        print(json.dumps(one(impl, data, int(size), float(ratio), args.seed, args.n_test)))
        return
    cases = [("synthetic", size, args.ratio) for size in map(int, args.sizes.split(",")) if size]
    if args.oct:
        cases.append((args.oct, 0, args.oct_ratio))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "results.json"
    rows = json.loads(saved.read_text()) if saved.exists() else []  # rows measured before are kept
    for data, size, ratio in cases:
        for impl in IMPLEMENTATIONS:
            if any((r["implementation"], r["data"], r["coreset_ratio"]) == (impl, data, ratio)
                   and size in (0, r["train_images"]) for r in rows):  # fmt: skip
                continue
            command = [sys.executable, __file__, "--one", impl, data, str(size), str(ratio),
                       "--seed", str(args.seed), "--n-test", str(args.n_test)]  # fmt: skip
            measure_in_fresh_process(command, f"{impl} on {data} ({size})", rows, saved)
    (out / "results.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
