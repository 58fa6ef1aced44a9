"""PaDiM (Defard et al., ICPR 2021): a multivariate Gaussian per patch position of the
concatenated features of a frozen ImageNet backbone, on a random subset of their channels; the
anomaly map is the Mahalanobis distance at each position, the image score its maximum.
See README.md beside this file.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

from benchbox.contracts import ImageSet

from ..pretrained import FrozenFeatures


class PaDiM(FrozenFeatures):
    """A Gaussian per patch position of frozen ImageNet features; score = the largest Mahalanobis distance."""

    name = "padim"
    title = "PaDiM"
    citation = r"""@inproceedings{defard2021padim,
  author = {Defard, Thomas and Setkov, Aleksandr and Loesch, Angelique and Audigier, Romaric},
  title = {{PaDiM}: A Patch Distribution Modeling Framework for Anomaly Detection and Localization},
  booktitle = {ICPR International Workshops and Challenges},
  pages = {475--489},
  year = {2021}
}
"""
    params = {
        "layers": "1,2,3",  # feature levels (strides 4, 8, 16: the paper's first three ResNet stages)
        "channels": 100,  # random channel subset (the paper: 100 of ResNet-18's 448)
        "epsilon": 0.01,  # regularisation of each covariance, ε·I (the paper's 0.01)
        "sigma": 4.0,  # Gaussian smoothing of the upsampled map, in input pixels (the paper's σ = 4)
    }
    ranges = {"channels": ">= 1", "epsilon": "> 0", "sigma": ">= 0"}
    invalid_examples = {"layers": "0"}

    @torch.inference_mode()
    def _embeddings(self, images: torch.Tensor) -> torch.Tensor:
        """(n, d, h, w): every level upsampled (nearest, as the authors' code tiles them) to the
        finest level's positions, concatenated, the chosen channels kept."""
        maps = self.backbone_(images.to(self.device_))
        size = maps[0].shape[-2:]
        maps = [m if m.shape[-2:] == size else F.interpolate(m, size, mode="nearest") for m in maps]
        return torch.cat(maps, 1)[:, self.index_]

    def fit(self, train: ImageSet, *, on_epoch=None):
        self.load_backbone()
        total = sum(m.shape[1] for m in self.backbone_(train.images[:1].to(self.device_)))
        generator = torch.Generator().manual_seed(self.seed)
        self.index_ = torch.randperm(total, generator=generator)[: min(self.channels, total)].to(self.device_)
        # Sums of x and x·xᵀ per position, in float64 and batch by batch: memory does not grow
        # with the number of training images.
        n, first, second = 0, None, None
        for start in range(0, len(train), self.batch_size):
            x = self._embeddings(train.images[start : start + self.batch_size]).double()
            x = x.flatten(2).permute(2, 0, 1)  # (positions, n, d)
            if first is None:
                first = torch.zeros(x.shape[0], x.shape[2], dtype=torch.float64, device=x.device)
                second = torch.zeros(x.shape[0], x.shape[2], x.shape[2], dtype=torch.float64, device=x.device)
            first += x.sum(1)
            second += x.transpose(1, 2) @ x
            n += x.shape[1]
        mean = first / n
        cov = (second - n * mean[:, :, None] * mean[:, None, :]) / max(1, n - 1)
        cov += self.epsilon * torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
        self.mean_ = mean.float()
        self.precision_ = torch.linalg.inv(cov).float()  # (positions, d, d)
        if on_epoch is not None:
            on_epoch(1, 1, {"positions": torch.tensor(float(len(mean)))})
        return self

    @torch.inference_mode()
    def anomaly_maps(self, data: ImageSet) -> np.ndarray:
        """(N, H, W): the Mahalanobis distance per position, upsampled (bilinear) to the input
        size and smoothed by a Gaussian of ``sigma`` pixels."""
        out = []
        for start in range(0, len(data), self.batch_size):
            x = self._embeddings(data.images[start : start + self.batch_size])
            n, d, h, w = x.shape
            diff = x.flatten(2).permute(2, 0, 1) - self.mean_[:, None, :]  # (positions, n, d)
            distance = torch.einsum("pnd,pde,pne->pn", diff, self.precision_, diff).clamp_min(0).sqrt()
            maps = distance.T.reshape(n, 1, h, w)
            maps = F.interpolate(maps, data.images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
            out.append(maps.cpu().numpy().astype(np.float64))
        maps = np.concatenate(out)
        if self.sigma > 0:
            maps = np.stack([gaussian_filter(m, self.sigma) for m in maps])
        return maps

    def score(self, data: ImageSet) -> np.ndarray:
        return self.anomaly_maps(data).reshape(len(data), -1).max(1)
