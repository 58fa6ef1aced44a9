"""PatchCore (Roth et al., CVPR 2022): locally aggregated mid-level features of a frozen
ImageNet backbone, a greedy coreset of the normal training patches as memory bank, and the
nearest-neighbour distance of the most anomalous patch as the image score (eq. 7, reweighted).
See README.md beside this file.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

from benchbox.contracts import ImageSet

from ..pretrained import FrozenFeatures, local_patch_features


def greedy_coreset(features: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of ``count`` rows chosen by greedy k-center selection (the paper's Algorithm 1):
    each step adds the row farthest from those chosen so far. ``features`` are already the
    low-dimensional random projections the paper selects on. Squared distances from the norms
    and one matrix-vector product a step (the same order as distances, 7× faster than
    ``torch.cdist`` on 250,000 rows: benchmarks/RESULTS.md)."""
    n = len(features)
    chosen = torch.empty(count, dtype=torch.long)
    chosen[0] = torch.randint(n, (1,), generator=generator).item()
    norms = (features * features).sum(1)

    def squared_distances(i):
        return (norms - 2 * (features @ features[i]) + norms[i]).clamp_min_(0)

    nearest = squared_distances(chosen[0])
    for k in range(1, count):
        chosen[k] = torch.argmax(nearest)
        torch.minimum(nearest, squared_distances(chosen[k]), out=nearest)
    return chosen


MAP_SIGMA = 4.0  # the paper's Gaussian smoothing of the upsampled segmentation map, in pixels


class PatchCore(FrozenFeatures):
    """Memory bank of normal patch features from a frozen ImageNet backbone; nearest-neighbour score."""

    name = "patchcore"
    title = "PatchCore"
    citation = r"""@inproceedings{roth2022patchcore,
  author = {Roth, Karsten and Pemula, Latha and Zepeda, Joaquin and Sch{\"o}lkopf, Bernhard and Brox, Thomas and Gehler, Peter},
  title = {Towards Total Recall in Industrial Anomaly Detection},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  pages = {14318--14328},
  year = {2022}
}
"""
    params = {
        "layers": "2,3",  # feature levels used (strides 8 and 16: the paper's stages 2 and 3)
        "neighbourhood": 3,  # local aggregation: p×p average pooling of each feature map
        "feature_dim": 1024,  # at most this many channels (adaptive average pooling of the concatenation)
        "coreset_ratio": 0.1,  # share of training patches kept (paper: 1%, 10%, 25%)
        "projection_dim": 128,  # random projection the coreset is selected on
        "reweight_neighbours": 9,  # b of eq. 7; 0 = the plain max of nearest distances
        "coreset_chunk": 250_000,  # patches per greedy selection: bounds memory at any training size
    }
    ranges = {
        "neighbourhood": ">= 1",
        "feature_dim": ">= 1",
        "coreset_ratio": "(0, 1]",
        "projection_dim": ">= 1",
        "reweight_neighbours": ">= 0",
        "coreset_chunk": ">= 1",
    }
    invalid_examples = {"layers": "2,9"}
    renamed = {"arch": "backbone"}
    revision = 1  # 1: the coreset is selected chunk by chunk (identical while the patches fit one chunk)

    def fit(self, train: ImageSet, *, on_epoch=None):
        self.load_backbone()
        generator = torch.Generator().manual_seed(self.seed)
        projection, kept, pending, size = None, [], [], 0
        for patches, _ in self._patches(train):
            flat = patches.flatten(0, 1)
            if projection is None:
                projection = torch.randn(flat.shape[1], self.projection_dim, generator=generator)
            pending.append(flat)
            size += len(flat)
            if size >= self.coreset_chunk:
                kept.append(self._select(torch.cat(pending), projection, generator))
                pending, size = [], 0
        if pending:
            kept.append(self._select(torch.cat(pending), projection, generator))
        self.memory_ = torch.cat(kept)
        if on_epoch is not None:
            on_epoch(1, 1, {"memory_bank": torch.tensor(float(len(self.memory_)))})
        return self

    def _select(self, patches: torch.Tensor, projection: torch.Tensor, generator) -> torch.Tensor:
        """The greedy coreset of one chunk of patches (all of them while they fit one chunk:
        the paper's selection; beyond, the union of the chunks' coresets, so that memory is
        bounded by ``coreset_chunk`` at any training size)."""
        count = max(1, round(self.coreset_ratio * len(patches)))
        chosen = greedy_coreset((patches.cpu() @ projection).to(self.device_), count, generator)
        return patches[chosen.to(patches.device)]

    @torch.inference_mode()
    def _patches(self, data: ImageSet):
        """Per batch: patch features (n, H·W, D) of the images, as in Section 3.1, and (H, W)."""
        for start in range(0, len(data), self.batch_size):
            maps = self.backbone_(data.images[start : start + self.batch_size].to(self.device_))
            yield local_patch_features(maps, self.neighbourhood, self.feature_dim)

    def _nearest(self, data: ImageSet):
        """Per image: the nearest bank distance of each patch (P,), the bank index of each
        patch's nearest (P,), the patch features (P, D), and the patch grid (H, W)."""
        for patches, size in self._patches(data):
            for image in patches:  # (P, D)
                nearest, index = torch.cdist(image, self.memory_).min(1)
                yield nearest, index, image, size

    @torch.inference_mode()
    def score(self, data: ImageSet) -> np.ndarray:
        scores, grids = [], []
        for nearest, index, image, grid in self._nearest(data):
            grids.append(nearest.reshape(grid))
            worst = torch.argmax(nearest)
            score = nearest[worst]
            b = min(self.reweight_neighbours, len(self.memory_) - 1)
            if b > 0:  # eq. 7: less weight where the nearest bank patch sits in a dense region
                anchor = self.memory_[index[worst]]
                neighbours = torch.cdist(anchor[None], self.memory_)[0].topk(b + 1, largest=False).indices
                to_neighbours = torch.cdist(image[worst][None], self.memory_[neighbours])[0]
                score = (1 - torch.softmax(to_neighbours, 0)[0]) * score
            scores.append(float(score))
        # anomaly_maps of the same images reuses these: the nearest search is most of scoring.
        self._scored = (data, grids)
        return np.asarray(scores, dtype=np.float64)

    @torch.inference_mode()
    def anomaly_maps(self, data: ImageSet) -> np.ndarray:
        """(N, S, S): each patch's nearest bank distance on the patch grid, upsampled (bilinear)
        to the input's size and smoothed by a Gaussian of σ = 4 pixels (Section 3.3)."""
        size = tuple(data.images.shape[-2:])
        scored, self._scored = getattr(self, "_scored", None), None
        if scored is not None and scored[0] is data:
            grids = scored[1]
        else:
            grids = (nearest.reshape(grid) for nearest, _, _, grid in self._nearest(data))
        maps = []
        for nearest in grids:
            upsampled = F.interpolate(nearest[None, None], size, mode="bilinear", align_corners=False)
            maps.append(gaussian_filter(upsampled[0, 0].cpu().numpy(), MAP_SIGMA))
        return np.stack(maps).astype(np.float32)
