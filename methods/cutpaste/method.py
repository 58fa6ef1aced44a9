"""CutPaste (Li et al., CVPR 2021) and AnatPaste (Sato et al. 2023): a ResNet-18 learns to tell
normal images from synthetic anomalies; a Gaussian fitted to the normal training images'
features scores test images by Mahalanobis distance. See README.md beside this file.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.covariance import LedoitWolf
from torch import nn

from benchbox.contracts import ImageSet
from benchbox.training import TorchMethod

from ..resnet import check_weights_file, load_weights, resnet
from .augment import AUGMENTATIONS

#: Which synthetic classes each variant trains against (class 0 is the normal image).
VARIANTS = {"cutpaste": ("cutpaste",), "scar": ("scar",), "3way": ("cutpaste", "scar"), "anatpaste": ("anatpaste",)}


class CutPasteNet(nn.Module):
    """ResNet-18 (one input channel) -> pooled 512 features -> MLP projection head -> logits."""

    def __init__(self, n_classes: int, arch: str = "resnet18", head: int = 512):
        super().__init__()
        self.backbone = resnet(arch, in_channels=1)
        features = self.backbone.inplanes  # 512 for ResNet-18
        self.head = nn.Sequential(
            nn.Linear(features, head), nn.BatchNorm1d(head), nn.ReLU(inplace=True), nn.Linear(head, n_classes)
        )

    def forward(self, x):
        return self.head(self.backbone(x))


class CutPaste(TorchMethod):
    """Self-supervised classifier on synthetic anomalies, then a Gaussian density on its features."""

    name = "cutpaste"
    title = "CutPaste"
    citation = r"""@inproceedings{li2021cutpaste,
  author = {Li, Chun-Liang and Sohn, Kihyuk and Yoon, Jinsung and Pfister, Tomas},
  title = {{CutPaste}: Self-Supervised Learning for Anomaly Detection and Localization},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  pages = {9664--9674},
  year = {2021}
}
"""
    params = {
        "augment": "3way",  # cutpaste | scar | 3way (both, the paper's best) | anatpaste
        "arch": "resnet18",
        "weights": "",  # a torchvision state dict to start from (ImageNet); "" = from scratch
        # The paper's optimiser: SGD, lr 0.03, momentum 0.9, weight decay 3e-5, cosine decay.
        "lr": 0.03,
        "momentum": 0.9,
        "weight_decay": 3e-5,
        "lr_schedule": "cosine",
        "batch_size": 32,  # normal images per step; each gets one copy per synthetic class
        "head": 512,
    }
    #: AnatPaste's own paper, cited where ``augment=anatpaste``.
    anatpaste_citation = r"""@article{sato2023anatpaste,
  author = {Sato, Junya and Suzuki, Yuki and Wataya, Tomohiro and Nishigaki, Daiki and Kita, Kosuke and Yamagata, Kazuki and Tomiyama, Noriyuki and Kido, Shoji},
  title = {Anatomy-Aware Self-Supervised Learning for Anomaly Detection in Chest Radiographs},
  journal = {iScience},
  volume = {26},
  number = {7},
  pages = {107086},
  year = {2023}
}"""

    @classmethod
    def references(cls, params: dict) -> str:
        if params.get("augment") == "anatpaste":
            return (
                cls.anatpaste_citation + "\n\n" + cls.citation
            )  # AnatPaste is CutPaste's training with its own patches
        return cls.citation

    choices = {"augment": tuple(VARIANTS), "arch": ("resnet18", "wide_resnet50_2")}
    ranges = {"momentum": "[0, 1)", "weight_decay": ">= 0", "head": ">= 1"}
    invalid_examples = {"weights": "/no/such/weights.pth"}

    def validate(self):
        super().validate()
        if self.weights:
            check_weights_file(self.weights, self.name)

    def build(self, image_size):
        net = CutPasteNet(1 + len(VARIANTS[self.augment]), self.arch, self.head)
        self.weights_sha256_ = load_weights(net.backbone, self.weights, self.name) if self.weights else None
        self.nets_["cutpaste"] = net
        self.opt_ = torch.optim.SGD(
            net.parameters(), lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
        )
        self.optimizers_.append(self.opt_)

    def train_step(self, x):
        views = [x] + [AUGMENTATIONS[kind](x) for kind in VARIANTS[self.augment]]
        labels = torch.arange(len(views), device=x.device).repeat_interleave(len(x))
        logits = self.nets_["cutpaste"](torch.cat(views))
        loss = nn.functional.cross_entropy(logits, labels)
        self.opt_.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_.step()
        return {"ce": loss.detach(), "acc": (logits.argmax(1) == labels).float().mean().detach()}

    def finish_training(self, train: ImageSet):
        features = self.map_batches(train, self.embed).cpu().numpy().astype(np.float64)
        density = LedoitWolf().fit(features)  # mean and shrunk covariance of the normal features
        self.mean_ = torch.from_numpy(density.location_).to(self.device_)
        self.precision_ = torch.from_numpy(density.precision_).to(self.device_)

    def embed(self, x):
        """L2-normalised pooled backbone features, as the density sees them."""
        return nn.functional.normalize(self.nets_["cutpaste"].backbone(x), dim=1)

    def score_batch(self, x):
        delta = self.embed(x).double() - self.mean_
        return ((delta @ self.precision_) * delta).sum(1).clamp_min(0).sqrt()  # Mahalanobis

    def provenance(self) -> dict:
        return {"weights_sha256": self.weights_sha256_} if self.weights else {}
