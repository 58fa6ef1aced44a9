"""The LGG brain MRI dataset in Kaggle's kaggle_3m layout: both file kinds, split by case, the
mistakes a user makes named; the real 38-case sample where it is present."""

import json

import numpy as np
import pytest
from PIL import Image

from benchbox.conformance import check_dataset
from benchbox.datasets.kaggle_3m import LggMri
from benchbox.errors import DataError, ParamError

from .conftest import ROOT

REAL = ROOT.parent / "shared" / "data" / "lgg_mri"


def write_case(root, case, n_slices=4, tumours=(2,), three_channels=False, suffix=".png"):
    """A case folder: slices 1..n, a square of 'tumour' in the masks of ``tumours``. In the
    three-channel files FLAIR (channel 1) holds the brain; channels 0 and 2 a constant 7."""
    folder = root / case
    folder.mkdir(parents=True)
    for n in range(1, n_slices + 1):
        flair = np.zeros((32, 32), np.uint8)
        flair[6:26, 6:26] = 90 + 10 * n
        mask = np.zeros((32, 32), np.uint8)
        if n in tumours:
            flair[12:18, 12:18] = 250
            mask[12:18, 12:18] = 255
        if three_channels:
            image = Image.fromarray(np.stack([np.full_like(flair, 7), flair, np.full_like(flair, 7)], -1), "RGB")
        else:
            image = Image.fromarray(flair, "L")
        image.save(folder / f"{case}_{n}{suffix}")
        Image.fromarray(mask, "L").save(folder / f"{case}_{n}_mask{suffix}")


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "kaggle_3m"
    for i in range(4):
        write_case(root, f"TCGA_XX_000{i}_20000101")
    write_case(root, "TCGA_XX_0009_20000101", three_channels=True, suffix=".tif")
    return root


def dataset(root, tmp_path, **params):
    return LggMri(data_root=str(root), cache_dir=str(tmp_path / "cache"), **params)


def test_split_by_case_train_on_normal_slices_test_on_every_slice(tree, tmp_path):
    data = dataset(tree, tmp_path, test_share=0.4)
    cases = data.cases()
    assert len(cases["test"]) == 2 and not set(cases["train"]) & set(cases["test"])
    train, test = data.load("train", 16), data.load("test", 16)
    assert not train.labels.any() and len(train) == 3 * 3  # 3 training cases, 3 normal slices each
    assert len(test) == 2 * 4 and test.labels.sum() == 2 and test.has_masks() and test.mask_known.all()
    assert all(i.split("/")[0] in cases["test"] for i in test.ids)
    assert test.masks[test.labels == 0].sum() == 0 and (test.masks[test.labels == 1].sum((1, 2, 3)) > 0).all()
    assert data.provenance()["test_cases"] == cases["test"]
    assert dataset(tree, tmp_path, test_share=0.4, split_seed=1).fingerprint() != data.fingerprint()


def test_three_channel_files_give_their_flair_channel(tree, tmp_path):
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ["TCGA_XX_0000_20000101"], "test": ["TCGA_XX_0009_20000101"]}))
    test = dataset(tree, tmp_path, split_file=str(split)).load("test", 32)
    first = test.images[0, 0].numpy()
    assert first[0, 0] == 0 and first[16, 16] == 100  # FLAIR (channel 1), not the grey mix with the 7s
    other = dataset(tree, tmp_path, split_file=str(split), channel=0).load("test", 32)
    assert (other.images[0, 0].numpy() == 7).all()


def test_a_split_file_names_the_cases(tree, tmp_path):
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ["TCGA_XX_0000_20000101", "TCGA_XX_0001_20000101"],
                                 "test": ["TCGA_XX_0002_20000101"]}))  # fmt: skip
    data = dataset(tree, tmp_path, split_file=str(split))
    assert data.cases() == {"train": ["TCGA_XX_0000_20000101", "TCGA_XX_0001_20000101"],
                            "test": ["TCGA_XX_0002_20000101"]}  # fmt: skip
    assert "split_file" in data.provenance()["protocol"]
    split.write_text(json.dumps({"train": ["TCGA_XX_0000_20000101"], "test": ["TCGA_XX_0000_20000101"]}))
    with pytest.raises(DataError, match="case TCGA_XX_0000_20000101 is in both train and test"):
        dataset(tree, tmp_path, split_file=str(split)).cases()
    split.write_text(json.dumps({"train": ["TCGA_XX_0000_20000101"], "test": ["TCGA_NOPE"]}))
    with pytest.raises(DataError, match="case TCGA_NOPE has no folder"):
        dataset(tree, tmp_path, split_file=str(split)).cases()
    with pytest.raises(ParamError, match="/no/such.json"):
        dataset(tree, tmp_path, split_file="/no/such.json").validate()


def test_a_missing_or_misfitting_mask_is_named(tree, tmp_path):
    case = tree / "TCGA_XX_0001_20000101"
    (case / "TCGA_XX_0001_20000101_3_mask.png").unlink()
    with pytest.raises(DataError, match=r"TCGA_XX_0001_20000101_3.png: its mask .*_3_mask.png does not exist"):
        dataset(tree, tmp_path).slices()
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(case / "TCGA_XX_0001_20000101_3_mask.png")
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ["TCGA_XX_0000_20000101"], "test": ["TCGA_XX_0001_20000101"]}))
    with pytest.raises(DataError, match=r"_3_mask.png: mask of 20×20 pixels"):
        dataset(tree, tmp_path, split_file=str(split)).load("test", 16)


def test_min_tissue_leaves_out_near_empty_slices(tree, tmp_path):
    empty = tree / "TCGA_XX_0000_20000101"
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(empty / "TCGA_XX_0000_20000101_1.png")
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ["TCGA_XX_0000_20000101"], "test": ["TCGA_XX_0001_20000101"]}))
    every = dataset(tree, tmp_path, split_file=str(split)).load("train", 16)
    some = dataset(tree, tmp_path, split_file=str(split), min_tissue=0.1)
    assert len(every) == 3 and len(some.load("train", 16)) == 2
    assert some.provenance()["slices_left_out_under_min_tissue"] == 1


def test_the_dataset_contract_on_a_generated_tree(tree, tmp_path):
    check_dataset(LggMri, data_root=str(tree), cache_dir=str(tmp_path / "c"), test_share=0.4)


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/lgg_mri is not here")
def test_the_real_sample_splits_by_case_and_the_tissue_floor_reads_the_shortcut(tmp_path):
    """38 cases (36 PNG, 2 TIFF): 831 + 36 normal and 465 + 24 tumour slices in all. The share
    of tissue alone ranks tumour slices above normal ones (the framing shortcut)."""
    from benchbox.methods.floors.method import IntensityFloor
    from benchbox.metrics import evaluate

    data = LggMri(data_root=str(REAL), cache_dir=str(tmp_path / "c"))
    cases = data.cases()
    assert len(cases["train"]) + len(cases["test"]) == 38 and len(cases["test"]) == 11
    train, test = data.load("train", 32), data.load("test", 32)
    total_normal = sum(not tumour for tumour, _ in data._facts().values())
    assert total_normal == 831 + 36 and len(data._facts()) == 831 + 36 + 465 + 24
    assert not train.labels.any() and test.labels.any() and test.mask_known.all()
    floor = IntensityFloor(statistic="tissue", direction="higher").fit(train)
    assert evaluate(test.labels, floor.score(test))["auroc"] > 0.6
