"""PatchCore (Roth et al., CVPR 2022): locally aggregated mid-level features of a frozen
ImageNet backbone, a greedy coreset of the normal training patches as memory bank, and the
nearest-neighbour distance of the most anomalous patch as the image score (eq. 7, reweighted).
See README.md beside this file.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from benchbox.contracts import ImageSet, Method
from benchbox.errors import ParamError
from benchbox.training import resolve_device, seed_everything

from ..resnet import IMAGENET_MEAN, IMAGENET_STD, check_weights_file, load_weights, resnet

WHERE = (
    "save torchvision's ImageNet weights once on a machine with internet, e.g. "
    "torch.save(torchvision.models.wide_resnet50_2(weights='IMAGENET1K_V1').state_dict(), "
    "'wide_resnet50_2.pt') (or resnet18), and pass --param patchcore.weights=FILE"
)


def greedy_coreset(features: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of ``count`` rows chosen by greedy k-center selection (the paper's Algorithm 1):
    each step adds the row farthest from those chosen so far. ``features`` are already the
    low-dimensional random projections the paper selects on."""
    n = len(features)
    chosen = torch.empty(count, dtype=torch.long)
    chosen[0] = torch.randint(n, (1,), generator=generator).item()
    nearest = torch.cdist(features, features[chosen[:1]]).squeeze(1)
    for i in range(1, count):
        chosen[i] = torch.argmax(nearest)
        nearest = torch.minimum(nearest, torch.cdist(features, features[chosen[i : i + 1]]).squeeze(1))
    return chosen


class PatchCore(Method):
    """Memory bank of normal patch features from a frozen backbone; nearest-neighbour score."""

    name = "patchcore"
    params = {
        "weights": "",  # required: a torchvision state dict of `arch` (benchbox never downloads)
        "arch": "wide_resnet50_2",
        "layers": "2,3",  # the backbone stages whose features are used (paper: 2 and 3)
        "neighbourhood": 3,  # local aggregation: p×p average pooling of each feature map
        "feature_dim": 1024,  # channels after adaptive average pooling of the concatenation
        "coreset_ratio": 0.1,  # share of training patches kept (paper: 1%, 10%, 25%)
        "projection_dim": 128,  # random projection the coreset is selected on
        "reweight_neighbours": 9,  # b of eq. 7; 0 = the plain max of nearest distances
        "batch_size": 64,
        "device": "cpu",
    }
    choices = {"arch": ("resnet18", "wide_resnet50_2")}
    ranges = {
        "neighbourhood": ">= 1",
        "feature_dim": ">= 1",
        "coreset_ratio": "(0, 1]",
        "projection_dim": ">= 1",
        "reweight_neighbours": ">= 0",
        "batch_size": ">= 1",
    }
    invalid_examples = {"weights": "/no/such/weights.pth", "layers": "2,9", "device": "no-such-device"}

    def validate(self):
        if not self.weights:
            raise ParamError(f"patchcore needs ImageNet weights and benchbox downloads nothing: {WHERE}")
        check_weights_file(self.weights, self.name)
        resolve_device(self.device)
        if not set(self._layers()) <= {1, 2, 3, 4}:
            raise ParamError(f"patchcore: layers must be stage numbers 1–4, e.g. 2,3; got {self.layers!r}")

    def _layers(self) -> list[int]:
        try:
            return [int(part) for part in self.layers.split(",")]
        except ValueError:
            return [0]

    def fit(self, train: ImageSet, *, on_epoch=None):
        self.validate()
        seed_everything(self.seed)
        self.device_ = resolve_device(self.device)
        self.backbone_ = resnet(self.arch).to(self.device_).eval()
        self.weights_sha256_ = load_weights(self.backbone_, self.weights, self.name)
        patches = torch.cat([p.flatten(0, 1) for p in self._patches(train)])  # (N·P, D)
        generator = torch.Generator().manual_seed(self.seed)
        count = max(1, round(self.coreset_ratio * len(patches)))
        projection = torch.randn(patches.shape[1], self.projection_dim, generator=generator)
        chosen = greedy_coreset((patches.cpu() @ projection).to(self.device_), count, generator)
        self.memory_ = patches[chosen.to(patches.device)]
        if on_epoch is not None:
            on_epoch(1, 1, {"memory_bank": torch.tensor(float(len(self.memory_)))})
        return self

    @torch.inference_mode()
    def _patches(self, data: ImageSet):
        """Per batch: patch features (n, H·W, D) of the images, as in Section 3.1."""
        mean = torch.tensor(IMAGENET_MEAN, device=self.device_).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=self.device_).view(1, 3, 1, 1)
        layers = self._layers()
        for start in range(0, len(data), self.batch_size):
            x = data.images[start : start + self.batch_size].to(self.device_).float().div(255)
            x = (x.expand(-1, 3, -1, -1) - mean) / std  # grey on the three channels
            maps, net = [], self.backbone_
            x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
            for stage in range(1, max(layers) + 1):
                x = getattr(net, f"layer{stage}")(x)
                if stage in layers:
                    maps.append(F.avg_pool2d(x, self.neighbourhood, 1, self.neighbourhood // 2))
            size = maps[0].shape[-2:]
            maps = [
                m if m.shape[-2:] == size else F.interpolate(m, size, mode="bilinear", align_corners=False)
                for m in maps
            ]
            features = torch.cat(maps, 1).flatten(2).transpose(1, 2)  # (n, H·W, C)
            yield F.adaptive_avg_pool1d(features, self.feature_dim)

    @torch.inference_mode()
    def score(self, data: ImageSet) -> np.ndarray:
        scores = []
        for patches in self._patches(data):
            for image in patches:  # (P, D)
                distances = torch.cdist(image, self.memory_)  # (P, M)
                nearest, index = distances.min(1)
                worst = torch.argmax(nearest)
                score = nearest[worst]
                b = min(self.reweight_neighbours, len(self.memory_) - 1)
                if b > 0:  # eq. 7: less weight where the nearest bank patch sits in a dense region
                    anchor = self.memory_[index[worst]]
                    neighbours = torch.cdist(anchor[None], self.memory_)[0].topk(b + 1, largest=False).indices
                    to_neighbours = torch.cdist(image[worst][None], self.memory_[neighbours])[0]
                    score = (1 - torch.softmax(to_neighbours, 0)[0]) * score
                scores.append(float(score))
        return np.asarray(scores, dtype=np.float64)

    def provenance(self) -> dict:
        return {"weights_sha256": self.weights_sha256_}
