"""Our GANomaly against anomalib's (a popular, maintained implementation), same images, size
and batch, measured in one run on one machine:

- per training step: images/s inside the step (data loading excluded on both sides);
- end to end: one training epoch over the same JPEG folder, from files to trained weights —
  benchbox (its warm decoded cache, then ``fit``) against anomalib's own ``Engine.fit``.

    pip install -e ".[peer]"       # anomalib: a benchmark-only dependency
    python benchmarks/peer_anomalib.py --out benchmarks/results-peer

Run it alone on the machine. The two models are each project's default GANomaly at this size
(anomalib: 3-channel DCGAN, 64 base features, latent 100; benchbox: 1-channel backbone,
width 32→256, latent 128), so FLOPs per image are reported beside the speeds.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from bench import CountFlops, count_flops, matmul_flops, time_training, write_results  # noqa: E402

from benchbox import __version__  # noqa: E402
from benchbox.datasets.folder import FolderDataset  # noqa: E402
from benchbox.plugins import Plugins  # noqa: E402


def write_folder(root: Path, n_train: int, n_test: int, seed: int = 0) -> None:
    """Grayscale JPEGs of OCT's size (512×496): smooth structure plus speckle-like noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:496, 0:512]
    for split, cls, n in (("train", "NORMAL", n_train), ("test", "NORMAL", n_test), ("test", "CNV", n_test)):
        folder = root / split / cls
        folder.mkdir(parents=True)
        for i in range(n):
            phase = rng.uniform(0, 2 * np.pi)
            base = 110 + 60 * np.sin(yy / 40 + phase) * np.cos(xx / 90)
            image = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(image).save(folder / f"{i:05d}.jpeg", quality=90)


class StepTimer:
    """Lightning callback: wall time inside each training step (after ``warmup`` steps)."""

    def __init__(self, warmup: int):
        from lightning.pytorch.callbacks import Callback

        timer = self

        class _Callback(Callback):
            def on_train_batch_start(self, trainer, module, batch, batch_idx):
                timer.start = time.perf_counter()

            def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
                if batch_idx >= warmup:
                    timer.steps.append(time.perf_counter() - timer.start)

        self.steps: list[float] = []
        self.start = 0.0
        self.callback = _Callback()


def anomalib_epoch(root: Path, size: int, batch: int, workers: int, warmup: int) -> dict:
    """anomalib's GANomaly, one epoch with Engine.fit (no validation), timed whole and per step."""
    from anomalib.data import Folder
    from anomalib.engine import Engine
    from anomalib.models import Ganomaly

    datamodule = Folder(
        name="peer",
        root=root,
        normal_dir="train/NORMAL",
        abnormal_dir="test/CNV",
        normal_test_dir="test/NORMAL",
        train_batch_size=batch,
        eval_batch_size=batch,
        num_workers=workers,
        val_split_mode="none",
        seed=0,
    )
    model = Ganomaly(
        batch_size=batch, pre_processor=Ganomaly.configure_pre_processor(image_size=(size, size)), visualizer=False
    )
    timer = StepTimer(warmup)
    with tempfile.TemporaryDirectory() as out:
        engine = Engine(
            max_epochs=1,
            callbacks=[timer.callback],
            default_root_dir=out,
            enable_progress_bar=False,
            limit_val_batches=0,
        )
        start = time.perf_counter()
        engine.fit(model=model, datamodule=datamodule)
        total = time.perf_counter() - start
    step = float(np.mean(timer.steps))
    x = torch.randn(batch, 3, size, size)
    return {
        "epoch_s": total,
        "step_s": step,
        "train_img_s": batch / step,
        "steps_timed": len(timer.steps),
        "gflop_per_image": anomalib_step_flops(model, x) / batch / 1e9,
        "workers": workers,
    }


def anomalib_step_flops(model, x) -> float:
    """FLOPs of anomalib's training-step arithmetic (forward, both backwards), counted eagerly."""
    net = model.model
    net.train()
    with CountFlops() as counter:
        padded, fake, latent_i, latent_o = net(x)
        pred_real, _ = net.discriminator(padded)
        pred_fake, _ = net.discriminator(fake)
        model.generator_loss(latent_i, latent_o, padded, fake, pred_real, pred_fake).backward(retain_graph=True)
        pred_fake, _ = net.discriminator(fake.detach())
        model.discriminator_loss(pred_real, pred_fake).backward()
    return counter.total


def benchbox_epoch(root: Path, size: int, batch: int, steps: int) -> dict:
    """benchbox's GANomaly: per-step speed (harness), then files → trained weights, warm cache."""
    device = torch.device("cpu")
    step_s, _ = time_training("ganomaly", size, batch, device, steps, "fp32")
    flops = count_flops("ganomaly", size, batch, device)
    with tempfile.TemporaryDirectory() as cache:
        FolderDataset(data_root=str(root), cache_dir=cache).load("train", size)  # warm the cache
        start = time.perf_counter()
        train = FolderDataset(data_root=str(root), cache_dir=cache).load("train", size)
        Plugins(load_entry_points=False).methods.get("ganomaly")(epochs=1, batch_size=batch).fit(train)
        total = time.perf_counter() - start
    return {"epoch_s": total, "step_s": step_s, "train_img_s": batch / step_s, "gflop_per_image": flops / batch / 1e9}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--train-images", type=int, default=1280)
    parser.add_argument("--steps", type=int, default=10, help="timed steps of ours (after 3 warm-up)")
    parser.add_argument("--workers", default="2,8", help="anomalib DataLoader workers to try (8: its default)")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results-peer")))
    args = parser.parse_args(argv)
    import anomalib

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "folder"
        write_folder(root, args.train_images, args.batch)
        ours = benchbox_epoch(root, args.size, args.batch, args.steps)
        print(json.dumps({"benchbox": ours}), file=sys.stderr, flush=True)
        theirs = []
        for workers in (int(w) for w in args.workers.split(",")):
            theirs.append(anomalib_epoch(root, args.size, args.batch, workers, warmup=3))
            print(json.dumps({"anomalib": theirs[-1]}), file=sys.stderr, flush=True)
    best = min(theirs, key=lambda r: r["epoch_s"])
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
        },
        "versions": {
            "benchbox": __version__,
            "anomalib": anomalib.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "settings": {
            "size": args.size,
            "batch": args.batch,
            "train_images": args.train_images,
            "jpeg": "512×496 grayscale",
        },
        "matmul_gflop_s": matmul_flops(torch.device("cpu")) / 1e9,
        "benchbox": ours,
        "anomalib": theirs,
        "ratio_step": ours["train_img_s"] / max(r["train_img_s"] for r in theirs),
        "ratio_epoch": best["epoch_s"] / ours["epoch_s"],
    }
    write_results(result, args.out, markdown(result))


def markdown(r) -> str:
    s = r["settings"]
    lines = [
        f"# GANomaly: benchbox against anomalib — {r['date']}",
        "",
        f"{r['machine']['processor']}, {r['machine']['threads']} threads, {r['machine']['platform']}; "
        f"benchbox {r['versions']['benchbox']}, anomalib {r['versions']['anomalib']}, torch "
        f"{r['versions']['torch']}. {s['train_images']} training JPEGs ({s['jpeg']}) at "
        f"{s['size']}×{s['size']}, batch {s['batch']}. Dense fp32 matmul {r['matmul_gflop_s']:.1f} GFLOP/s.",
        "",
        "| implementation | train img/s (inside the step) | GFLOP per image | achieved GFLOP/s "
        "| one epoch, files → weights (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, t in [("benchbox", r["benchbox"])] + [(f"anomalib, {t['workers']} workers", t) for t in r["anomalib"]]:
        how = "warm cache" if name == "benchbox" else "Engine.fit"
        lines.append(
            f"| {name} | {t['train_img_s']:.0f} | {t['gflop_per_image']:.2f} | "
            f"{t['train_img_s'] * t['gflop_per_image']:.1f} | {t['epoch_s']:.2f} ({how}) |"
        )
    lines += [
        "",
        f"Per training step: benchbox **{r['ratio_step']:.2f}×** anomalib's images/s. "
        f"End to end: **{r['ratio_epoch']:.2f}×** faster than anomalib's best epoch.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
