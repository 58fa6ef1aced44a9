"""Floors: on raw pixels, PCA reconstruction error, nearest-neighbour distance, and how far one
global intensity statistic lies from the training normals'; and nearest neighbour on the pooled
features of a frozen ImageNet backbone.

A deep method that does not beat these has learned nothing a linear subspace or a lookup
table could not; every Table I should show them (scikit-learn does the work).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from benchbox.contracts import ImageSet, Method
from benchbox.errors import ParamError

from ..pretrained import FrozenFeatures


def pixels(images: torch.Tensor) -> np.ndarray:
    """uint8 N×1×S×S -> N×S² in [-1, 1], the scaling every method of the suite sees."""
    return images.reshape(len(images), -1).numpy().astype(np.float64) / 127.5 - 1.0


class PixelPCA(Method):
    """PCA of the normal training images; score = mean squared error of the reconstruction
    from the principal subspace."""

    name = "pca"
    title = "PCA (pixels)"
    seed_independent = True
    # A share of variance in (0, 1) keeps as many components as explain it; ≥ 1, that many.
    params = {"n_components": 0.95}
    ranges = {"n_components": "> 0"}

    def fit(self, train: ImageSet, *, on_epoch=None):
        x = pixels(train.images)
        n = self.n_components
        # The full SVD is exact and deterministic, so the seed plays no part.
        self.pca_ = PCA(n_components=n if n < 1 else min(int(n), *x.shape), svd_solver="full").fit(x)
        return self

    def score(self, data: ImageSet) -> np.ndarray:
        x = pixels(data.images)
        recon = self.pca_.inverse_transform(self.pca_.transform(x))
        return ((x - recon) ** 2).mean(1)

    def anomaly_maps(self, data: ImageSet) -> np.ndarray:
        """The squared residual of the reconstruction at each pixel (the score is its mean)."""
        x = pixels(data.images)
        recon = self.pca_.inverse_transform(self.pca_.transform(x))
        return ((x - recon) ** 2).reshape(data.images.shape[0], *data.images.shape[-2:]).astype(np.float32)


class PixelKNN(Method):
    """Distance to the nearest normal training images; score = mean Euclidean distance to the
    ``k`` nearest, per pixel (divided by √pixels, so image sizes compare)."""

    name = "knn"
    title = "kNN (pixels)"
    seed_independent = True
    params = {"k": 1}
    ranges = {"k": ">= 1"}

    def fit(self, train: ImageSet, *, on_epoch=None):
        if self.k > len(train):  # the one check that needs the data
            raise ParamError(f"knn: k must be between 1 and the {len(train)} training images, got {self.k}")
        self.index_ = NearestNeighbors(n_neighbors=self.k, algorithm="brute").fit(pixels(train.images))
        return self

    def score(self, data: ImageSet) -> np.ndarray:
        x = pixels(data.images)
        distances, _ = self.index_.kneighbors(x)
        return distances.mean(1) / np.sqrt(x.shape[1])

    def anomaly_maps(self, data: ImageSet) -> np.ndarray:
        """|x − n| at each pixel, averaged over the ``k`` nearest training images n."""
        x = pixels(data.images)
        _, index = self.index_.kneighbors(x)
        train = self.index_._fit_X
        maps = np.stack([np.abs(x[i] - train[index[i]]).mean(0) for i in range(len(x))])
        return maps.reshape(data.images.shape[0], *data.images.shape[-2:]).astype(np.float32)


STATISTICS = {
    "max": lambda x: x.max(1),
    "std": lambda x: x.std(1),
    "mean": lambda x: x.mean(1),
    # The share of pixels above 10 of 255: how much of a brain MRI slice is head at all.
    "tissue": lambda x: (x > 10 / 127.5 - 1.0).mean(1),
}


class IntensityFloor(Method):
    """One number per image — its brightest pixel (``statistic=max``), intensity spread (std),
    mean, or share of non-background pixels (``tissue``) — and score = its distance from the
    training normals' mean of that number, in their standard deviations (``direction=higher``:
    signed, higher = more anomalous). No image structure at all: a method that does not beat this
    floor may be reading the same global cue (README.md beside this file)."""

    name = "intensity"
    title = "Intensity floor"
    seed_independent = True
    params = {"statistic": "max", "direction": "both"}
    choices = {"statistic": tuple(STATISTICS), "direction": ("both", "higher")}

    def fit(self, train: ImageSet, *, on_epoch=None):
        values = STATISTICS[self.statistic](pixels(train.images))
        self.mean_, self.std_ = float(values.mean()), float(values.std())
        if not self.std_ > 0:
            raise ParamError(
                f"intensity: every training image has the same {self.statistic}; "
                "the floor cannot scale distances from it"
            )
        return self

    def score(self, data: ImageSet) -> np.ndarray:
        distance = (STATISTICS[self.statistic](pixels(data.images)) - self.mean_) / self.std_
        # "higher": a prior on which side anomalies lie (a tumour needs tissue), never fitted.
        return distance if self.direction == "higher" else np.abs(distance)


class FeatureKNN(FrozenFeatures):
    """The pretrained floor: distance to the nearest normal training image in the pooled
    penultimate features of a frozen ImageNet backbone (what ImageNet features give with no
    patch model at all)."""

    name = "feature_knn"
    title = "Pretrained kNN floor"
    seed_independent = True
    citation = r"""@article{bergman2020dn2,
  author = {Bergman, Liron and Cohen, Niv and Hoshen, Yedid},
  title = {Deep Nearest Neighbor Anomaly Detection},
  journal = {arXiv preprint arXiv:2002.10445},
  year = {2020}
}
"""
    params = {"k": 1, "batch_size": 64}
    ranges = {"k": ">= 1"}
    pooled = True

    def _features(self, data: ImageSet) -> np.ndarray:
        batches = [self.backbone_(data.images[i : i + self.batch_size].to(self.device_)).cpu()
                   for i in range(0, len(data), self.batch_size)]  # fmt: skip
        return torch.cat(batches).numpy().astype(np.float64)

    def fit(self, train: ImageSet, *, on_epoch=None):
        if self.k > len(train):  # the one check that needs the data
            raise ParamError(f"feature_knn: k must be between 1 and the {len(train)} training images, got {self.k}")
        self.load_backbone()
        self.index_ = NearestNeighbors(n_neighbors=self.k, algorithm="brute").fit(self._features(train))
        return self

    def score(self, data: ImageSet) -> np.ndarray:
        distances, _ = self.index_.kneighbors(self._features(data))
        return distances.mean(1)
