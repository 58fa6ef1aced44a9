"""What the groups of chest X-ray images look like, split by split, class and file-name group.

    python benchmarks/image_groups.py --data-root ../shared/data/chest_xray --out benchmarks/results-shift \
        --cells results/cells/official-cpu-preset results/cells/official-paper-preset

Kermany's file names carry a patient number and a group: normal images come in two series
(``IM-0115-0001.jpeg``, ``NORMAL2-IM-0383-0001.jpeg``), pneumonia images name their cause
(``person1_bacteria_1.jpeg``, ``person1_virus_6.jpeg``); ``ChestXray.subgroup`` reads the group.
For each split × class × group, on the images as the methods see them (official protocol,
``--size``, bicubic, uint8): the count, the range of patient numbers, the mean brightness and
intensity spread (per image, then mean ± std over the group's images), and the framing: the share
of dark pixels (< 40 of 255) in the outer tenth of columns on each side, which is high where the
body sits in a wide dark frame and low where the chest fills the image.

A second table splits each group of test normals into quarters by patient number (equal numbers
of images, in order: Kermany's patient numbers grow with time) and, for every method finished in
the ``--cells`` folders (official split), gives the AUROC of all test pneumonia images against
the normals of each quarter alone: where in the test normals a method's errors lie.

An analysis of the data, not a selection: nothing is chosen from these numbers.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from benchbox.plugins import Plugins

DARK = 40  # of 255: background, not body


def patient_number(dataset, image_id: str) -> int | None:
    """The number in the patient id the dataset reads from a file name (``IM-0115`` -> 115)."""
    patient = dataset.patient(Path(image_id))
    return int(re.search(r"\d+", patient).group()) if patient else None


def describe(images: np.ndarray) -> dict[str, np.ndarray]:
    """Per image (N×H×W uint8): mean brightness, intensity spread, dark share of the side columns."""
    pixels = images.astype(np.float64)
    edge = max(1, images.shape[-1] // 10)
    sides = np.concatenate([pixels[..., :edge], pixels[..., -edge:]], axis=-1)
    return {"brightness": pixels.mean((1, 2)), "spread": pixels.std((1, 2)), "dark_sides": (sides < DARK).mean((1, 2))}


def group_rows(split: str, images, stats: dict[str, np.ndarray], dataset) -> list[dict]:
    """One row per class × group of ``images`` (one split), with ``stats`` (:func:`describe`)."""
    names = [
        f"{split}/{c}" + (f", {g}" if (g := dataset.subgroup(i)) else "") for c, i in zip(images.classes, images.ids)
    ]
    rows = []
    for name in sorted(set(names)):
        chosen = np.asarray([n == name for n in names])
        patients = [p for i, keep in zip(images.ids, chosen) if keep and (p := patient_number(dataset, i)) is not None]
        rows.append(
            {
                "group": name,
                "n": int(chosen.sum()),
                "patients": [min(patients), max(patients)] if patients else None,
                **{k: [float(v[chosen].mean()), float(v[chosen].std())] for k, v in stats.items()},
            }
        )
    return rows


def quarters(test, stats: dict[str, np.ndarray], dataset) -> list[dict]:
    """The test normals of each group in four runs of patient numbers (equal image counts)."""
    normal = [k for k, label in enumerate(test.labels) if label == 0]
    rows = []
    for group in sorted({dataset.subgroup(test.ids[k]) or "" for k in normal}):
        members = sorted(
            (k for k in normal if (dataset.subgroup(test.ids[k]) or "") == group),
            key=lambda k: (patient_number(dataset, test.ids[k]) or 0, test.ids[k]),
        )
        for quarter, part in enumerate(np.array_split(np.asarray(members), 4), start=1):
            if len(part) == 0:  # fewer than four images in the group
                continue
            numbers = [patient_number(dataset, test.ids[k]) or 0 for k in part]
            rows.append(
                {
                    "group": f"test/NORMAL, {group}".rstrip(", "),
                    "quarter": quarter,
                    "patients": [min(numbers), max(numbers)],
                    "ids": [test.ids[k] for k in part],
                    **{k: float(v[part].mean()) for k, v in stats.items()},
                }
            )
    return rows


def auroc_against(records: list[dict], normal_ids: list[str]) -> dict[str, list[float]]:
    """Per method label: AUROC of all abnormal test images against these normal images, per seed."""
    chosen_normals = set(normal_ids)
    found: dict[str, list[float]] = {}
    for record in records:
        s = record["scores"]
        keep = [k for k, (i, label) in enumerate(zip(s["ids"], s["labels"])) if label == 1 or i in chosen_normals]
        labels = np.asarray(s["labels"])[keep]
        found.setdefault(record["label"], []).append(float(roc_auc_score(labels, np.asarray(s["scores"])[keep])))
    return found


def official_records(folders: list[str]) -> list[dict]:
    """Finished chest X-ray cells of the official protocol, labelled with their preset's size."""
    from benchbox.store import ResultStore

    records = []
    for folder in folders:
        found, problems = ResultStore(folder).records()
        for problem in problems:
            print(f"skipped: {problem}")
        for r in found:
            if (
                r["status"] == "ok" and r["dataset"] == "chest_xray" and r["dataset_params"].get("protocol") != "dev"
            ):  # "auto": official where test/ exists
                trained = f", {r['epochs']} epochs" if r["epochs"] else ""
                records.append({**r, "label": f"{r['label']} ({r['image_size']}²{trained})"})
    return records


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="../shared/data/chest_xray")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--out", default="benchmarks/results-shift")
    parser.add_argument("--cells", nargs="*", default=[], help="result folders whose official-split cells to score")
    parser.add_argument(
        "--methods",
        nargs="*",
        default=["ae", "vae", "fanogan", "ganomaly", "ssim_ae", "salad", "cutpaste[augment=anatpaste]", "intensity"],
        help="method labels (as in the report) whose cells to include",
    )
    args = parser.parse_args(argv)

    chest_xray = Plugins(load_entry_points=False).datasets.get("chest_xray")
    dataset = chest_xray(data_root=args.data_root, protocol="official")
    images = {split: dataset.load(split, args.size) for split in ("train", "test")}
    stats = {split: describe(images[split].images[:, 0].numpy()) for split in images}
    rows = [row for split in images for row in group_rows(split, images[split], stats[split], dataset)]
    # framing alone as a score: the less dark the sides, the more anomalous
    framing_auroc = float(roc_auc_score(images["test"].labels, -stats["test"]["dark_sides"]))
    lines = [
        f"# Chest X-ray image groups ({datetime.now(timezone.utc):%Y-%m-%d})",
        "",
        f"`python benchmarks/image_groups.py{' --cells ' + ' '.join(args.cells) if args.cells else ''}`: "
        f"official protocol, {args.size}×{args.size}, bicubic, uint8 (0–255); "
        "per image, then mean ± std over the group. Dark sides: share of pixels below "
        f"{DARK} in the outer tenth of columns on each side (low: the chest fills the image).",
        "",
        "| group | images | patient numbers | brightness | intensity spread | dark sides |",
        "|---|---:|---|---|---|---|",
    ]
    for r in rows:
        patients = "{}–{}".format(*r["patients"]) if r["patients"] else "–"
        lines.append(
            f"| {r['group']} | {r['n']} | {patients} | {r['brightness'][0]:.1f} ± {r['brightness'][1]:.1f} "
            f"| {r['spread'][0]:.1f} ± {r['spread'][1]:.1f} "
            f"| {r['dark_sides'][0]:.2f} ± {r['dark_sides'][1]:.2f} |"
        )
    lines += [
        "",
        f"Framing alone as a score on the test split (the less dark the sides, the more anomalous): "
        f"AUROC {framing_auroc:.4f}.",
    ]

    split_normals = quarters(images["test"], stats["test"], dataset)
    names = [f"{q['group'].removeprefix('test/NORMAL, ')} q{q['quarter']}" for q in split_normals]
    lines += [
        "",
        "## Test normals by quarter of patient numbers",
        "",
        "| normals | images | patient numbers | brightness | dark sides |",
        "|---|---:|---|---|---|",
    ]
    lines += [
        f"| {name} | {len(q['ids'])} | {q['patients'][0]}–{q['patients'][1]} | {q['brightness']:.1f} "
        f"| {q['dark_sides']:.2f} |"
        for name, q in zip(names, split_normals)
    ]
    records = sorted(
        (r for r in official_records(args.cells) if r["label"].split(" (")[0] in args.methods),
        key=lambda r: (r["image_size"], args.methods.index(r["label"].split(" (")[0])),
    )
    per_quarter = [auroc_against(records, q["ids"]) for q in split_normals]
    for q, found in zip(split_normals, per_quarter):
        q["auroc"] = found
    if records:
        lines += [
            "",
            "AUROC of all test pneumonia images against the normals of one quarter alone, mean ± std over "
            f"seeds (ddof=1), from the finished cells in {', '.join(args.cells)}. An analysis of test scores "
            "already reported; nothing is chosen from it.",
            "",
            "| method | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for method in dict.fromkeys(r["label"] for r in records):
            values = [found[method] for found in per_quarter]
            lines.append(
                f"| {method} | "
                + " | ".join(
                    f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" if len(v) > 1 else f"{v[0]:.3f}" for v in values
                )
                + " |"
            )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "groups.md").write_text("\n".join(lines) + "\n")
    (out / "groups.json").write_text(
        json.dumps(
            {"args": vars(args), "rows": rows, "framing_auroc": framing_auroc, "test_normal_quarters": split_normals},
            indent=1,
        )
        + "\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
