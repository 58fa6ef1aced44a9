"""Give results made before benchbox stored the explorer's thumbnails (2026-12-07) their test
images' thumbnails, so that the report's image explorer shows the pictures; nothing else changes.

For each test set (dataset folder and test-set hash) of the finished records under the folders
given, this loads the test split from ``--data-root`` with the record's dataset parameters and
image size, checks that it lists the record's test images in the record's order (leaks-dropped
runs: the kept images only), and writes ``<dataset folder>/thumbnails/<hash>.npz``
(:mod:`benchbox.thumbnails`). The runs' low-resolution maps are not made: they need the trained
models; the explorer shows those runs' scores and ranks without a map.

    python tools/add_thumbnails.py results/cells/lgg_mri-cpu-preset --data-root lgg_mri=../shared/data/lgg_mri
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from benchbox.plugins import get_plugins
from benchbox.store import ResultStore
from benchbox.thumbnails import thumbnails_path, write_thumbnails


def add(folder: Path, roots: dict[str, str], plugins) -> list[str]:
    """Write the missing thumbnail files of ``folder``'s records; one line per test set."""
    records, problems = ResultStore(folder).records()
    said = [f"skipped: {p}" for p in problems]
    seen = set()
    for r in records:
        if r["status"] != "ok" or not r.get("scores"):
            continue
        target = thumbnails_path(Path(r["_path"]), r["test_set"]["hash"])
        if target in seen:
            continue
        seen.add(target)
        if target.exists():
            said.append(f"{target}: there already")
            continue
        if r["dataset"] not in roots:
            said.append(f"{target}: no --data-root for dataset plugin {r['dataset']!r}")
            continue
        dataset = plugins.make_dataset(r["dataset"], r["dataset_params"], roots[r["dataset"]])
        test = dataset.load("test", r["image_size"])
        where = {image_id: i for i, image_id in enumerate(test.ids)}
        wanted = r["scores"]["ids"]
        if any(i not in where for i in wanted):
            said.append(f"{target}: the data under {roots[r['dataset']]} lack some of the record's test images")
            continue
        test = test.subset([where[i] for i in wanted])
        if test.classes != r["scores"]["classes"] or not np.array_equal(test.labels, r["scores"]["labels"]):
            said.append(f"{target}: classes differ from the record's: not the data it was made on")
            continue
        write_thumbnails(Path(r["_path"]), test)  # the record's hash: same ids and classes, checked above
        said.append(f"{target}: {len(test)} images")
    return said


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="results folders (each holding <dataset>/ folders)")
    parser.add_argument("--data-root", action="append", default=[], metavar="PLUGIN=PATH", required=True)
    args = parser.parse_args(argv)
    roots = dict(entry.split("=", 1) for entry in args.data_root)
    plugins = get_plugins()
    for folder in args.folders:
        for line in add(folder, roots, plugins):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
