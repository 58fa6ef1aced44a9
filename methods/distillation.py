"""What the feature-distillation methods (STFPM, reverse distillation) share: a frozen ImageNet
teacher (:class:`methods.pretrained.FeatureBackbone`, the packaged EfficientNet-Lite0 by default)
whose feature maps a trained network learns to reproduce on normal images, trained by the shared
loop (:class:`benchbox.training.TorchMethod`: resume, checkpoints, ``--select``, devices), and
anomaly maps from the per-position disagreement, upsampled to the image.

The teacher is not one of ``nets_``: it never changes, so checkpoints leave it out and ``build``
loads it again (the weights file's SHA-256 goes into the result).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from benchbox.errors import ParamError
from benchbox.training import TorchMethod

from .pretrained import BACKBONES, FeatureBackbone, check_backbone, parse_levels


def _symmetric(n: int, radius: int, device) -> torch.Tensor:
    """Indices of a length-``n`` axis padded by ``radius`` on each side, mirrored about the
    edges (``d c b a | a b c d | d c b a``: scipy.ndimage's ``reflect``), for any ``n``."""
    index = torch.arange(-radius, n + radius, device=device) % (2 * n)
    return torch.where(index >= n, 2 * n - 1 - index, index)


def gaussian_blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """(n, H, W) maps blurred by a Gaussian of ``sigma`` pixels, as scipy.ndimage.gaussian_filter
    does by default (truncated at 4 sigma, borders reflected), on the maps' device."""
    if sigma <= 0:
        return maps
    radius = int(4 * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, device=maps.device, dtype=maps.dtype)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    height, width = maps.shape[-2:]
    x = maps[:, None].index_select(2, _symmetric(height, radius, maps.device))
    x = x.index_select(3, _symmetric(width, radius, maps.device))
    x = nn.functional.conv2d(x, kernel.view(1, 1, 1, -1))
    x = nn.functional.conv2d(x, kernel.view(1, 1, -1, 1))
    return x[:, 0]


def upsampled(maps: list[torch.Tensor], size: int) -> list[torch.Tensor]:
    """(n, h, w) maps of each level, bilinearly to (n, size, size)."""
    return [
        nn.functional.interpolate(m[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]
        for m in maps
    ]


class Distillation(TorchMethod):
    """Base of the methods that learn a frozen teacher's feature maps of normal images."""

    params = {
        "backbone": "efficientnet_lite0",
        "weights": "",  # the ResNets' ImageNet weights file (the Lite weights ship with benchbox)
        "layers": "1,2,3",  # teacher levels (strides 4, 8, 16), as both papers use
    }
    choices = {"backbone": BACKBONES}
    invalid_examples = {"weights": "/no/such/weights.pth", "device": "no-such-device", "layers": "2,5"}

    def validate(self):
        super().validate()
        check_backbone(self.backbone, self.weights, self.name)
        parse_levels(self.layers, self.name)

    @classmethod
    def check_image_size(cls, image_size: int) -> None:
        if image_size % 32 or image_size < 32:
            raise ParamError(
                f"{cls.name}: image size {image_size} is not supported: a multiple of 32 (the teacher's "
                f"coarsest stride), e.g. 64, 128, 224 or 256"
            )

    def load_teacher(self) -> None:
        """In ``build``: the frozen teacher on the device, ``self.teacher_``."""
        self.teacher_ = FeatureBackbone(self.backbone, parse_levels(self.layers, self.name), self.weights, self.name)
        self.teacher_.to(self.device_)

    def teacher_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The teacher's feature maps of a batch in [-1, 1] (no gradient: targets only)."""
        with torch.no_grad():
            return self.teacher_.maps(self.teacher_.normalise(x))

    def teacher_channels(self, image_size: int) -> list[int]:
        probe = torch.zeros(1, 1, image_size, image_size, device=self.device_)
        return [m.shape[1] for m in self.teacher_maps(probe)]

    def score(self, data):
        # Both papers: the map's maximum. One pass for both: the maps of the images just scored
        # are kept for anomaly_maps, which the runner asks for next (a second pass through teacher
        # and student halved scoring speed).
        maps = self.map_batches(data, self.map_batch)
        self._scored = (data, maps)
        return maps.flatten(1).amax(1).cpu().numpy().astype(np.float64)

    def anomaly_maps(self, data):
        scored, self._scored = getattr(self, "_scored", None), None
        if scored is not None and scored[0] is data:
            return scored[1].cpu().numpy()
        return super().anomaly_maps(data)

    def provenance(self) -> dict:
        return self.teacher_.provenance()


def smoothing_sigma(sigma_at_256: float, image_size: int) -> float:
    """A smoothing width given in pixels of a 256×256 image (the papers' size), at ``image_size``."""
    return sigma_at_256 * image_size / 256 if math.isfinite(sigma_at_256) else 0.0
