"""benchbox performance harness: one run, one machine, one table (markdown + JSON).

    python benchmarks/bench.py                      # defaults: 64×64, batch 64, CPU
    python benchmarks/bench.py --size 256 --device cuda --variants fp32,bf16,bf16+cl \
        --epoch-method salad --epoch-images 17922 --out benchmarks/results-gpu

A variant is a '+'-joined set of fp32|bf16 (autocast), cl (channels-last), compile
(torch.compile), heur (cuDNN's heuristic algorithm choice instead of its autotuner, which
training turns on on CUDA), gn (InstanceNorm run as GroupNorm, one group per channel), sync
(GANomaly reads its discriminator's loss on the host every step, as its reference code does,
instead of one step late): each method's training step is timed once per variant.
``--profile salad:bf16`` writes a torch.profiler table of that training step instead.

Measures per method: training images/s, scoring images/s, FLOPs of a training step
(torch's per-operation FLOP formulas) and the achieved FLOP/s against dense matmul FLOP/s measured in
the same run on the same device; peak memory; and for the data path, first versus cached
load of an image folder and the share of an epoch spent outside the training steps.
Run it alone: anything else on the machine changes the numbers.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from benchbox import __version__
from benchbox.plugins import Plugins
from benchbox.training import resolve_device

METHODS = ["ae", "vae", "ssim_ae", "fanogan", "ganomaly", "salad"]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_flops(device, n=2048, seconds=3.0, dtype=torch.float32) -> float:
    """Dense matmul FLOP/s in ``dtype``: the practical ceiling of this device."""
    if device.type == "cuda":
        n = 8192  # 2048² is too small to fill a GPU
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    sync(device)
    return 2 * n**3 * count / (time.perf_counter() - start)


VARIANT_FLAGS = {"fp32", "bf16", "cl", "compile", "heur", "gn", "sync"}


def parse_variant(variant: str) -> dict:
    """A variant's method parameters (``heur``, ``gn``, ``sync`` are none: see :func:`prepared`)."""
    flags = set(variant.split("+"))
    if flags - VARIANT_FLAGS or {"fp32", "bf16"} <= flags:
        raise SystemExit(
            f"--variants: cannot read {variant!r}; use e.g. fp32, bf16, bf16+cl, bf16+cl+compile, bf16+heur, bf16+cl+gn"
        )
    return {
        "precision": "bf16" if "bf16" in flags else "fp32",
        "channels_last": "cl" in flags,
        "compile": "compile" in flags,
    }


def prepared(name, size, batch, device, variant="fp32"):
    """A method set up as ``fit`` sets it up (f-AnoGAN in its GAN phase), without training.
    ``heur`` in the variant: cuDNN picks convolution algorithms by its heuristics, as before
    ``fit`` turned on its autotuner (``cudnn.benchmark``) on CUDA."""
    method = Plugins(load_entry_points=False).methods.get(name)(
        epochs=1, batch_size=batch, device=str(device), **parse_variant(variant)
    )
    method.setup(size)
    flags = variant.split("+")
    torch.backends.cudnn.benchmark = device.type == "cuda" and "heur" not in flags
    if "gn" in flags:
        instance_to_group_norm(method.nets_)
    if "sync" in flags:
        method.defer_collapse_check = False  # only GANomaly has the check
    return method


def instance_to_group_norm(module: torch.nn.Module) -> None:
    """``gn`` in a variant: every InstanceNorm2d becomes a GroupNorm with one group per channel
    — the same arithmetic, with the same parameter tensors (so the optimisers keep them), but
    kernels that work on channels-last tensors, where InstanceNorm runs as a batch norm over a
    reshaped NCHW view. A candidate to measure before the networks adopt it."""
    for name, child in module.named_children():
        if isinstance(child, torch.nn.InstanceNorm2d):
            group = torch.nn.GroupNorm(child.num_features, child.num_features, eps=child.eps, affine=child.affine)
            if child.affine:
                group.weight, group.bias = child.weight, child.bias
            setattr(module, name, group)
        else:
            instance_to_group_norm(child)


def random_input(method, batch, size, device) -> torch.Tensor:
    """A batch of random pixels as the method's networks take it (in [-1, 1], its layout)."""
    return method._input(torch.randint(0, 256, (batch, 1, size, size), dtype=torch.uint8, device=device))


def profile_step(name, size, batch, device, variant, out: Path, steps=5, warmup=3) -> Path:
    """torch.profiler over ``steps`` training steps (after ``warmup`` steps): the operations
    that take the most device time (CPU time on a CPU), as a text table in ``out``."""
    from torch.profiler import ProfilerActivity, profile

    method = prepared(name, size, batch, device, variant)
    x = random_input(method, batch, size, device)
    method.nets_.train()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with method._autocast():
        for _ in range(warmup):  # cuDNN's autotuner and the allocator settle here
            method.train_step(x)
        sync(device)
        with profile(activities=activities) as prof:
            for _ in range(steps):
                method.train_step(x)
            sync(device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    path = out / f"profile-{name}-{variant}.txt"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"{name}, {variant}, {size}×{size}, batch {batch}, {steps} steps on {device}\n"
        + prof.key_averages().table(sort_by=key, row_limit=30, max_name_column_width=60)
    )
    return path


class CountFlops(TorchDispatchMode):
    """FLOPs of every aten operation run inside it, by torch's own per-operation formulas
    (those of ``torch.utils.flop_counter``). Unlike ``FlopCounterMode`` it tracks no module
    hierarchy, whose backward hooks refuse a double backward (WGAN-GP's gradient penalty)."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def count_flops(name, size, batch, device, steps=5) -> float:
    """FLOPs of an eager fp32 training step, averaged over ``steps`` steps (f-AnoGAN updates
    its generator once every n_critic = 5 critic steps)."""
    method = prepared(name, size, batch, device)
    x = random_input(method, batch, size, device)
    method.nets_.train()
    with CountFlops() as counter:
        for _ in range(steps):
            method.train_step(x)
    return counter.total / steps


def time_training(name, size, batch, device, steps, variant, warmup=3):
    from benchbox.datasets.synthetic import Synthetic

    method = prepared(name, size, batch, device, variant)
    images = Synthetic(n_train=batch).load("train", size).images
    x = method._input(images[:batch].to(device))
    method.nets_.train()
    with method._autocast():
        for _ in range(warmup):  # with compile: the first steps compile
            method.train_step(x)
        sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            method.train_step(x)
        sync(device)
    return (time.perf_counter() - start) / steps, method


def epoch_time(name, size, batch, device, n_images, variant) -> dict:
    """Seconds of one whole training epoch (the second of two, so compilation and warm-up
    are not in it) over ``n_images`` random images held on the device, as ``fit`` runs it."""
    from benchbox.contracts import ImageSet

    images = torch.randint(0, 256, (n_images, 1, size, size), dtype=torch.uint8)
    train = ImageSet(images, np.zeros(n_images), ["NORMAL"] * n_images, [str(i) for i in range(n_images)])
    method = Plugins(load_entry_points=False).methods.get(name)(
        epochs=2, batch_size=batch, device=str(device), **parse_variant(variant)
    )
    stamps = [time.perf_counter()]
    method.fit(train, on_epoch=lambda *_: stamps.append(time.perf_counter()))  # after a host sync
    return {
        "method": name,
        "variant": variant,
        "images": n_images,
        "size": size,
        "batch": batch,
        "first_epoch_s": stamps[1] - stamps[0],
        "epoch_s": stamps[2] - stamps[1],
    }


@functools.lru_cache(maxsize=2)
def scoring_images(size, n=1000):
    from benchbox.datasets.synthetic import Synthetic

    return Synthetic(n_test=n).load("test", size)


def time_scoring(method, size, device, n=1000):
    test = scoring_images(size, n)
    method.score(test.subset(range(64)))  # warm-up
    sync(device)
    start = time.perf_counter()
    method.score(test)
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


def write_results(result: dict, out: str, table: str) -> None:
    """The raw numbers as JSON and the table as markdown, side by side in ``out``; the table printed."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    (folder / "results.md").write_text(table)
    print(table)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_in_fresh_process(command: list[str], what: str, rows: list[dict], saved: Path) -> None:
    """One benchmark row run by ``command`` in a fresh process (its peak memory its own; its last
    line of output is the row as JSON), appended to ``rows`` and saved at once: a stopped run
    resumes from the rows saved. A failure ends the run, naming ``what`` with the error's tail."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{what}: failed\n{done.stderr[-3000:]}")
    rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(json.dumps(rows[-1]), flush=True)
    saved.write_text(json.dumps(rows, indent=1) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--variants", default="fp32", help="comma list, e.g. fp32,bf16,bf16+cl,bf16+cl+compile")
    parser.add_argument("--epoch-method", default=None, help="also time one whole epoch of this method")
    parser.add_argument("--epoch-images", type=int, default=17922, help="images in that epoch (paper: OCT2017)")
    parser.add_argument("--epoch-variants", default=None, help="variants for the epoch (default: --variants)")
    parser.add_argument("--skip-data", action="store_true", help="skip the image-folder cache measurement")
    parser.add_argument(
        "--matmul-seconds", type=float, default=3.0, help="how long to time the dense-matmul ceiling, per precision"
    )
    parser.add_argument("--out", default=str(Path(__file__).with_name("results")))
    parser.add_argument(
        "--profile",
        default=None,
        metavar="METHOD:VARIANT",
        help="only profile this method's training step (e.g. salad:bf16) and write its table to --out",
    )
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    variants = args.variants.split(",")
    for variant in variants:
        parse_variant(variant)
    torch.manual_seed(0)
    if args.profile:
        name, _, variant = args.profile.partition(":")
        print(profile_step(name, args.size, args.batch, device, variant or "fp32", Path(args.out)).read_text())
        return

    ceilings = {"fp32": matmul_flops(device, seconds=args.matmul_seconds)}
    if any(parse_variant(v)["precision"] == "bf16" for v in variants):
        ceilings["bf16"] = matmul_flops(device, seconds=args.matmul_seconds, dtype=torch.bfloat16)
    rows = []
    for name in args.methods.split(","):
        flops = count_flops(name, args.size, args.batch, device)
        for variant in variants:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            step_s, method = time_training(name, args.size, args.batch, device, args.steps, variant)
            scoring = time_scoring(method, args.size, device)
            ceiling = ceilings[parse_variant(variant)["precision"]]
            row = {
                "method": name,
                "variant": variant,
                "train_img_s": args.batch / step_s,
                "score_img_s": scoring,
                "step_gflop": flops / 1e9,
                "achieved_gflop_s": flops / step_s / 1e9,
                "share_of_matmul": flops / step_s / ceiling,
                "peak_rss_mb": peak_rss_mb(),
            }
            if device.type == "cuda":
                row["max_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    epochs = []
    if args.epoch_method:
        for variant in (args.epoch_variants or args.variants).split(","):
            epochs.append(epoch_time(args.epoch_method, args.size, args.batch, device, args.epoch_images, variant))
            print(json.dumps(epochs[-1]), file=sys.stderr, flush=True)
    overhead = epoch_overhead("ae", args.size, args.batch, device)
    data = None if args.skip_data else data_path(args.size)
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        },
        "versions": {"benchbox": __version__, "torch": torch.__version__, "python": platform.python_version()},
        "settings": {
            "size": args.size,
            "batch": args.batch,
            "device": str(device),
            "steps": args.steps,
            # PyTorch's defaults: TF32 for cuDNN convolutions, not for matmul; so on
            # Ampere and later, fp32 convolutions may beat the fp32 matmul ceiling.
            "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn_conv": torch.backends.cudnn.allow_tf32},
        },
        "matmul_gflop_s": {k: v / 1e9 for k, v in ceilings.items()},
        "methods": rows,
        "epochs": epochs,
        "epoch_overhead_ae": overhead,
        "data": data,
    }
    write_results(result, args.out, markdown(result))


def markdown(r) -> str:
    s = r["settings"]
    ceilings = ", ".join(f"{k} **{v:.1f} GFLOP/s**" for k, v in r["matmul_gflop_s"].items())
    lines = [
        f"# benchbox benchmark — {r['date']}",
        "",
        f"{r['machine']['device']} ({r['machine']['processor']}, {r['machine']['threads']} threads), "
        f"{r['machine']['platform']}; benchbox {r['versions']['benchbox']}, torch {r['versions']['torch']}. "
        f"{s['size']}×{s['size']}, batch {s['batch']}, device {s['device']}.",
        "",
        f"Dense matmul: {ceilings} (the ceiling for each variant's precision).",
        "",
        "| method | variant | train img/s | score img/s | GFLOP per step | achieved GFLOP/s | share of matmul "
        "| peak RSS MB | max CUDA alloc MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in r["methods"]:
        flop_cells = f"{m['step_gflop']:.2f} | {m['achieved_gflop_s']:.1f} | {m['share_of_matmul']:.0%}"
        cuda = f"{m['max_allocated_mb']:.0f}" if "max_allocated_mb" in m else "–"
        lines.append(
            f"| {m['method']} | {m['variant']} | {m['train_img_s']:.0f} | {m['score_img_s']:.0f} | "
            f"{flop_cells} | {m['peak_rss_mb']:.0f} | {cuda} |"
        )
    for e in r.get("epochs", []):
        lines += [
            "",
            f"One {e['method']} epoch ({e['variant']}) over {e['images']:,} images of "
            f"{e['size']}×{e['size']}, batch {e['batch']}: **{e['epoch_s']:.1f} s** "
            f"(first epoch, with warm-up: {e['first_epoch_s']:.1f} s).",
        ]
    o, d = r["epoch_overhead_ae"], r["data"]
    lines += [
        "",
        f"Epoch outside the training steps (AE, 1,024 images): {o['outside_share']:.1%} "
        f"({o['outside_s']:.2f} s of {o['epoch_s']:.2f} s).",
    ]
    if d:
        lines.append(
            f"Image folder, {d['files']} JPEGs of 512×496: first load {d['first_s']:.2f} s, cached "
            f"{d['cached_s']:.3f} s ({d['speedup']:.0f}×)."
        )
    return "\n".join(lines + [""])


if __name__ == "__main__":
    main()
