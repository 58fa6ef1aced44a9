"""The shared encoder/decoder of the SALAD paper (IV-B), size-adaptive.

Convolutions (encoder) and transposed convolutions (decoder) with kernel 4, stride 2,
padding 1: log2(size) layers take a size×size image to a 1×1 vector and back (8 layers
at 256×256). InstanceNorm and LeakyReLU(0.2) follow every layer except the two ends: the
latent layer (InstanceNorm of a 1×1 map is identically zero) and the image layer (tanh,
images live in [-1, 1]). Channels: ``width`` at the first layer, doubling per layer,
capped at ``max_width``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from benchbox.errors import ParamError

MIN_SIZE, MAX_SIZE = 16, 1024


def n_layers(image_size: int) -> int:
    """log2(image_size), after checking the size is a supported power of two."""
    if image_size < MIN_SIZE or image_size > MAX_SIZE or image_size & (image_size - 1):
        raise ParamError(
            f"image size {image_size} is not supported by the convolutional backbone: "
            f"use a power of two from {MIN_SIZE} to {MAX_SIZE} (e.g. 32, 64, 128, 256)"
        )
    return int(math.log2(image_size))


def channels(image_size: int, width: int, max_width: int) -> list[int]:
    """Output channels of the hidden (non-latent) encoder layers."""
    return [min(width * 2**i, max_width) for i in range(n_layers(image_size) - 1)]


def _block(conv: nn.Module, out_ch: int, norm: bool) -> list[nn.Module]:
    layers = [conv]
    if norm:
        layers.append(nn.InstanceNorm2d(out_ch, affine=True))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return layers


class Encoder(nn.Module):
    """size×size×in_channels image -> ``out_dim`` vector. ``features(x)`` gives the last
    hidden map (used for feature matching by GAN discriminators)."""

    def __init__(
        self,
        image_size: int,
        out_dim: int,
        width: int = 32,
        max_width: int = 256,
        in_channels: int = 1,
        norm: bool = True,
        first_norm: bool = True,
    ):
        super().__init__()
        chans = channels(image_size, width, max_width)
        layers: list[nn.Module] = []
        previous = in_channels
        for i, out_ch in enumerate(chans):
            normed = norm and (first_norm or i > 0)  # DCGAN-style encoders skip the first
            layers += _block(nn.Conv2d(previous, out_ch, 4, 2, 1, bias=not normed), out_ch, normed)
            previous = out_ch
        self.hidden = nn.Sequential(*layers)
        self.head = nn.Conv2d(previous, out_dim, 4, 2, 1)
        self.out_dim = out_dim

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden(x)).flatten(1)


class Decoder(nn.Module):
    """``latent_dim`` vector -> size×size×out_channels image in [-1, 1] (mirror of Encoder)."""

    def __init__(self, image_size: int, latent_dim: int, width: int = 32, max_width: int = 256, out_channels: int = 1):
        super().__init__()
        chans = list(reversed(channels(image_size, width, max_width)))
        layers: list[nn.Module] = []
        previous = latent_dim
        for out_ch in chans:
            layers += _block(nn.ConvTranspose2d(previous, out_ch, 4, 2, 1, bias=False), out_ch, True)
            previous = out_ch
        self.hidden = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.ConvTranspose2d(previous, out_channels, 4, 2, 1), nn.Tanh())
        self.latent_dim = latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden(z.view(len(z), -1, 1, 1)))


class BackboneParams:
    """Parameters shared by every method built on the backbone."""

    params = {"width": 32, "max_width": 256, "latent_dim": 128}
    ranges = {"width": ">= 1", "max_width": ">= 1", "latent_dim": ">= 1"}

    @classmethod
    def check_image_size(cls, image_size: int) -> None:
        n_layers(image_size)


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation (N(0, 0.02) convolutions, N(1, 0.02) norm scales)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
