"""Content digests of data files, so that "the same data" means the same bytes.

A result's key holds its dataset's fingerprint, and the image cache is keyed by what its files
hold, so both must change when any file's content changes — also for formats whose size never
changes (BMP, TIFF, npy) — and must not change for a fresh copy of the same files (new
modification times). Reading every byte of a dataset of OCT2017's size on every run would be
slow, so each file's SHA-256 is cached by (path, size, modification time): a file whose stat is
unchanged is not read again, a copied or touched file is read once more and gives the same
digest. The cache is one JSON file per data root under the cache directory, written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """``$BENCHBOX_CACHE_DIR``, else ``$XDG_CACHE_HOME/benchbox`` or ``~/.cache/benchbox``."""
    if os.environ.get("BENCHBOX_CACHE_DIR"):
        return Path(os.environ["BENCHBOX_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "benchbox"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _cache_file(root: Path, cache_dir: Path) -> Path:
    where = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:24]
    return cache_dir / "digests" / f"{where}.json"


def content_digests(root: Path, paths: list[Path], cache_dir=None) -> list[str]:
    """SHA-256 of each file's bytes, in the order of ``paths`` (all below ``root``); files
    whose (size, mtime) match the cache are not read."""
    root = Path(root)
    cache_path = _cache_file(root, Path(cache_dir) if cache_dir else default_cache_dir())
    try:
        cached = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cached = {}
    names, stats, out = [], [], [None] * len(paths)
    todo = []
    for i, path in enumerate(paths):
        name = Path(path).relative_to(root).as_posix()
        stat = os.stat(path)
        names.append(name)
        stats.append([stat.st_size, stat.st_mtime_ns])
        entry = cached.get(name)
        if entry and entry[:2] == stats[-1]:
            out[i] = entry[2]
        else:
            todo.append(i)
    if todo:
        # Hashing releases the GIL: a few threads overlap reading with hashing.
        with ThreadPoolExecutor(max_workers=4) as pool:
            for i, digest in zip(todo, pool.map(lambda i: file_sha256(paths[i]), todo)):
                out[i] = digest
        cached.update({names[i]: [*stats[i], out[i]] for i in todo})
        _write_cache(cache_path, cached)
    return out


def _write_cache(target: Path, cached: dict) -> None:
    """Best effort: a cache that cannot be written only costs re-reading the files next time."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cached, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        pass
