"""Reading image files: decode with Pillow to one channel, bicubic resize, uint8, cached.

The cache holds one ``.npz`` file per (dataset, split, size, file list) under the cache
directory; its key hashes every file's relative path and content digest
(:mod:`benchbox.digests`), so an added, removed or modified file gives a new key and a fresh
copy of the same files finds the same entry. Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from benchbox.digests import content_digests, default_cache_dir
from benchbox.errors import DataError

IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png", ".bmp", ".tif", ".tiff"}


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder`` (no recursion, so no symlink loops), sorted."""
    try:
        with os.scandir(folder) as entries:
            names = [
                e.name
                for e in entries
                if Path(e.name).suffix.lower() in IMAGE_SUFFIXES and not e.name.startswith(".") and e.is_file()
            ]
    except OSError as error:
        raise DataError(f"cannot list {folder}: {error.strerror}") from None
    return [folder / name for name in sorted(names)]


def to_gray_uint8(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit grayscale ('L'); 16-bit and float images are rescaled."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        return Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("L")


def decode(path: str, size: int, channel: int | None = None) -> np.ndarray:
    """One file -> uint8 size×size. ``channel``: of a file with several channels, that one
    (FLAIR is channel 1 of the LGG TIFFs) instead of their grey mix; a one-channel file is
    read as it is. Raises DataError naming the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image = ImageOps.exif_transpose(image)
                bands = image.getbands()
                if channel is not None and len(bands) > 1:
                    if channel >= len(bands):
                        raise DataError(f"{path}: has {len(bands)} channels, channel {channel} was asked for")
                    image = image.getchannel(channel)
                gray = to_gray_uint8(image)
                gray = gray.resize((size, size), Image.Resampling.BICUBIC)
                return np.asarray(gray, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(f"{path}: not a decodable image ({type(error).__name__}: {error})") from None


def _decode_or_message(args):
    path, size, channel = args
    try:
        return decode(path, size, channel), None
    except DataError as error:
        return None, str(error)


def decode_all(
    paths: list[Path], size: int, skip_bad: bool = False, channel: int | None = None
) -> tuple[np.ndarray, list[int]]:
    """Decode ``paths`` on all cores; returns (N×size×size uint8, indices kept).

    A file that does not decode is an error naming it, or with ``skip_bad`` a warning listing
    every skipped file."""
    jobs = [(str(p), size, channel) for p in paths]
    if len(jobs) < 64 or (os.cpu_count() or 1) == 1:
        results = [_decode_or_message(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
            results = list(pool.map(_decode_or_message, jobs, chunksize=32))
    bad = [message for _, message in results if message]
    if bad and not skip_bad:
        raise DataError(
            f"{len(bad)} file(s) could not be decoded (skip them with "
            f"--param <dataset>.skip_bad=true):\n  " + "\n  ".join(bad)
        )
    if bad:
        warnings.warn(f"skipped {len(bad)} undecodable file(s):\n  " + "\n  ".join(bad), stacklevel=2)
    kept = [i for i, (array, _) in enumerate(results) if array is not None]
    stack = np.stack([results[i][0] for i in kept]) if kept else np.zeros((0, size, size), np.uint8)
    return stack, kept


def file_key(root: Path, paths: list[Path], extra, cache_dir=None) -> str:
    """Hash of (relative path, content digest) of every file plus ``extra`` (name, size, ...)."""
    digests = content_digests(root, paths, cache_dir)
    entries = [(p.relative_to(root).as_posix(), d) for p, d in zip(paths, digests)]
    return hashlib.sha256(json.dumps([extra, entries]).encode()).hexdigest()


def load_cached(root: Path, paths: list[Path], size: int, cache_dir, name: str, skip_bad: bool, channel=None):
    """(images N×size×size uint8, indices of ``paths`` kept), from the cache when possible."""
    key = file_key(root, paths, [name, size, skip_bad] + ([channel] if channel is not None else []), cache_dir)
    folder = Path(cache_dir) if cache_dir else default_cache_dir()
    target = folder / name / f"{key[:32]}.npz"
    if target.exists():
        try:
            with np.load(target) as data:
                return data["images"], data["kept"].tolist()
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache entry: rebuilt below
    images, kept = decode_all(paths, size, skip_bad, channel)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            np.savez(handle, images=images, kept=np.asarray(kept, dtype=np.int64))
        os.replace(tmp, target)
    except OSError as error:
        warnings.warn(
            f"could not write the image cache at {target} ({error.strerror}); continuing without", stacklevel=2
        )
    return images, kept
