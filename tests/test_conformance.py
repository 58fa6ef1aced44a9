"""The conformance checks themselves: each rule reported on its own, for methods and datasets."""

import numpy as np
import pytest

import benchbox
from benchbox.conformance import check_dataset, check_method, dataset_checks, method_checks
from benchbox.datasets.folder import ChestXray, FolderDataset
from benchbox.datasets.synthetic import Synthetic
from benchbox.methods.floors.method import PixelPCA

from .conftest import SHARED_DATA
from .test_datasets import make_tree


class Sloppy(benchbox.Method):
    """Breaks two rules at once: fit does not return self, score gives one number too many."""

    name = "sloppy"

    def fit(self, train, *, on_epoch=None):
        self.mean_ = float(train.images.float().mean())

    def score(self, data):
        return np.zeros(len(data) + 1)


def test_every_failing_check_is_listed_not_only_the_first():
    with pytest.raises(AssertionError) as caught:
        check_method(Sloppy, epochs=1)
    message = str(caught.value)
    assert "sloppy: " in message and "fit returns self" in message and "score is one finite number per image" in message
    assert "checks failed" in message and "declares seed" not in message  # passed rules are not listed


@pytest.mark.parametrize("check", method_checks(PixelPCA, epochs=1), ids=str)
def test_one_pytest_test_per_check(check):
    check()


def test_datasets_pass_their_checks(tmp_path):
    check_dataset(Synthetic, n_train=16, n_test=8, n_val=4)
    make_tree(tmp_path / "tree", ["train", "test"], ["NORMAL", "PNEUMONIA"], n=3)
    check_dataset(ChestXray, data_root=str(tmp_path / "tree"), cache_dir=str(tmp_path / "c"))


def test_a_broken_dataset_fails_by_name(tmp_path):
    make_tree(tmp_path / "tree", ["train", "test"], ["good", "bad"], n=3)  # no NORMAL class
    names = {str(c) for c in dataset_checks(FolderDataset, data_root=str(tmp_path / "tree"))}
    assert "folder: train is normal test has both" in names
    with pytest.raises(AssertionError, match="train is normal test has both"):
        check_dataset(FolderDataset, data_root=str(tmp_path / "tree"), cache_dir=str(tmp_path / "c"))


@pytest.mark.skipif(not (SHARED_DATA / "oct").is_dir(), reason="real data not present")
def test_the_real_oct_sample_passes(tmp_path):
    from benchbox.datasets.folder import OCT

    check_dataset(OCT, image_size=16, data_root=str(SHARED_DATA / "oct"), cache_dir=str(tmp_path))
