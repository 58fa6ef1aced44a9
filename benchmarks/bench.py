"""benchbox performance harness: one run, one machine, one table (markdown + JSON).

    python benchmarks/bench.py                      # defaults: 64×64, batch 64, CPU
    python benchmarks/bench.py --size 256 --device cuda --out benchmarks/gpu

Measures per method: training images/s, scoring images/s, FLOPs of one training step
(torch's FLOP counter) and the achieved FLOP/s against dense fp32 matmul FLOP/s measured in
the same run on the same device; peak memory; and for the data path, first versus cached
load of an image folder and the share of an epoch spent outside the training steps.
Run it alone: anything else on the machine changes the numbers.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchbox import __version__
from benchbox.plugins import Plugins
from benchbox.training import resolve_device, to_unit

METHODS = ["ae", "vae", "ssim_ae", "fanogan", "ganomaly", "salad"]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_flops(device, n=2048, seconds=3.0) -> float:
    """Dense fp32 matmul FLOP/s: the practical ceiling of this device."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    sync(device)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    sync(device)
    return 2 * n**3 * count / (time.perf_counter() - start)


def prepared(name, size, batch, device, n_images):
    from benchbox.datasets.synthetic import Synthetic

    train = Synthetic(n_train=n_images).load("train", size)
    method = Plugins(load_entry_points=False).methods.get(name)(epochs=1, batch_size=batch, device=str(device))
    method.device_ = device
    method.nets_ = torch.nn.ModuleDict()
    method.optimizers_ = []
    method.build(size)
    method.nets_.to(device)
    method.phase_ = method.phases()[0]  # f-AnoGAN: timed in its GAN phase
    method.step_ = 0
    return method, train


def time_training(name, size, batch, device, steps, warmup=3):
    method, train = prepared(name, size, batch, device, batch)
    x = to_unit(train.images[:batch].to(device))
    method.nets_.train()
    try:
        with FlopCounterMode(display=False) as counter:
            method.train_step(x)
        flops = counter.get_total_flops()
    except RuntimeError:  # torch's counter cannot follow a double backward (WGAN-GP's penalty)
        flops = None
    for _ in range(warmup):
        method.train_step(x)
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        method.train_step(x)
    sync(device)
    elapsed = (time.perf_counter() - start) / steps
    return flops, elapsed, method


def time_scoring(method, size, device, n=1000):
    from benchbox.datasets.synthetic import Synthetic

    test = Synthetic(n_test=n).load("test", size)
    method.score(test.images[:64])  # warm-up
    sync(device)
    start = time.perf_counter()
    method.score(test.images)
    sync(device)
    return n / (time.perf_counter() - start)


def data_path(size, n_files=2000):
    """First (decode) vs cached load of a JPEG folder, in seconds."""
    from PIL import Image

    from benchbox.datasets.folder import FolderDataset

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rng = np.random.default_rng(0)
        for split, classes in (("train", ["NORMAL"]), ("test", ["NORMAL", "CNV"])):
            for cls in classes:
                folder = root / split / cls
                folder.mkdir(parents=True)
                for i in range(n_files // 3):
                    Image.fromarray(rng.integers(0, 256, (496, 512), dtype=np.uint8)).save(folder / f"{i}.jpeg")
        times = []
        for _ in range(2):
            data = FolderDataset(data_root=str(root), cache_dir=str(root / "cache"))
            start = time.perf_counter()
            data.load("train", size)
            times.append(time.perf_counter() - start)
        return {"files": n_files // 3, "first_s": times[0], "cached_s": times[1], "speedup": times[0] / times[1]}


def epoch_overhead(name, size, batch, device, n_images=1024):
    """Share of a whole one-epoch fit spent outside train_step (data slicing, scaling, set-up)."""
    from benchbox.datasets.synthetic import Synthetic

    train = Synthetic(n_train=n_images).load("train", size)
    inside = [0.0]

    def one_fit() -> float:
        method = Plugins(load_entry_points=False).methods.get(name)(epochs=1, batch_size=batch, device=str(device))
        original = method.train_step

        def timed(x):
            sync(device)
            start = time.perf_counter()
            out = original(x)
            sync(device)
            inside[0] += time.perf_counter() - start
            return out

        method.train_step = timed
        start = time.perf_counter()
        method.fit(train)
        return time.perf_counter() - start

    one_fit()  # warm-up
    inside[0] = 0.0
    total = one_fit()
    return {"epoch_s": total, "outside_s": total - inside[0], "outside_share": (total - inside[0]) / total}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--out", default=str(Path(__file__).with_name("results")))
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    torch.manual_seed(0)

    ceiling = matmul_flops(device)
    rows = []
    for name in args.methods.split(","):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        flops, step_s, method = time_training(name, args.size, args.batch, device, args.steps)
        scoring = time_scoring(method, args.size, device)
        row = {"method": name, "train_img_s": args.batch / step_s, "score_img_s": scoring,
               "step_gflop": flops and flops / 1e9, "achieved_gflop_s": flops and flops / step_s / 1e9,
               "share_of_matmul": flops and flops / step_s / ceiling, "peak_rss_mb": peak_rss_mb()}
        if device.type == "cuda":
            row["max_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    overhead = epoch_overhead("ae", args.size, args.batch, device)
    data = data_path(args.size)
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "threads": torch.get_num_threads(),
                    "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"},
        "versions": {"benchbox": __version__, "torch": torch.__version__, "python": platform.python_version()},
        "settings": {"size": args.size, "batch": args.batch, "device": str(device), "steps": args.steps},
        "matmul_gflop_s": ceiling / 1e9, "methods": rows, "epoch_overhead_ae": overhead, "data": data,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "results.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r) -> str:
    s = r["settings"]
    lines = [f"# benchbox benchmark — {r['date']}", "",
             f"{r['machine']['device']} ({r['machine']['processor']}, {r['machine']['threads']} threads), "
             f"{r['machine']['platform']}; benchbox {r['versions']['benchbox']}, torch {r['versions']['torch']}. "
             f"{s['size']}×{s['size']}, batch {s['batch']}, device {s['device']}.", "",
             f"Dense fp32 matmul: **{r['matmul_gflop_s']:.1f} GFLOP/s** (the ceiling below).", "",
             "| method | train img/s | score img/s | GFLOP per step | achieved GFLOP/s | share of matmul | peak RSS MB |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for m in r["methods"]:
        if m["step_gflop"] is None:
            flop_cells = "n/a (double backward) | n/a | n/a"
        else:
            flop_cells = f"{m['step_gflop']:.2f} | {m['achieved_gflop_s']:.1f} | {m['share_of_matmul']:.0%}"
        lines.append(f"| {m['method']} | {m['train_img_s']:.0f} | {m['score_img_s']:.0f} | {flop_cells} | "
                     f"{m['peak_rss_mb']:.0f} |")
    o, d = r["epoch_overhead_ae"], r["data"]
    lines += ["", f"Epoch outside the training steps (AE, 1,024 images): {o['outside_share']:.1%} "
                  f"({o['outside_s']:.2f} s of {o['epoch_s']:.2f} s).",
              f"Image folder, {d['files']} JPEGs of 512×496: first load {d['first_s']:.2f} s, cached "
              f"{d['cached_s']:.3f} s ({d['speedup']:.0f}×).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
