"""The leak audit: test images that are copies of training images.

A test image identical to a training image measures memory, not detection; the published
datasets have such copies (Kermany's chest X-rays hold 30 groups of byte-identical files). Two
kinds are found:

- **identical**: the same file content (SHA-256 of the bytes, where the dataset reads files:
  :meth:`benchbox.contracts.Dataset.file_digests`), else the same decoded pixels;
- **near-identical**: a training image whose 64-bit perceptual hash (pHash: the signs, against
  their median, of the 8×8 lowest-frequency DCT coefficients of the image reduced to 32×32) lies
  within :data:`NEAR_BITS` bits of the test image's, *and* whose pixels correlate with it at
  least :data:`NEAR_CORRELATION` (Pearson, at the run's image size). The hash alone does not
  separate patients: chest X-rays of different children lie 4 bits apart (pixel correlation
  0.79-0.89, mean absolute difference 25 grey levels at 64×64), while the copies in
  MedIAnomaly's BrainTumor split correlate 0.95-1.0 (README, "Leak audit").

``--leaks drop`` removes both kinds from the test set before scoring; the result records the
audit either way.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.fft import dctn

from .contracts import ImageSet

NEAR_BITS = 6
NEAR_CORRELATION = 0.95
EXAMPLES = 5


def perceptual_hashes(images: torch.Tensor, chunk: int = 1024) -> np.ndarray:
    """pHash of each uint8 N×1×S×S image as a uint64 (N,), ``chunk`` images at a time (a float
    copy of OCT2017's 26,315 training images at 224×224 would take 5 GB)."""
    hashes = []
    for start in range(0, len(images), chunk):
        small = F.interpolate(images[start : start + chunk].float(), size=(32, 32), mode="area")[:, 0].numpy()
        low = dctn(small, axes=(1, 2), norm="ortho")[:, :8, :8].reshape(len(small), 64)
        bits = low > np.median(low[:, 1:], axis=1, keepdims=True)  # the DC term is left out of the median
        hashes.append(np.packbits(bits, axis=1, bitorder="little").view(np.uint64)[:, 0])
    return np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)


def _nearest_distance(query: np.ndarray, reference: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """For each query hash: the smallest Hamming distance to a reference hash, and which."""
    best = np.full(len(query), 65, dtype=np.int64)
    where = np.zeros(len(query), dtype=np.int64)
    for start in range(0, len(reference), chunk):
        block = reference[start : start + chunk]
        distance = np.bitwise_count(query[:, None] ^ block[None, :]).astype(np.int64)
        index = distance.argmin(1)
        value = distance[np.arange(len(query)), index]
        better = value < best
        best[better], where[better] = value[better], index[better] + start
    return best, where


def audit(train: ImageSet, test: ImageSet, digests: dict | None = None, near_bits: int = NEAR_BITS) -> dict:
    """Which ``test`` images copy a ``train`` image: counts, every flagged id, and examples.

    ``digests``: image id -> file content digest, for both splits (None: identical pixels
    stand in for identical bytes, and the record says so)."""
    if digests is not None:
        basis = "file content (SHA-256)"
        keys_train = [digests[i] for i in train.ids]
        keys_test = [digests[i] for i in test.ids]
    else:
        basis = "decoded pixels"
        keys_train = [image.numpy().tobytes() for image in train.images]
        keys_test = [image.numpy().tobytes() for image in test.images]
    first = {}
    for i, key in enumerate(keys_train):
        first.setdefault(key, i)
    identical = {i: first[key] for i, key in enumerate(keys_test) if key in first}
    distance, nearest = _nearest_distance(perceptual_hashes(test.images), perceptual_hashes(train.images))
    near = {}
    for i in np.nonzero(distance <= near_bits)[0].tolist():
        a, b = (x.flatten().double() for x in (test.images[i], train.images[nearest[i]]))
        if i not in identical and float(torch.corrcoef(torch.stack([a, b]))[0, 1]) >= NEAR_CORRELATION:
            near[i] = int(nearest[i])

    def pairs(found: dict) -> list[list[str]]:
        return [[test.ids[i], train.ids[j]] for i, j in list(found.items())[:EXAMPLES]]

    flagged = sorted(set(identical) | set(near))
    return {
        "identical": len(identical),
        "near_identical": len(near),
        "identical_basis": basis,
        "near_rule": f"64-bit pHash within {near_bits} bits and pixel correlation >= {NEAR_CORRELATION}",
        "n_test": len(test),
        "n_train": len(train),
        "by_class": {c: sum(test.classes[i] == c for i in flagged) for c in sorted(set(test.classes))},
        "examples_identical": pairs(identical),
        "examples_near": pairs(near),
        "flagged_ids": [test.ids[i] for i in flagged],
    }


def describe(dataset: str, split: str, found: dict) -> str | None:
    """One warning line, or None where nothing was found."""
    if not found["identical"] and not found["near_identical"]:
        return None
    example = (found["examples_identical"] or found["examples_near"])[0]
    return (
        f"{dataset}: {found['identical']} {split} image(s) identical to a training image (by "
        f"{found['identical_basis']}) and {found['near_identical']} near-identical ({found['near_rule']}) "
        f"of {found['n_test']}, e.g. {example[0]} ~ {example[1]}; --leaks drop leaves them out"
    )
