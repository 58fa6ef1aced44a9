"""Our STFPM and reverse distillation (RD4AD) against anomalib 2.7's, on the same data, size,
epochs, batch, optimiser and teacher weights: fit time, images/s at scoring (with maps), peak
memory, and the image and pixel AUROC each reaches. SimpleNet is not in anomalib 2.7.

- STFPM: both on EfficientNet-Lite0 (strides 4, 8, 16): our weights loaded into anomalib's timm
  teacher, anomalib's student untrained as ours.
- RD4AD: anomalib builds its decoder for ResNets only, so both run on ResNet-18 (layer1-3) with
  one weights file both load: a seeded, *untrained* torchvision ResNet-18 (no ImageNet weights can
  be fetched here). A timing case; the AUROCs compare the two implementations, not the method.

Both are driven directly (the models' training forwards, their own losses, the same optimiser
settings: the papers'), as their Lightning modules do, so that data loading is outside the timing
on both sides; each row runs in a fresh process and is saved as it ends:

    pip install -e ".[peer]"
    python benchmarks/peer_distillation.py --data ../shared/data/lgg_mri --out benchmarks/results-peer-distillation

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

CASES = (("stfpm", "benchbox"), ("stfpm", "anomalib"), ("rd4ad", "benchbox"), ("rd4ad", "anomalib"))


def resnet18_weights(path: Path, seed: int) -> Path:
    """A seeded, untrained torchvision ResNet-18 state dict that both sides load."""
    import torchvision

    torch.manual_seed(seed)
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return path


class Ours:
    def __init__(self, method: str, epochs: int, batch: int, seed: int, weights: str):
        from benchbox.plugins import Plugins

        params = {"epochs": epochs, "batch_size": batch, "seed": seed}
        if method == "rd4ad":
            params.update(backbone="resnet18", weights=weights)
        self.model = Plugins(load_entry_points=False).methods.get(method)(**params)

    def fit(self, train):
        self.model.fit(train)

    def score(self, test):
        return self.model.score(test), self.model.anomaly_maps(test)


class Anomalib:
    """anomalib's torch model, trained by the loop its Lightning module runs."""

    def __init__(self, method: str, epochs: int, batch: int, seed: int, weights: str):
        from benchbox.methods.pretrained import FeatureBackbone

        torch.manual_seed(seed)
        self.epochs, self.batch, self.seed, self.method = epochs, batch, seed, method
        if method == "stfpm":
            import anomalib.models.image.stfpm.torch_model as stfpm
            from anomalib.models.image.stfpm.loss import STFPMLoss

            real = stfpm.TimmFeatureExtractor
            stfpm.TimmFeatureExtractor = lambda **kw: real(**{**kw, "pre_trained": False})  # no download
            self.model = stfpm.STFPMModel(layers=[1, 2, 3], backbone="tf_efficientnet_lite0")
            stfpm.TimmFeatureExtractor = real
            teacher = FeatureBackbone("efficientnet_lite0", (1, 2, 3))
            self._load(self.model.teacher_model.feature_extractor, teacher.net.state_dict())
            self.loss = STFPMLoss()
            self.optimizer = torch.optim.SGD(
                self.model.student_model.parameters(), lr=0.4, momentum=0.9, weight_decay=1e-4
            )
        else:
            from anomalib.models.image.reverse_distillation.anomaly_map import AnomalyMapGenerationMode
            from anomalib.models.image.reverse_distillation.loss import ReverseDistillationLoss
            from anomalib.models.image.reverse_distillation.torch_model import ReverseDistillationModel

            self.model = ReverseDistillationModel(
                backbone="resnet18",
                input_size=(64, 64),
                layers=["layer1", "layer2", "layer3"],
                anomaly_map_mode=AnomalyMapGenerationMode.ADD,
                pre_trained=False,
            )
            teacher = FeatureBackbone("resnet18", (1, 2, 3), weights)
            self._load(self.model.encoder.feature_extractor, teacher.net.state_dict())
            self.loss = ReverseDistillationLoss()
            trained = [*self.model.decoder.parameters(), *self.model.bottleneck.parameters()]
            self.optimizer = torch.optim.Adam(trained, lr=0.005, betas=(0.5, 0.999))
        self.normalise = teacher.normalise

    @staticmethod
    def _load(extractor, state):
        missing, _ = extractor.load_state_dict(state, strict=False)
        if missing:
            raise RuntimeError(f"anomalib's teacher has weights ours lacks: {missing[:5]}")

    def _input(self, images):
        return self.normalise(images.float().div(127.5).sub(1))  # [-1, 1] -> the backbone's input

    def fit(self, train):
        order = torch.Generator().manual_seed(self.seed)
        for _ in range(self.epochs):
            self.model.train()
            if self.method == "stfpm":
                self.model.teacher_model.eval()
            else:
                self.model.encoder.eval()
            for index in torch.randperm(len(train), generator=order).split(self.batch):
                loss = self.loss(*self.model(self._input(train.images[index])))
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()

    @torch.no_grad()
    def score(self, test):
        self.model.eval()
        out = [self.model(self._input(test.images[i : i + 256])) for i in range(0, len(test), 256)]
        scores = torch.cat([o.pred_score.flatten() for o in out]).numpy()
        maps = torch.cat([o.anomaly_map[:, 0] for o in out]).numpy()
        return scores, maps


def one(method: str, implementation: str, data: str, size: int, epochs: int, batch: int, seed: int, weights: str):
    from benchbox.datasets.kaggle_3m import LggMri
    from benchbox.localisation import pixel_metrics
    from benchbox.metrics import evaluate
    from benchbox.training import device_description

    dataset = LggMri(data_root=data)
    train, test = dataset.load("train", size), dataset.load("test", size)
    model = (Ours if implementation == "benchbox" else Anomalib)(method, epochs, batch, seed, weights)
    before = peak_rss_mb()
    start = time.perf_counter()
    model.fit(train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    scores, maps = model.score(test)
    score_s = time.perf_counter() - start
    return {
        "method": method, "implementation": implementation, "train_images": len(train), "test_images": len(test),
        "image_size": size, "epochs": epochs, "batch_size": batch, "seed": seed, "fit_s": fit_s,
        "score_images_per_s": len(test) / score_s, "auroc": evaluate(test.labels, scores)["auroc"],
        "pixel_auroc": pixel_metrics(maps, test.masks[:, 0].numpy(), test.mask_known)["pixel_auroc"],
        "peak_rss_mb": peak_rss_mb(), "peak_before_fit_mb": before, "threads": torch.get_num_threads(),
        "device": device_description("cpu"), "torch": torch.__version__,
    }  # fmt: skip


def markdown(rows: list[dict]) -> str:
    lines = [
        "| method (teacher) | implementation | fit | fit: anomalib ÷ benchbox | scoring (with maps) | peak RSS | "
        "image AUROC | pixel AUROC |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    fits = {(r["method"], r["implementation"]): r["fit_s"] for r in rows}
    for r in sorted(rows, key=lambda r: CASES.index((r["method"], r["implementation"]))):
        ratio = fits.get((r["method"], "anomalib"), np.nan) / fits.get((r["method"], "benchbox"), np.nan)
        teacher = "EfficientNet-Lite0" if r["method"] == "stfpm" else "ResNet-18, untrained"
        lines.append(
            f"| {r['method'].upper()} ({teacher}) | {r['implementation']} | {r['fit_s']:.1f} s | "
            f"{'' if r['implementation'] == 'benchbox' else f'{ratio:.2f}×'} | {r['score_images_per_s']:.0f} images/s | "
            f"{r['peak_rss_mb']:,.0f} MB | {r['auroc']:.4f} | {r['pixel_auroc']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/lgg_mri", help="the LGG kaggle_3m sample")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results-peer-distillation")
    parser.add_argument("--one", nargs=3, metavar=("METHOD", "IMPL", "WEIGHTS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        method, impl, weights = args.one
        print(json.dumps(one(method, impl, args.data, args.size, args.epochs, args.batch, args.seed, weights)))
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    weights = resnet18_weights(out / "resnet18-untrained.pth", args.seed)
    saved = out / "results.json"
    rows = json.loads(saved.read_text()) if saved.exists() else []  # rows measured before are kept
    for method, impl in CASES:
        if any((r["method"], r["implementation"]) == (method, impl) for r in rows):
            continue
        command = [sys.executable, __file__, "--one", method, impl, str(weights), "--data", args.data,
                   "--size", str(args.size), "--epochs", str(args.epochs), "--batch", str(args.batch),
                   "--seed", str(args.seed)]  # fmt: skip
        measure_in_fresh_process(command, f"{method} / {impl}", rows, saved)
    weights.unlink()  # 45 MB, made again from the seed: never committed
    (out / "results.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
