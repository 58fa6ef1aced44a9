"""What the content fingerprint costs at OCT2017's size: a generated tree of ``--files`` JPEG-sized
files in the folder layout, fingerprinted three times — cold (every file read and hashed), warm
(every digest from the cache: one stat per file), and after a fresh copy's worth of new
modification times (every file read again, the same fingerprint).

    python benchmarks/fingerprint_scale.py --files 84000 --out benchmarks/results-fingerprint

Run it alone: reading 84,000 files competes with anything else for the disk and the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchbox.execute import device_description
from benchbox.plugins import Plugins


def make_tree(root: Path, n_files: int, size: int, seed: int = 0) -> None:
    """OCT2017's layout: train/NORMAL holds most files, test/ the four classes."""
    rng = np.random.default_rng(seed)
    payload = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    n_test = max(8, n_files // 80)
    plan = [("train", "NORMAL", n_files - n_test)] + [
        ("test", c, n_test // 4) for c in ("NORMAL", "CNV", "DME", "DRUSEN")
    ]
    for split, cls, n in plan:
        folder = root / split / cls
        folder.mkdir(parents=True)
        for i in range(n):
            (folder / f"{cls}-{i}-1.jpeg").write_bytes(i.to_bytes(4, "little") + payload)


def timed_fingerprint(root: Path, cache: Path) -> tuple[float, str]:
    dataset = Plugins(load_entry_points=False).datasets.get("folder")(data_root=str(root), cache_dir=str(cache))
    start = time.perf_counter()
    fingerprint = dataset.fingerprint()
    return time.perf_counter() - start, fingerprint


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=84_000)
    parser.add_argument("--bytes", type=int, default=30_000, help="bytes per file (an OCT2017 JPEG: ~20-60 kB)")
    parser.add_argument("--out", default="benchmarks/results-fingerprint")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "tree", Path(tmp) / "cache"
        start = time.perf_counter()
        make_tree(root, args.files, args.bytes)
        made_s = time.perf_counter() - start
        cold_s, cold = timed_fingerprint(root, cache)
        warm_s, warm = timed_fingerprint(root, cache)
        now = time.time()
        for path in root.rglob("*.jpeg"):  # what a fresh copy of the files does to the cache
            os.utime(path, (now + 10, now + 10))
        touched_s, touched = timed_fingerprint(root, cache)
        cache_mb = sum(p.stat().st_size for p in cache.rglob("*")) / 1e6
        shutil.rmtree(root)
    assert cold == warm == touched
    result = {
        "files": args.files,
        "bytes_per_file": args.bytes,
        "tree_gb": args.files * args.bytes / 1e9,
        "make_tree_s": made_s,
        "cold_s": cold_s,
        "warm_s": warm_s,
        "new_mtimes_s": touched_s,
        "digest_cache_mb": cache_mb,
        "device": device_description("cpu"),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
