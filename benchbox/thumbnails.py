"""What the report's image explorer shows, stored by the runner beside the results: small
copies of the test images and their masks, once per test set (``<dataset>/thumbnails/<test
set hash>.npz``), and each cell's anomaly maps at low resolution, quantised to bytes, in the
cell's own ``.npz`` (``explorer_maps`` with ``explorer_map_range``). Both are for looking at;
every metric comes from the full-resolution maps and the scores in the result file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .contracts import ImageSet
from .store import write_arrays

IMAGE_SIDE = 96  # the thumbnails' side at most (the cpu preset's 64-pixel images stay 64)
MAP_SIDE = 32  # the stored maps' side: 1 kB an image before compression
CLIP = (0.5, 99.5)  # the percentiles of a run's map values mapped to 0 and 255


def _downscale(images: torch.Tensor, side: int) -> torch.Tensor:
    """N×1×H×W -> N×side×side float (area-averaged), never upscaled."""
    side = min(side, images.shape[-1])
    return F.interpolate(images.float(), size=(side, side), mode="area")[:, 0]


def image_thumbnails(test: ImageSet) -> dict[str, np.ndarray]:
    """The explorer's copy of a test set: ids, uint8 images, and where there are masks the
    masks (a thumbnail pixel is anomalous where at least a quarter of its pixels are) and which
    of them are ground truth."""
    out = {
        "ids": np.asarray(test.ids, dtype=str),
        "images": _downscale(test.images, IMAGE_SIDE).round().clamp(0, 255).to(torch.uint8).numpy(),
    }
    if test.masks is not None:
        out["masks"] = (_downscale(test.masks.clamp(0, 1), IMAGE_SIDE) >= 0.25).numpy()
        out["mask_known"] = np.asarray(test.mask_known, dtype=bool)
    return out


def map_thumbnails(maps: np.ndarray) -> dict[str, np.ndarray]:
    """A run's maps (N×H×W) at ``MAP_SIDE``, as bytes on one scale for the whole run: its
    0.5th..99.5th percentile of values to 0..255 (the range kept, so a value can be read back)."""
    small = _downscale(torch.from_numpy(np.asarray(maps, dtype=np.float32))[:, None], MAP_SIDE).numpy()
    low, high = np.percentile(small, CLIP)
    scaled = (small - low) / (high - low) if high > low else np.zeros_like(small)
    return {
        "explorer_maps": np.clip(np.round(scaled * 255), 0, 255).astype(np.uint8),
        "explorer_map_range": np.asarray([low, high], dtype=np.float32),
    }


def thumbnails_path(result: Path, test_hash: str) -> Path:
    """Where the thumbnails of a result's test set are kept: beside the dataset's results."""
    return Path(result).parent / "thumbnails" / f"{test_hash[:16]}.npz"


def write_thumbnails(result: Path, test: ImageSet) -> None:
    """The thumbnails of ``result``'s test set, made and written only where that test set has none."""
    target = thumbnails_path(result, test.file_list_hash())
    if not target.exists():
        write_arrays(target, image_thumbnails(test))
