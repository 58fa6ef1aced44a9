"""The image explorer's data for one report section: every test image (its thumbnail, mask
contour, class, group and label) and every run (its score, rank and low-resolution map of each
image, and the threshold the report's F1/ACC/SEN/SPE use), from the result files alone
(:mod:`benchbox.thumbnails` says what the runner stores). Pictures are inlined as data URIs
(images JPEG, maps and contours PNG); :mod:`benchbox.report.html` writes the data as scripts
beside ``index.html``.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

from ..store import read_arrays
from ..tables import first_seed_only, ordered

THRESHOLD = "test_best_f1"  # the report's thresholded metrics use it (its describe() says so)
# The maps' PNGs: 32 levels of the stored 256 (a third of the bytes: a 256-colour palette alone is
# 768 bytes a picture; measured on LGG's maps, 1.8 kB -> 0.7 kB each).
MAP_LEVELS = 32
COLOURMAP = "magma"  # the anomaly maps' colours, as the report's map figures (figures.maps_figure)


def _uri(image, kind: str, **options) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=kind, **options)
    return f"data:image/{kind.lower()};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def jpeg(array: np.ndarray) -> str:
    """A grey uint8 H×W picture as a JPEG data URI (a third of a PNG's size; for looking at)."""
    from PIL import Image

    return _uri(Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8), mode="L"), "JPEG", quality=85)


def png(array: np.ndarray, palette: list[int], transparent: int | None = None) -> str:
    """A uint8 H×W array of indices into ``palette`` (RGB triples) as a PNG data URI."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8), mode="P")
    image.putpalette(palette)
    return _uri(image, "PNG", optimize=True, **({} if transparent is None else {"transparency": transparent}))


def _map_palette() -> list[int]:
    import matplotlib

    colours = matplotlib.colormaps[COLOURMAP](np.linspace(0, 1, MAP_LEVELS))[:, :3]
    return np.round(colours * 255).astype(np.uint8).ravel().tolist()


def contour(mask: np.ndarray) -> np.ndarray:
    """The mask's boundary pixels (in the mask, with a 4-neighbour outside it) as 1, else 0."""
    mask = mask.astype(bool)
    padded = np.pad(mask, 1)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return (mask & ~inner).astype(np.uint8)


def read_thumbnails(records: list[dict]) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Image id -> (thumbnail, mask or None), from every thumbnail file beside the records."""
    out = {}
    folders = sorted({Path(r["_path"]).parent / "thumbnails" for r in records if r.get("_path")})
    for folder in folders:
        for path in sorted(folder.glob("*.npz")):
            arrays = read_arrays(path)
            if arrays is None:
                continue  # unreadable: those images are shown without a picture
            masks = arrays.get("masks")
            known = arrays.get("mask_known")
            for i, image_id in enumerate(arrays["ids"].tolist()):
                mask = masks[i] if masks is not None and known is not None and known[i] else None
                out.setdefault(image_id, (arrays["images"][i], mask))
    return out


def ranks(scores: np.ndarray) -> np.ndarray:
    """1 for the highest score; tied scores share the best rank among them."""
    return 1 + np.searchsorted(np.sort(-scores), -scores, side="left")


def explorer_data(records: list[dict], read_artifacts, catalogue, rank: dict[str, int], subgroup=None) -> dict | None:
    """What the explorer of one section shows (None without finished runs). ``read_artifacts``:
    a result path -> its arrays; ``subgroup``: the dataset plugin's finer groups, if any."""
    ok = first_seed_only([r for r in records if r["status"] == "ok" and r.get("scores")], catalogue.seed_independent)
    if not ok:
        return None
    rows = ordered({r["label"] for r in ok}, rank)
    ok = sorted(ok, key=lambda r: (rows.index(r["label"]), r["seed"]))
    ids, where = [], {}
    classes, labels = {}, {}
    for r in ok:
        for image_id, name, label in zip(r["scores"]["ids"], r["scores"]["classes"], r["scores"]["labels"]):
            if image_id not in where:
                where[image_id] = len(ids)
                ids.append(image_id)
                classes[image_id], labels[image_id] = name, int(label)
    thumbnails = read_thumbnails(ok)
    images = {"ids": ids, "classes": [classes[i] for i in ids], "labels": [labels[i] for i in ids]}
    finer = [subgroup(i) if subgroup else None for i in ids]
    images["groups"] = [c if f is None else f"{c}, {f}" for c, f in zip(images["classes"], finer)]
    images["thumbs"] = [jpeg(thumbnails[i][0]) if i in thumbnails else None for i in ids]
    cyan = [0, 0, 0, 0, 255, 255]  # two colours: a full palette would be 768 bytes a contour
    images["contours"] = [
        png(contour(thumbnails[i][1]), cyan, transparent=0)
        if i in thumbnails and thumbnails[i][1] is not None and thumbnails[i][1].any()
        else None
        for i in ids
    ]
    palette = _map_palette()
    runs = []
    for r in ok:
        position = np.asarray([where[i] for i in r["scores"]["ids"]], dtype=np.int64)
        scores = np.asarray(r["scores"]["scores"], dtype=np.float64)
        aligned, rank_of = [None] * len(ids), [None] * len(ids)
        for p, s, k in zip(position, scores, ranks(scores)):
            aligned[p], rank_of[p] = float(s), int(k)
        maps = [None] * len(ids)
        arrays = read_artifacts(r["_path"]) if r.get("_path") else None
        if arrays is not None and "explorer_maps" in arrays and len(arrays["explorer_maps"]) == len(position):
            for p, small in zip(position, arrays["explorer_maps"]):
                maps[p] = png(small // (256 // MAP_LEVELS), palette)
        seed = "" if r["method"] in catalogue.seed_independent else f", seed {r['seed']}"
        runs.append(
            {
                "name": catalogue.method_title(r["label"]) + seed,
                "auroc": r["metrics"]["auroc"],
                "threshold": r["metrics"]["thresholds"][THRESHOLD]["threshold"],
                "scores": aligned,
                "ranks": rank_of,
                "maps": maps,
            }
        )
    return {"images": images, "runs": runs}
