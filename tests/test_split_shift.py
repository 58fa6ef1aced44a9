"""benchmarks/split_shift.py: the AUROCs it reports, on a small chest X-ray tree whose
pneumonia images are dimmer than its normals (as in the Kermany copy here)."""

import json

import numpy as np
from PIL import Image

from .conftest import benchmark_script

split_shift = benchmark_script("split_shift")


def write_tree(root, rng):
    def images(folder, n, top, prefix):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = rng.integers(0, 120, (32, 32)).astype(np.uint8)
            corner = rng.integers(0, 20, 2)  # a bright patch that survives the resize to 16×16
            pixels[corner[0] : corner[0] + 12, corner[1] : corner[1] + 12] = top + rng.integers(-3, 4)
            Image.fromarray(pixels).save(root / folder / f"{prefix}-{i:04d}-0001.png")

    images("train/NORMAL", 20, 240, "IM")
    images("train/PNEUMONIA", 8, 190, "person")
    images("test/NORMAL", 6, 240, "IM-9")
    images("test/PNEUMONIA", 6, 190, "person9")


def test_intensity_floor_separates_dimmer_pneumonia_and_sees_dimmed_normals(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHBOX_CACHE_DIR", str(tmp_path / "cache"))
    write_tree(tmp_path / "chest", np.random.default_rng(0))
    split_shift.main(
        [
            "--data-root",
            str(tmp_path / "chest"),
            "--size",
            "16",
            "--methods",
            "intensity",
            "--seeds",
            "0,1",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    rows = json.loads((tmp_path / "out" / "shift.json").read_text())["rows"]
    assert [(row["method"], row["seed"]) for row in rows] == [("intensity", 0)]  # seed-independent: once
    row = rows[0]
    assert row["dev"] == 1.0 and row["test_pneumonia_vs_test_normal"] == 1.0
    assert row["test_pneumonia_vs_heldout_normal"] == 1.0
    assert 0.2 < row["test_normal_vs_heldout_normal"] < 0.8  # drawn alike
    assert row["dimmed_vs_heldout_normal"] > 0.9  # a tenth dimmer is far from the normals' max
    shifted = row["test_normal_vs_heldout_normal"]  # one run: no std in the table
    assert f"| intensity | {shifted:.4f} | 1.0000 |" in (tmp_path / "out" / "shift.md").read_text()
