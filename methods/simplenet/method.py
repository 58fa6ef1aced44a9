"""SimpleNet (Liu, Zhou, Xu, Wang, "SimpleNet: A Simple Network for Image Anomaly Detection and
Localization", CVPR 2023): a frozen ImageNet backbone's locally aggregated patch features
(PatchCore's), a feature adaptor (one linear layer) into the target domain, anomalous features
made by adding Gaussian noise to adapted normal ones, and a discriminator (a two-layer MLP)
trained to tell them apart with a truncated L1 loss; the discriminator's negated output per
position is the anomaly map. See README.md beside this file.
"""

from __future__ import annotations

import torch
from torch import nn

from ..distillation import Distillation, gaussian_blur, smoothing_sigma
from ..pretrained import local_patch_features


class Discriminator(nn.Sequential):
    """The paper's two-layer MLP: linear, batch norm, leaky ReLU (0.2), linear to one output."""

    def __init__(self, channels: int, hidden: int):
        super().__init__(nn.Linear(channels, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))


class SimpleNet(Distillation):
    name = "simplenet"
    title = "SimpleNet"
    citation = r"""@inproceedings{liu2023simplenet,
  author = {Liu, Zhikang and Zhou, Yiming and Xu, Yuansheng and Wang, Zilei},
  title = {{SimpleNet}: A Simple Network for Image Anomaly Detection and Localization},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  pages = {20402--20411},
  year = {2023}
}
"""
    params = {
        "layers": "2,3",  # the paper: WideResNet-50's layer2 and layer3 (strides 8 and 16)
        "neighbourhood": 3,  # local aggregation p = 3, as PatchCore's
        "feature_dim": 1536,  # at most this many channels (the paper's 1536; Lite0's levels 2+3 have 152)
        # The Gaussian noise that makes anomalous features: sigma = noise_std times the standard
        # deviation of the training patch features (noise_relative); the paper's absolute 0.015
        # was set for WideResNet-50's features and leaves the discriminator at chance on Lite0's
        # (README: measured). noise_relative=false noise_std=0.015 is the paper's rule.
        "noise_std": 0.15,
        "noise_relative": True,
        "margin": 0.5,  # th+ = margin, th- = -margin in the truncated L1 loss
        "hidden": 1024,  # the discriminator's hidden width (the authors' code: 1024)
        # The paper's optimiser: Adam, lr 1e-4 (adaptor) and 2e-4 (discriminator), weight decay
        # 1e-5, batch size 8, 160 epochs; no LR schedule is stated.
        "lr": 1e-4,
        "discriminator_lr": 2e-4,
        "weight_decay": 1e-5,
        "lr_schedule": "constant",
        "epochs": 160,
        "batch_size": 8,
        "sigma": 4.0,  # the map's Gaussian smoothing, in pixels of a 256×256 image (paper: 4)
    }
    ranges = {
        "neighbourhood": ">= 1",
        "feature_dim": ">= 1",
        "noise_std": "> 0",
        "margin": ">= 0",
        "hidden": ">= 1",
        "discriminator_lr": "> 0",
        "weight_decay": ">= 0",
        "sigma": ">= 0",
    }

    def fit(self, train, **kwargs):
        self.training_images_ = train.images  # build measures the features' spread on them
        try:
            return super().fit(train, **kwargs)
        finally:
            del self.training_images_

    def build(self, image_size):
        self.load_teacher()
        self.noise_sigma_ = self.noise_std * (self.feature_spread() if self.noise_relative else 1.0)
        probe = torch.zeros(1, 1, image_size, image_size, device=self.device_)
        channels = self.patch_features(probe)[0].shape[-1]
        self.nets_["adaptor"] = nn.Linear(channels, channels)
        self.nets_["discriminator"] = Discriminator(channels, self.hidden)
        self.optimizers_ += [
            torch.optim.Adam(self.nets_["adaptor"].parameters(), lr=self.lr, weight_decay=self.weight_decay),
            torch.optim.Adam(
                self.nets_["discriminator"].parameters(), lr=self.discriminator_lr, weight_decay=self.weight_decay
            ),
        ]

    @torch.no_grad()
    def feature_spread(self) -> float:
        """The standard deviation of every value of the training images' patch features (one
        number; a pure function of the training set, so a resumed run measures it again alike).
        Without training images (the benchmark harness builds alone): 1."""
        images = getattr(self, "training_images_", None)
        if images is None:
            return 1.0
        total = squares = count = 0.0
        for start in range(0, len(images), self.score_batch_size):
            x = self._input(images[start : start + self.score_batch_size].to(self.device_))
            features = self.patch_features(x)[0].double()
            total, squares, count = total + features.sum(), squares + features.square().sum(), count + features.numel()
        mean = total / count
        return float((squares / count - mean**2).clamp_min(0).sqrt())

    def provenance(self) -> dict:
        return {**super().provenance(), "noise_sigma": self.noise_sigma_}

    def patch_features(self, x) -> tuple[torch.Tensor, tuple[int, int]]:
        """The frozen backbone's patch features of a batch in [-1, 1]: (n, H·W, C) and (H, W)."""
        return local_patch_features(self.teacher_maps(x), self.neighbourhood, self.feature_dim)

    def train_step(self, x):
        features, _ = self.patch_features(x)
        normal = self.nets_["adaptor"](features.flatten(0, 1))
        anomalous = normal + self.noise_sigma_ * torch.randn_like(normal)
        scores = self.nets_["discriminator"](torch.cat([normal, anomalous]))[:, 0]
        true, fake = scores[: len(normal)], scores[len(normal) :]
        # Eq. 5: max(0, th+ - D(q)) + max(0, -th- + D(q-)), th+ = margin, th- = -margin.
        true_loss = (self.margin - true).clamp_min(0).mean()
        fake_loss = (self.margin + fake).clamp_min(0).mean()
        loss = true_loss + fake_loss
        for optimizer in self.optimizers_:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for optimizer in self.optimizers_:
            optimizer.step()
        return {"loss": loss.detach(), "normal": true_loss.detach(), "anomalous": fake_loss.detach()}

    def map_batch(self, x):
        # Inference: s = -D(F_a(feature)) per position, upsampled (bilinear) to the image and
        # smoothed by a Gaussian of sigma 4 (at 256×256).
        features, grid = self.patch_features(x)
        scores = -self.nets_["discriminator"](self.nets_["adaptor"](features.flatten(0, 1)))
        grids = scores.view(len(x), 1, *grid)
        upsampled = nn.functional.interpolate(grids, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        return gaussian_blur(upsampled, smoothing_sigma(self.sigma, x.shape[-1]))
