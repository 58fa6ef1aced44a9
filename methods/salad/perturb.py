"""The three perturbations of SALAD's self-supervised module (Section III-C), batched.

Images are N×1×H×W in [-1, 1]; randomness comes from torch's generator (seeded per run).
Each image gets exactly one perturbation, chosen uniformly (:func:`perturb`).
"""

from __future__ import annotations

import math

import torch

INPAINT, SHUFFLE, INTENSITY = 0, 1, 2


def inpaint(x: torch.Tensor, n_tiles: int = 5) -> torch.Tensor:
    """Replace ``n_tiles`` rectangles per image by uniform noise. Tile sides are in
    [H/8, H/5] × [W/8, W/5], so areas lie in [WH/64, WH/25] as in the paper."""
    n, _, height, width = x.shape
    device = x.device
    shapes = []
    for side in (height, width):
        low, high = math.ceil(side / 8), max(math.ceil(side / 8), side // 5)
        shapes.append(torch.randint(low, high + 1, (n, n_tiles), device=device))
    h, w = shapes
    y0 = (torch.rand(n, n_tiles, device=device) * (height - h + 1)).floor().long()
    x0 = (torch.rand(n, n_tiles, device=device) * (width - w + 1)).floor().long()
    rows = torch.arange(height, device=device).view(1, 1, height, 1)
    cols = torch.arange(width, device=device).view(1, 1, 1, width)
    inside = (
        (rows >= y0[..., None, None])
        & (rows < (y0 + h)[..., None, None])
        & (cols >= x0[..., None, None])
        & (cols < (x0 + w)[..., None, None])
    )
    mask = inside.any(dim=1, keepdim=True)
    noise = torch.rand_like(x) * 2 - 1
    return torch.where(mask, noise, x)


def local_shuffle(x: torch.Tensor, n_tiles: int = 300) -> torch.Tensor:
    """Shuffle the pixels inside each of ``n_tiles`` random tiles per image.

    Tile sides are in [1, H/10] × [1, W/10] (areas up to WH/100, as in the paper). Where
    tiles overlap, a pixel belongs to the last tile drawn over it; every tile permutes the
    pixels it owns, so pixels only ever move within one tile. All tiles of all images are
    done in one vectorised pass (no loop over the 300 tiles).
    """
    n, _, height, width = x.shape
    device = x.device
    pixels = height * width
    max_h, max_w = max(1, height // 10), max(1, width // 10)
    h = torch.randint(1, max_h + 1, (n, n_tiles, 1, 1), device=device)
    w = torch.randint(1, max_w + 1, (n, n_tiles, 1, 1), device=device)
    y0 = (torch.rand(n, n_tiles, 1, 1, device=device) * (height - h + 1)).floor().long()
    x0 = (torch.rand(n, n_tiles, 1, 1, device=device) * (width - w + 1)).floor().long()
    dy = torch.arange(max_h, device=device).view(1, 1, max_h, 1)
    dx = torch.arange(max_w, device=device).view(1, 1, 1, max_w)
    valid = (dy < h) & (dx < w)
    # Flat pixel index of each box entry; unused entries point at an extra trash slot.
    index = torch.where(valid, (y0 + dy) * width + x0 + dx, pixels).view(n, -1)
    tile = torch.arange(n_tiles, device=device).view(1, n_tiles, 1, 1).expand_as(valid).reshape(n, -1)
    owner = torch.full((n, pixels + 1), -1, device=device, dtype=torch.long)
    owner.scatter_reduce_(1, index, tile, reduce="amax")  # the last tile drawn wins
    owner = owner[:, :pixels]
    position = torch.arange(pixels, device=device).expand(n, pixels)
    # Sorting by (owner, position) and by (owner, random) lists each tile's pixels in the
    # same slots: in place order and in a random order. Unowned pixels stay where they are.
    random_rank = torch.where(owner >= 0, torch.randint(0, pixels, (n, pixels), device=device), position)
    targets = (owner * pixels + position).argsort(1)
    sources = (owner * pixels + random_rank).argsort(1)
    flat = x.reshape(n, pixels)
    out = torch.empty_like(flat)
    out.scatter_(1, targets, flat.gather(1, sources))
    return out.view_as(x)


def bezier(control: torch.Tensor, steps: int = 1001) -> tuple[torch.Tensor, torch.Tensor]:
    """Points of the Bézier curves with control points ``control`` (n×m×2): (xs, ys), n×steps."""
    m = control.shape[1] - 1
    t = torch.linspace(0, 1, steps, device=control.device, dtype=control.dtype).view(1, steps, 1)
    k = torch.arange(m + 1, device=control.device, dtype=control.dtype).view(1, 1, m + 1)
    binom = torch.tensor([math.comb(m, i) for i in range(m + 1)], device=control.device, dtype=control.dtype)
    basis = binom * t**k * (1 - t) ** (m - k)  # 1×steps×(m+1) Bernstein polynomials
    curve = basis @ control  # n×steps×2
    return curve[..., 0], curve[..., 1]


def intensity_map(control: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Evaluate the curve y(x) at intensities ``levels`` (n×L in [0, 1]); x(t) must increase."""
    xs, ys = bezier(control)
    xs = xs.contiguous()
    hi = torch.searchsorted(xs, levels.contiguous()).clamp(1, xs.shape[1] - 1)
    lo = hi - 1
    x_lo, x_hi = xs.gather(1, lo), xs.gather(1, hi)
    y_lo, y_hi = ys.gather(1, lo), ys.gather(1, hi)
    frac = ((levels - x_lo) / (x_hi - x_lo).clamp_min(1e-12)).clamp(0, 1)
    return y_lo + frac * (y_hi - y_lo)


def random_control_points(n: int, device, dtype=torch.float32) -> torch.Tensor:
    """Curves from (0, 0) to (1, 1) through three random control points; their x
    coordinates are sorted so that each curve is a function of intensity."""
    inner = torch.rand(n, 3, 2, device=device, dtype=dtype)
    inner[..., 0] = inner[..., 0].sort(dim=1).values
    ends = torch.tensor([[0.0, 0.0]], device=device, dtype=dtype).expand(n, 1, 2)
    return torch.cat([ends, inner, ends + 1.0], dim=1)


def nonlinear_intensity(x: torch.Tensor) -> torch.Tensor:
    """Map each image's intensities through its own random Bézier curve.

    Images come from 8-bit pixels, so the curve is tabulated at the 256 levels and looked up.
    """
    n = len(x)
    levels = torch.linspace(0, 1, 256, device=x.device, dtype=x.dtype).expand(n, 256)
    table = intensity_map(random_control_points(n, x.device, x.dtype), levels)
    index = ((x + 1) * 127.5).round().clamp(0, 255).long().reshape(n, -1)
    return (table.gather(1, index) * 2 - 1).view_as(x)


def perturb(x: torch.Tensor) -> torch.Tensor:
    """One randomly chosen perturbation per image."""
    kind = torch.randint(0, 3, (len(x),), device=x.device)
    out = x.clone()
    for value, fn in ((INPAINT, inpaint), (SHUFFLE, local_shuffle), (INTENSITY, nonlinear_intensity)):
        chosen = (kind == value).nonzero().view(-1)
        if len(chosen):
            out[chosen] = fn(x[chosen])
    return out
