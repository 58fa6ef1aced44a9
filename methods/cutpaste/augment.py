"""Synthetic anomalies for self-supervised training, on batches N×1×H×W in [-1, 1].

- :func:`cutpaste` (Li et al., CVPR 2021): a rectangle of 2–15% of the image, aspect ratio in
  [0.3, 1/0.3], cut at one place, jittered in brightness and contrast (±10%) and pasted at
  another.
- :func:`scar` (CutPaste-scar): a thin strip, 2–16 × 10–25 pixels at 256×256 (scaled with the
  image size), rotated by −45°…45°, cut and pasted likewise.
- :func:`anatpaste` (Sato et al. 2023): a CutPaste patch blended, with a random opacity, into
  the lungs only, found without labels by :func:`lung_mask` (blur, Otsu threshold of the
  central region, opening, the two largest dark regions).

Randomness comes from torch's global generator (seeded per run by the training loop), so a
run is reproducible and resumes bit-identically.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * torch.rand(()).item()


def _randint(low: int, high: int) -> int:
    """Uniform integer in [low, high]."""
    return int(torch.randint(low, high + 1, ()).item())


def _jitter(patch: torch.Tensor) -> torch.Tensor:
    """Brightness and contrast factors in [0.9, 1.1] (torchvision's ColorJitter(0.1, 0.1) on a
    grey patch), applied to intensities in [0, 1]."""
    unit = (patch + 1) / 2
    unit = unit * _uniform(0.9, 1.1)
    mean = unit.mean()
    unit = (unit - mean) * _uniform(0.9, 1.1) + mean
    return unit.clamp(0, 1) * 2 - 1


def _patch_size(height: int, width: int) -> tuple[int, int]:
    area = _uniform(0.02, 0.15) * height * width
    aspect = math.exp(_uniform(math.log(0.3), math.log(1 / 0.3)))
    h = min(height - 1, max(1, round(math.sqrt(area / aspect))))
    w = min(width - 1, max(1, round(math.sqrt(area * aspect))))
    return h, w


def cutpaste(x: torch.Tensor) -> torch.Tensor:
    out = x.clone()
    _, _, height, width = x.shape
    for i in range(len(x)):
        h, w = _patch_size(height, width)
        y0, x0 = _randint(0, height - h), _randint(0, width - w)
        y1, x1 = _randint(0, height - h), _randint(0, width - w)
        out[i, :, y1 : y1 + h, x1 : x1 + w] = _jitter(x[i, :, y0 : y0 + h, x0 : x0 + w])
    return out


def scar(x: torch.Tensor) -> torch.Tensor:
    out = x.clone()
    _, _, height, width = x.shape
    scale = height / 256
    for i in range(len(x)):
        w = max(1, round(_uniform(2, 16) * scale))
        h = max(2, round(_uniform(10, 25) * scale))
        side = math.ceil(math.hypot(h, w)) + 1  # the rotated strip fits in a side×side square
        if side >= min(height, width):
            side = min(height, width) - 1
            h, w = min(h, side), min(w, side)
        y0, x0 = _randint(0, height - h), _randint(0, width - w)
        canvas = torch.zeros(2, side, side, dtype=x.dtype, device=x.device)  # strip, then its mask
        top, left = (side - h) // 2, (side - w) // 2
        canvas[0, top : top + h, left : left + w] = _jitter(x[i, 0, y0 : y0 + h, x0 : x0 + w])
        canvas[1, top : top + h, left : left + w] = 1
        angle = math.radians(_uniform(-45, 45))
        theta = torch.tensor(
            [[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0]],
            dtype=x.dtype,
            device=x.device,
        )
        grid = F.affine_grid(theta[None], [1, 2, side, side], align_corners=False)
        rotated = F.grid_sample(canvas[None], grid, mode="nearest", align_corners=False)[0]
        y1, x1 = _randint(0, height - side), _randint(0, width - side)
        region = out[i, 0, y1 : y1 + side, x1 : x1 + side]
        out[i, 0, y1 : y1 + side, x1 : x1 + side] = torch.where(rotated[1] > 0.5, rotated[0], region)
    return out


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """The threshold that maximises the between-class variance of a histogram (Otsu 1979)."""
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts)
    mean = np.cumsum(counts * centres)
    total, total_mean = weight[-1], mean[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_mean * weight - mean * total) ** 2 / (weight * (total - weight))
    if not np.isfinite(between).any():  # one level only (an all-black MRI slice): nothing is darker
        return float(values.min())
    return float(centres[np.nanargmax(np.where(np.isfinite(between), between, np.nan))])


def lung_mask(image: np.ndarray, blur: float = 0.015, margin: float = 0.15) -> np.ndarray:
    """Lungs of a frontal chest X-ray (H×W, intensities in [0, 1]) without labels: inside the
    central region (``margin`` of the side cut off all round, where the air outside the body
    and the shoulders are), the pixels darker than the Otsu threshold of that region after a
    Gaussian blur of ``blur`` × the side (so that ribs do not split the lungs), opened with a
    3×3 square; the two largest connected regions, holes filled. Empty when none is found.
    Chosen by looking at training images' masks (never at test images or scores)."""
    side = image.shape[0]
    smooth = ndimage.gaussian_filter(image, blur * side)
    cut = int(round(margin * side))
    central = np.zeros(image.shape, dtype=bool)
    central[cut : side - cut, cut : image.shape[1] - cut] = True
    dark = (smooth < otsu_threshold(smooth[central])) & central
    dark = ndimage.binary_opening(dark, structure=np.ones((3, 3)))
    labels, count = ndimage.label(dark)
    if count == 0:
        return dark
    sizes = ndimage.sum(dark, labels, index=np.arange(1, count + 1))
    keep = [i + 1 for i in np.argsort(sizes)[::-1][:2] if sizes[i] > 0]
    return ndimage.binary_fill_holes(np.isin(labels, keep))


def anatpaste(x: torch.Tensor) -> torch.Tensor:
    """A CutPaste patch pasted centred on a random lung pixel and blended into the lungs only,
    with opacity in [0.3, 1] (a patch outside the lungs would teach nothing about them). An
    image with no lung found gets a plain CutPaste patch."""
    out = x.clone()
    _, _, height, width = x.shape
    unit = ((x[:, 0] + 1) / 2).cpu().numpy()
    for i in range(len(x)):
        mask = torch.from_numpy(lung_mask(unit[i])).to(x.device)
        h, w = _patch_size(height, width)
        y0, x0 = _randint(0, height - h), _randint(0, width - w)
        inside = mask.nonzero()
        if len(inside):
            cy, cx = inside[_randint(0, len(inside) - 1)].tolist()
            y1, x1 = min(max(0, cy - h // 2), height - h), min(max(0, cx - w // 2), width - w)
        else:
            y1, x1 = _randint(0, height - h), _randint(0, width - w)
            mask = torch.ones_like(mask)
        pasted = out[i, 0].clone()
        pasted[y1 : y1 + h, x1 : x1 + w] = _jitter(x[i, 0, y0 : y0 + h, x0 : x0 + w])
        opacity = _uniform(0.3, 1.0)
        out[i, 0] = torch.where(mask, x[i, 0] + opacity * (pasted - x[i, 0]), x[i, 0])
    return out


AUGMENTATIONS = {"cutpaste": cutpaste, "scar": scar, "anatpaste": anatpaste}
