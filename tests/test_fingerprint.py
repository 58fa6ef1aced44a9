"""A finished result is never reused for other pixels: the data fingerprint (part of every key)
follows the files' content, not their names, and not their modification times."""

import shutil

import numpy as np
from click.testing import CliRunner
from PIL import Image

from benchbox import digests
from benchbox.cli import main
from benchbox.plan import plan
from benchbox.store import ResultStore


def image_tree(root, seed, suffix=".png", n=12):
    """ROOT/{train,test}/{NORMAL,SICK}/*: random 40×40 images, the same names for every seed."""
    rng = np.random.default_rng(seed)
    for split, classes in (("train", ("NORMAL",)), ("test", ("NORMAL", "SICK"))):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (40, 40), dtype=np.uint8)).save(folder / f"img{i}{suffix}")
    return root


def folder_key(plugins, root, cache):
    return plan(plugins, ["pca"], ["folder"], [0], data_root=str(root), cache_dir=str(cache))[0].key


def test_other_pixels_under_the_same_names_are_another_experiment(tmp_path):
    a, b = image_tree(tmp_path / "A", 0), image_tree(tmp_path / "B", 1)
    results, cache = tmp_path / "results", tmp_path / "cache"
    runner = CliRunner()
    common = [
        "run",
        "--methods",
        "pca",
        "--dataset",
        "folder",
        "--seeds",
        "0",
        "--image-size",
        "16",
        "--results-dir",
        str(results),
        "--cache-dir",
        str(cache),
    ]
    first = runner.invoke(main, [*common, "--data-root", str(a)])
    second = runner.invoke(main, [*common, "--data-root", str(b)])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "1 run, 0 already done" in second.output  # not "already done" with A's AUROC
    records = ResultStore(results).records()[0]
    assert len(records) == 2 and len({r["key"] for r in records}) == 2
    assert len({r["experiment"]["data"] for r in records}) == 2


def test_a_changed_pixel_of_a_fixed_size_format_changes_the_key(plugins, tmp_path):
    for suffix in (".bmp", ".tif"):
        root = image_tree(tmp_path / suffix[1:], 0, suffix)
        before = folder_key(plugins, root, tmp_path / "cache")
        path = root / "test" / "SICK" / f"img3{suffix}"
        size = path.stat().st_size
        pixels = np.asarray(Image.open(path)).copy()
        pixels[0, 0] ^= 1
        Image.fromarray(pixels).save(path)
        assert path.stat().st_size == size  # the size alone cannot tell
        assert folder_key(plugins, root, tmp_path / "cache") != before


def test_a_changed_npz_of_the_same_size_changes_the_medmnist_key(plugins, tmp_path):
    def write(seed):
        rng = np.random.default_rng(seed)
        arrays = {f"{s}_images": rng.integers(0, 256, (8, 28, 28), dtype=np.uint8) for s in ("train", "test")}
        arrays.update(train_labels=np.zeros((8, 1), np.uint8), test_labels=np.array([[0], [1]] * 4, np.uint8))
        np.savez(tmp_path / "pneumoniamnist.npz", **arrays)

    def key():
        return plan(
            plugins,
            ["pca"],
            ["medmnist"],
            [0],
            data_root=str(tmp_path / "pneumoniamnist.npz"),
            cache_dir=str(tmp_path / "cache"),
        )[0].key

    write(0)
    before, size = key(), (tmp_path / "pneumoniamnist.npz").stat().st_size
    write(1)
    assert (tmp_path / "pneumoniamnist.npz").stat().st_size == size
    assert key() != before


def test_a_fresh_copy_keeps_its_key_and_unchanged_files_are_not_read_again(plugins, tmp_path, monkeypatch):
    original = image_tree(tmp_path / "original", 0)
    key = folder_key(plugins, original, tmp_path / "cache")
    copy = tmp_path / "copy"
    shutil.copytree(original, copy, copy_function=shutil.copyfile)  # new modification times
    assert (copy / "train" / "NORMAL" / "img0.png").stat().st_mtime_ns != (
        original / "train" / "NORMAL" / "img0.png"
    ).stat().st_mtime_ns
    assert folder_key(plugins, copy, tmp_path / "cache") == key

    reads = []
    real = digests.file_sha256
    monkeypatch.setattr(digests, "file_sha256", lambda path: reads.append(path) or real(path))
    assert folder_key(plugins, copy, tmp_path / "cache") == key
    assert reads == []  # every digest came from the cache
    (copy / "test" / "SICK" / "img5.png").touch()  # same bytes, new mtime: read again, same key
    assert folder_key(plugins, copy, tmp_path / "cache") == key
    assert [p.name for p in reads] == ["img5.png"]
