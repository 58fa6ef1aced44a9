"""Reverse distillation, RD4AD (Deng & Li, "Anomaly Detection via Reverse Distillation from
One-Class Embedding", CVPR 2022): a frozen teacher encoder; its multi-scale features fused and
squeezed into a one-class bottleneck embedding (OCBE); a student *decoder* rebuilds the teacher's
features from that embedding; the cosine distance between the two, per position, is the anomaly
map. See README.md beside this file.
"""

from __future__ import annotations

import torch
from torch import nn

from ..distillation import Distillation, gaussian_blur, smoothing_sigma, upsampled


def _conv_bn(c_in: int, c_out: int, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
    )


class Residual(nn.Module):
    """A ResNet basic block (two 3×3 convolutions), optionally changing width and stride."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.skip = (
            nn.Identity()
            if c_in == c_out and stride == 1
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


class Bottleneck(nn.Module):
    """OCBE: multi-scale feature fusion (each shallower level brought to the deepest level's
    stride by stride-2 3×3 convolutions, concatenated), then the one-class embedding: residual
    blocks, the first of stride 2, to ``width`` channels."""

    def __init__(self, channels: list[int], width: int, blocks: int = 2):
        super().__init__()
        deepest = channels[-1]
        self.down = nn.ModuleList()
        for depth, c in enumerate(channels):
            steps = len(channels) - 1 - depth
            layers = [_conv_bn(c if i == 0 else deepest, deepest, stride=2) for i in range(steps)]
            self.down.append(nn.Sequential(*layers) if layers else nn.Identity())
        fused = deepest * len(channels)
        self.embed = nn.Sequential(
            Residual(fused, width, stride=2), *[Residual(width, width) for _ in range(blocks - 1)]
        )

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.embed(torch.cat([down(f) for down, f in zip(self.down, features)], 1))


class StudentDecoder(nn.Module):
    """The teacher reversed: from the embedding, per level (deepest first), a 2×2 transposed
    convolution of stride 2 and residual blocks to that level's channels; each level's output is
    compared with the teacher's map of the same stride."""

    def __init__(self, channels: list[int], width: int, blocks: int = 2):
        super().__init__()
        self.stages = nn.ModuleList()
        c_in = width
        for c in reversed(channels):
            self.stages.append(
                nn.Sequential(
                    nn.ConvTranspose2d(c_in, c, 2, 2, bias=False),
                    nn.BatchNorm2d(c),
                    nn.ReLU(inplace=True),
                    *[Residual(c, c) for _ in range(blocks)],
                )
            )
            c_in = c

    def forward(self, z: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for stage in self.stages:
            z = stage(z)
            out.append(z)
        return out[::-1]  # shallowest first, like the teacher's


class RD4AD(Distillation):
    name = "rd4ad"
    title = "RD4AD"
    citation = r"""@inproceedings{deng2022rd4ad,
  author = {Deng, Hanqiu and Li, Xingyu},
  title = {Anomaly Detection via Reverse Distillation from One-Class Embedding},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  pages = {9737--9746},
  year = {2022}
}
"""
    params = {
        # The paper's optimiser: Adam, lr 0.005, betas (0.5, 0.999), batch size 16, 200 epochs
        # at 256×256; no LR schedule.
        "lr": 0.005,
        "beta1": 0.5,
        "lr_schedule": "constant",
        "epochs": 200,
        "batch_size": 16,
        "width": 0,  # the embedding's channels; 0: twice the deepest teacher level's
        "blocks": 2,  # residual blocks per bottleneck and decoder stage
        "sigma": 4.0,  # the map's Gaussian smoothing, in pixels of a 256×256 image (paper: 4)
    }
    ranges = {"beta1": "[0, 1)", "width": ">= 0", "blocks": ">= 1", "sigma": ">= 0"}

    def build(self, image_size):
        self.load_teacher()
        channels = self.teacher_channels(image_size)
        width = self.width or 2 * channels[-1]
        self.nets_["bottleneck"] = Bottleneck(channels, width, self.blocks)
        self.nets_["decoder"] = StudentDecoder(channels, width, self.blocks)
        trained = [*self.nets_["bottleneck"].parameters(), *self.nets_["decoder"].parameters()]
        self.opt_ = torch.optim.Adam(trained, lr=self.lr, betas=(self.beta1, 0.999))
        self.optimizers_.append(self.opt_)

    def distances(self, x) -> list[torch.Tensor]:
        """Per level, 1 − cos(teacher, student) at each position (paper eq. 1)."""
        teacher = self.teacher_maps(x)
        student = self.nets_["decoder"](self.nets_["bottleneck"](teacher))
        return [1 - nn.functional.cosine_similarity(t, s, dim=1) for t, s in zip(teacher, student)]

    def train_step(self, x):
        # Eq. 2: each level's distance averaged over its positions, summed over levels.
        loss = sum(d.mean() for d in self.distances(x))
        self.opt_.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_.step()
        return {"loss": loss.detach()}

    def map_batch(self, x):
        # Eq. 3: the levels' maps upsampled and summed; then a Gaussian filter (sigma 4 at 256).
        summed = torch.stack(upsampled(self.distances(x), x.shape[-1])).sum(0)
        return gaussian_blur(summed, smoothing_sigma(self.sigma, x.shape[-1]))
