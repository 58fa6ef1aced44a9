"""STFPM, reverse distillation (RD4AD) and SimpleNet, the methods trained on a frozen backbone:
the method contract, maps that find planted lesions, and the pieces their maps are made of."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from benchbox.conformance import check_method
from benchbox.datasets.synthetic import Synthetic
from benchbox.errors import ParamError
from benchbox.localisation import pixel_metrics
from benchbox.methods.distillation import gaussian_blur, smoothing_sigma
from benchbox.methods.rd4ad.method import RD4AD
from benchbox.methods.simplenet.method import SimpleNet
from benchbox.methods.stfpm.method import STFPM


@pytest.mark.parametrize("cls", [STFPM, RD4AD, SimpleNet], ids=lambda c: c.name)
def test_conformance(cls):
    check_method(cls, epochs=1, batch_size=8)


@pytest.fixture(scope="module")
def lesions():
    synthetic = Synthetic(n_train=128, n_test=64)
    return synthetic.load("train", 64), synthetic.load("test", 64)


# Pixel AUROC on the 2-core CPU, seeds 0, 1, 2: STFPM 0.985, 0.987, 0.987 after 5 epochs, RD4AD
# 0.977, 0.979, 0.967 after 10 (an untrained teacher, a bug once made, gave 0.64-0.84), SimpleNet
# 0.942, 0.891, 0.887 after 20 (with the paper's absolute noise sigma: 0.50-0.79, at chance loss);
# chance 0.5.
@pytest.mark.parametrize(
    "cls, epochs, floor",
    [(STFPM, 5, 0.9), (RD4AD, 10, 0.9), (SimpleNet, 20, 0.85)],
    ids=["stfpm", "rd4ad", "simplenet"],
)
def test_maps_find_planted_lesions(lesions, cls, epochs, floor):
    train, test = lesions
    model = cls(epochs=epochs, batch_size=16).fit(train)
    maps = model.anomaly_maps(test)
    assert maps.shape == (len(test), 64, 64)
    assert pixel_metrics(maps, test.masks[:, 0].numpy(), test.mask_known)["pixel_auroc"] > floor
    assert np.allclose(model.score(test), maps.reshape(len(test), -1).max(1), rtol=1e-5)  # score = map max


def test_gaussian_blur_is_scipys_reflected_filter():
    for shape, sigma in (((3, 40, 36), 2.5), ((2, 6, 6), 4.0)):  # maps smaller than the kernel, too
        maps = torch.rand(*shape, dtype=torch.float64)
        expected = np.stack([ndimage.gaussian_filter(m, sigma) for m in maps.numpy()])
        np.testing.assert_allclose(gaussian_blur(maps, sigma).numpy(), expected, atol=1e-10)
    assert smoothing_sigma(4.0, 64) == 1.0 and gaussian_blur(maps, 0) is maps


@pytest.mark.parametrize("cls", [STFPM, RD4AD, SimpleNet], ids=lambda c: c.name)
def test_sizes_that_are_not_multiples_of_32_are_refused(cls):
    with pytest.raises(ParamError, match="multiple of 32"):
        cls.check_image_size(48)


def test_the_teacher_stays_frozen_and_out_of_checkpoints(lesions):
    from benchbox.methods.pretrained import FeatureBackbone

    train, _ = lesions
    model = RD4AD(epochs=2, batch_size=16).fit(train.subset(range(32)))
    fresh = FeatureBackbone("efficientnet_lite0", (1, 2, 3)).state_dict()
    assert all(not p.requires_grad for p in model.teacher_.parameters()) and not model.teacher_.training
    assert all(torch.equal(fresh[k], v) for k, v in model.teacher_.state_dict().items())  # BN statistics too
    assert set(model.nets_) == {"bottleneck", "decoder"}


def test_simplenet_noise_is_relative_to_the_training_features_spread(lesions):
    train = lesions[0].subset(range(32))
    relative = SimpleNet(epochs=1, batch_size=16).fit(train)
    with torch.no_grad():
        features = relative.patch_features(relative._input(train.images))[0]
    assert relative.noise_sigma_ == pytest.approx(0.15 * float(features.std(unbiased=False)), rel=1e-4)
    assert relative.provenance()["noise_sigma"] == relative.noise_sigma_
    paper = SimpleNet(epochs=1, batch_size=16, noise_relative=False, noise_std=0.015).fit(train)
    assert paper.noise_sigma_ == 0.015
