"""How many cells to run at once on one device (`benchbox run --jobs N`): aggregate throughput.

    python benchmarks/jobs_throughput.py --method salad --size 256 --device cuda --variant bf16 \
        --jobs 1,2,4,8 --seconds 15 --out benchmarks/results-gpu

For each N, N worker processes (spawned, each with its own CUDA context or one CPU thread,
as `--jobs` workers have) set up the method as ``fit`` does, warm up, wait for one another,
then run training steps on one batch for ``--seconds``. Reported per N: images/s summed over
the workers, the ratio to N = 1, and each worker's peak device memory (allocated by tensors,
and reserved by torch's caching allocator; a CUDA context adds about 0.5 GiB each on top).
Run it alone: anything else on the device changes the numbers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from bench import prepared, random_input, sync  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from benchbox.training import resolve_device


def worker(method_name, size, batch, device_name, variant, seconds, barrier, results):
    torch.set_num_threads(1)
    device = resolve_device(device_name)
    method = prepared(method_name, size, batch, device, variant)
    x = random_input(method, batch, size, device)
    method.nets_.train()
    with method._autocast():
        for _ in range(3):  # cuDNN's autotuner and the allocator settle here
            method.train_step(x)
        sync(device)
        barrier.wait()
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            method.train_step(x)
            steps += 1
        sync(device)  # the queued steps count in the time they took
        elapsed = time.perf_counter() - start
    row = {"img_s": steps * batch / elapsed, "steps": steps, "seconds": elapsed}
    if device.type == "cuda":
        row.update(
            max_allocated_mb=torch.cuda.max_memory_allocated() / 2**20,
            max_reserved_mb=torch.cuda.max_memory_reserved() / 2**20,
        )
    results.put(row)


def measure(n, args) -> dict:
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [
        ctx.Process(
            target=worker,
            args=(args.method, args.size, args.batch, args.device, args.variant, args.seconds, barrier, results),
        )
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    rows = [results.get(timeout=args.seconds + 180) for _ in procs]  # a crashed worker: an error, not a hang
    for p in procs:
        p.join()
    return {"jobs": n, "img_s": sum(r["img_s"] for r in rows), "workers": rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="salad")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variant", default="fp32", help="as in bench.py, e.g. bf16")
    parser.add_argument("--jobs", default="1,2", help="comma list of N")
    parser.add_argument("--seconds", type=float, default=10.0, help="timed window per N")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results")))
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    rows = []
    for n in (int(j) for j in args.jobs.split(",")):
        rows.append(measure(n, args))
        rows[-1]["vs_one"] = rows[-1]["img_s"] / rows[0]["img_s"] if rows[0]["jobs"] == 1 else None
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        write(rows, args, device)  # after each N: a run cut short keeps what it measured


def write(rows, args, device) -> None:
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "method": args.method,
        "size": args.size,
        "batch": args.batch,
        "variant": args.variant,
        "seconds": args.seconds,
        "rows": rows,
    }
    lines = [
        f"# `--jobs N` throughput — {args.method}, {args.variant}, {args.size}×{args.size}, batch {args.batch}, "
        f"{result['device']}, {result['date']}",
        "",
        "| N | img/s (sum) | vs N=1 | peak allocated MB per worker | peak reserved MB per worker |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = f"{r['vs_one']:.2f}×" if r["vs_one"] else "–"
        mem = [max((w.get(k, 0) for w in r["workers"]), default=0) for k in ("max_allocated_mb", "max_reserved_mb")]
        lines.append(f"| {r['jobs']} | {r['img_s']:.0f} | {ratio} | {mem[0]:.0f} | {mem[1]:.0f} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"jobs-{args.method}.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / f"jobs-{args.method}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
