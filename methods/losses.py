"""Losses shared by several methods: SSIM (Wang et al. 2004) of images stored in [-1, 1].

SSIM is defined on non-negative intensities: its luminance term (2μxμy + c1)/(μx² + μy² + c1)
compares local means as brightnesses. On signed [-1, 1] values it is not SSIM — it goes
negative where two local means have opposite signs (mid-grey, the lungs of a chest X-ray) and
is not invariant to a shift of both images. So the images are mapped back to intensities in
[0, 1] first, and the dynamic range L is 1.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

#: SSIM sees intensities in [0, 1]: the dynamic range L of its constants is 1.
DYNAMIC_RANGE = 1.0
K1, K2 = 0.01, 0.03


@functools.lru_cache(maxsize=16)
def _gaussian_window(size: int, sigma: float, device: str, dtype: torch.dtype) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = (g / g.sum()).to(dtype)
    return (g[:, None] * g[None, :]).view(1, 1, size, size).to(device)


def ssim_map(x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Local SSIM (eq. 5) of images in [-1, 1], as intensities in [0, 1], with a Gaussian
    window, 'valid' positions only: N×1×h×w.

    The window shrinks to the image for images smaller than ``window`` (odd sizes only).
    """
    if torch.is_autocast_enabled(x.device.type):  # variances in bf16 cancel to noise: fp32 here
        with torch.autocast(x.device.type, enabled=False):
            return ssim_map(x.float(), y.float(), window, sigma)
    x, y = (x + 1) * 0.5, (y + 1) * 0.5  # [-1, 1] -> intensities in [0, 1]
    window = min(window, x.shape[-1] - (1 - x.shape[-1] % 2))
    w = _gaussian_window(window, sigma, str(x.device), x.dtype)
    c1 = (K1 * DYNAMIC_RANGE) ** 2
    c2 = (K2 * DYNAMIC_RANGE) ** 2
    # One convolution over the five moments instead of five convolutions, written as a
    # depthwise convolution of one image with n·5·ch channels: on CPU about 25× faster than the
    # same window as a dense one-channel convolution over n·5·ch images (what earlier versions
    # did), and bit-identical to it in values and gradients on the development CPU, so results
    # made before the change reproduce (tests/test_losses.py).
    stacked = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    n, ch = x.shape[0], x.shape[1]
    planes = n * 5 * ch
    moments = F.conv2d(
        stacked.reshape(1, planes, *x.shape[-2:]), w.expand(planes, 1, window, window), groups=planes
    ).view(n, 5, ch, *(s - window + 1 for s in x.shape[-2:]))
    mu_x, mu_y, xx, yy, xy = moments.unbind(1)
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov = xy - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def ssim_residual_map(x: torch.Tensor, y: torch.Tensor, window: int = 11) -> torch.Tensor:
    """1 − SSIM(x, y) at every pixel, (n, S, S), channels averaged: the 'valid' map of
    :func:`ssim_map` padded to the input's size by repeating its border values (the window's
    centre sits on each valid position; the border half-window has no full window)."""
    residual = (1.0 - ssim_map(x, y, window)).mean(1, keepdim=True)
    top = (x.shape[-2] - residual.shape[-2]) // 2
    left = (x.shape[-1] - residual.shape[-1]) // 2
    pad = (left, x.shape[-1] - residual.shape[-1] - left, top, x.shape[-2] - residual.shape[-2] - top)
    return F.pad(residual, pad, mode="replicate")[:, 0]


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 11) -> torch.Tensor:
    """Mean SSIM per image: shape (N,)."""
    return ssim_map(x, y, window).flatten(1).mean(1)
