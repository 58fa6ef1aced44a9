"""``benchbox report``: tables and figures from a results directory alone.

Per dataset: the main table and its standard deviations (markdown, CSV, LaTeX; the layout of
Tables I/II of the SALAD paper), the score per class, AUROC per abnormal and per normal group
(where there are several), the ablation tables of the plugins' grids when their rows are
present, ROC curves, reconstructions with residual maps, optionally a t-SNE of two runs' latent
features, a paired-bootstrap test of each method's AUROC against the best one and against
chance, and, where the test images have masks, the localisation table, its bootstrap and the
anomaly maps; every section ends with the leak audit. ``index.md`` ties it together. Running it twice writes the same files.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from . import grids as grids_module
from .experiment import SELECTION_RULES, method_of
from .params import label as make_label
from .params import parse_entry
from .significance import against_chance, paired_bootstrap, paired_bootstrap_pixel
from .store import ResultStore, atomic_write_text, slug
from .tables import by_rule, experiment_labels, frame, mixed_warnings, render, row_order

FPR_GRID = np.linspace(0.0, 1.0, 201)


def _matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 8, "axes.titlesize": 8, "legend.fontsize": 7, "figure.dpi": 150})
    return plt


def _save(fig, base: Path) -> list[Path]:
    """PNG and PDF, without dates or versions in the files (regenerable byte for byte)."""
    # Appended, not with_suffix: a label such as salad[center_lr=0.05] has a dot of its own.
    paths = [base.with_name(base.name + ".png"), base.with_name(base.name + ".pdf")]
    fig.savefig(paths[0], metadata={"Software": None}, bbox_inches="tight")
    fig.savefig(paths[1], metadata={"Creator": None, "Producer": None, "CreationDate": None}, bbox_inches="tight")
    _matplotlib().close(fig)
    return paths


def _order(labels) -> list[str]:
    rank = row_order()
    return sorted(labels, key=lambda label: (rank.get(method_of(label), len(rank)), label))


def _with_std(mean: float, std: float) -> str:
    """Mean and std to the std's second significant digit (28 ± 22, 0.217 ± 0.023)."""
    if not (np.isfinite(std) and std > 0):
        return f"{mean:.4g} ± 0"
    digits = max(0, 1 - int(np.floor(np.log10(std))))
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def per_class_table(records: list[dict]) -> str:
    """Table VI: mean ± std of the anomaly score per class (images pooled over seeds)."""
    rows, classes = {}, {}
    for r in records:
        s = r["scores"]
        for cls, label, score in zip(s["classes"], s["labels"], s["scores"]):
            rows.setdefault(r["label"], defaultdict(list))[cls].append(score)
            classes[cls] = label
    ordered = sorted(classes, key=lambda c: (classes[c], c))  # the normal class first
    table = pd.DataFrame(index=pd.Index(_order(rows), name="Method"))
    for cls in ordered:
        table[cls] = [
            _with_std(np.mean(rows[m][cls]), np.std(rows[m][cls], ddof=1)) if len(rows[m][cls]) > 1 else "–"
            for m in table.index
        ]
    return table.to_markdown(disable_numparse=True)


def auroc_per_group_table(records: list[dict], subgroup=None, side: str = "abnormal") -> str | None:
    """AUROC of one group of test images against the whole other class, mean ± std over seeds.

    ``side="abnormal"``: the normal test images against each abnormal group alone;
    ``side="normal"``: each normal group against all abnormal test images. A group is a class,
    split further where ``subgroup(image_id)`` gives a finer label (``Dataset.subgroup``). None
    where that side has a single group (it would repeat Table I)."""
    from sklearn.metrics import roc_auc_score

    grouped = 1 if side == "abnormal" else 0
    rows: dict[str, dict[str, list[float]]] = {}
    sizes: dict[str, int] = {}
    for r in records:
        s = r["scores"]
        labels, scores = np.asarray(s["labels"]), np.asarray(s["scores"])
        finer = [subgroup(i) if subgroup else None for i in s["ids"]]
        groups = np.asarray([c if f is None else f"{c}, {f}" for c, f in zip(s["classes"], finer)])
        for group in sorted(set(groups[labels == grouped])):
            chosen = (labels != grouped) | (groups == group)
            rows.setdefault(r["label"], defaultdict(list))[group].append(roc_auc_score(labels[chosen], scores[chosen]))
            sizes[group] = int((groups == group).sum())
    if len(sizes) < 2:
        return None
    table = pd.DataFrame(index=pd.Index(_order(rows), name="Method"))
    for group in sorted(sizes):
        values = [rows[m][group] for m in table.index]
        table[f"{group} (n={sizes[group]})"] = [
            f"{np.mean(v):.4f} ± {np.std(v, ddof=1):.4f}" if len(v) > 1 else (f"{v[0]:.4f}" if v else "–")
            for v in values
        ]
    return table.to_markdown(disable_numparse=True)


def _subgroup_of(plugins, dataset: str):
    """The dataset plugin's ``subgroup`` (None where the plugin is not installed here, or the
    plugins do not load: the report then groups by class alone)."""
    from .errors import BenchboxError

    try:
        datasets = plugins.datasets
    except BenchboxError:
        return None
    return datasets.get(dataset).subgroup if dataset in datasets else None


def roc_figure(records: list[dict], dataset: str, base: Path) -> list[Path]:
    from sklearn.metrics import roc_curve

    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(3.4, 3.0))
    by_method = defaultdict(list)
    for r in records:
        by_method[r["label"]].append(r)
    for label in _order(by_method):
        curves, aucs = [], []
        for r in sorted(by_method[label], key=lambda r: r["seed"]):
            fpr, tpr, _ = roc_curve(r["scores"]["labels"], r["scores"]["scores"])
            curves.append(np.interp(FPR_GRID, fpr, tpr))
            aucs.append(r["metrics"]["auroc"])
        mean = np.mean(curves, axis=0)
        text = f"{label} ({np.mean(aucs):.3f}" + (f" ± {np.std(aucs, ddof=1):.3f})" if len(aucs) > 1 else ")")
        (line,) = ax.plot(FPR_GRID, mean, lw=1.2, label=text)
        if len(curves) > 1:
            std = np.std(curves, axis=0, ddof=1)
            ax.fill_between(
                FPR_GRID, np.clip(mean - std, 0, 1), np.clip(mean + std, 0, 1), color=line.get_color(), alpha=0.15, lw=0
            )
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=0.8)
    ax.set(
        xlabel="False positive rate",
        ylabel="True positive rate",
        xlim=(0, 1),
        ylim=(0, 1.01),
        title=f"ROC, {dataset} (mean over seeds ± std; AUC in legend)",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), frameon=False)  # below: never over a curve
    return _save(fig, base)


def reconstruction_figure(label: str, artifacts: dict, classes: list[str], base: Path) -> list[Path]:
    plt = _matplotlib()
    originals = artifacts["originals"][:, 0].astype(np.float64)
    recons = artifacts["reconstructions"][:, 0].astype(np.float64)
    n = len(originals)
    fig, axes = plt.subplots(3, n, figsize=(0.75 * n + 0.6, 2.4), squeeze=False)
    for j in range(n):
        for i, (image, cmap) in enumerate(
            ((originals[j], "gray"), (recons[j], "gray"), (np.abs(originals[j] - recons[j]), "magma"))
        ):
            shown = axes[i, j].imshow(image, cmap=cmap, vmin=0, vmax=255)  # one scale for all maps
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        axes[0, j].set_title(classes[j], fontsize=6)
    for i, name in enumerate(("input", "reconstruction", "|residual|")):
        axes[i, 0].set_ylabel(name, fontsize=6)
    bar = fig.colorbar(shown, ax=list(axes[2]), fraction=0.05, pad=0.02)
    bar.set_label("|input − recon.| (0–255)", fontsize=5)
    bar.ax.tick_params(labelsize=5)
    fig.suptitle(label, fontsize=8, y=1.04)  # above the class names of the first row
    return _save(fig, base)


def map_figure(label: str, artifacts: dict, classes: list[str], base: Path) -> list[Path]:
    """Each chosen test image with its mask's contour, above the method's map with the same
    contour; one colour scale for all of a method's maps (so a normal image's map looks as
    anomalous as the method finds it), none across methods."""
    plt = _matplotlib()
    images, maps, masks = artifacts["map_images"], artifacts["maps"].astype(np.float64), artifacts["masks"]
    n = len(images)
    low, high = float(maps.min()), float(maps.max())
    fig, axes = plt.subplots(2, n, figsize=(0.75 * n + 0.6, 1.7), squeeze=False)
    for j in range(n):
        for i, (picture, cmap, scale) in enumerate(((images[j], "gray", (0, 255)), (maps[j], "magma", (low, high)))):
            axes[i, j].imshow(picture, cmap=cmap, vmin=scale[0], vmax=scale[1])
            if masks[j].any():
                axes[i, j].contour(masks[j], levels=[0.5], colors="cyan", linewidths=0.6)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        axes[0, j].set_title(classes[j], fontsize=6)
    axes[0, 0].set_ylabel("input, mask", fontsize=6)
    axes[1, 0].set_ylabel("anomaly map", fontsize=6)
    fig.suptitle(label, fontsize=8, y=1.06)
    return _save(fig, base)


def pixel_significance_table(records: list[dict], store: ResultStore) -> tuple[str, str] | None:
    """Pixel AUROC of each method against the best one's, by the two-level bootstrap over test
    images and seeds (:func:`benchbox.significance.paired_bootstrap_pixel`), from the per-image
    histograms saved with each run."""
    hists = defaultdict(dict)
    for r in records:
        artifacts = store.read_artifacts(r["_path"]) if r.get("pixel_metrics") else None
        if artifacts and "pixel_hist_positive" in artifacts:
            hists[r["label"]][r["seed"]] = (r, (artifacts["pixel_hist_positive"], artifacts["pixel_hist_negative"]))
    if len(hists) < 2:
        return None
    means = {
        label: np.mean([r["pixel_metrics"]["pixel_auroc"] for r, _ in runs.values()]) for label, runs in hists.items()
    }
    best = max(means, key=means.get)
    rows = []
    for label in _order(hists):
        if label == best:
            rows.append(
                {
                    "Method": label,
                    "ΔP-AUROC (best − method)": "(best)",
                    "95% CI": "–",
                    "p": "–",
                    "seeds": len(hists[label]),
                }
            )
            continue
        seeds = [
            s
            for s in sorted(set(hists[best]) & set(hists[label]))
            if hists[best][s][0]["scores"]["ids"] == hists[label][s][0]["scores"]["ids"]
        ]
        if not seeds:
            rows.append(
                {
                    "Method": label,
                    "ΔP-AUROC (best − method)": "–",
                    "95% CI": "no shared seed on the same test set",
                    "p": "–",
                    "seeds": 0,
                }
            )
            continue
        result = paired_bootstrap_pixel([hists[best][s][1] for s in seeds], [hists[label][s][1] for s in seeds])
        rows.append(
            {
                "Method": label,
                "ΔP-AUROC (best − method)": f"{result['delta']:.4f}",
                "95% CI": f"[{result['ci_low']:.4f}, {result['ci_high']:.4f}]",
                "p": f"{result['p_value']:.3g}" if result["p_value"] > 0 else f"< {1 / result['n_boot']:.1g}",
                "seeds": result["n_seeds"],
            }
        )
    return best, pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)


def _localisation_section(store, ds, dataset, name, out, write, written) -> list[str]:
    with_maps = [r for r in ds if r.get("pixel_metrics")]
    if not with_maps:
        return []
    table = render(ds, level="pixel")
    write(f"{name}-localisation.md", table)
    write(f"{name}-localisation.csv", render(ds, "csv", level="pixel"))
    lines = ["### Localisation (pixel level, where the test images have masks)", "", table]
    without = sorted({r["label"] for r in ds} - {r["label"] for r in with_maps})
    if without:
        lines += [f"No anomaly maps: {', '.join(without)} (image level only).", ""]
    first = with_maps[0]["pixel_metrics"]
    share = first["positive_share"]
    lines += [
        f"{first['n_images']} test images with known masks ({first['n_anomalous_images']} with anomalous pixels, "
        f"{first['n_regions']} connected regions, {100 * first['positive_share']:.1f}% of their pixels anomalous), "
        f"at the run's image size; flagging every pixel would score Dice {2 * share / (1 + share):.4f}, "
        f"a chance map pixel AUROC 0.5 and AUPRO 0.15. CSV: [{name}-localisation.csv]({name}-localisation.csv)",
        "",
    ]
    significance = pixel_significance_table(with_maps, store)
    if significance is not None:
        best, sig = significance
        write(f"{name}-localisation-significance.md", sig + "\n")
        lines += [
            f"Pixel AUROC against the best ({best}), by the same two-level bootstrap over test images and "
            "seeds (each image's pixels stay together; histograms of 256 bins per image):",
            "",
            sig,
            "",
        ]
    for label in _order({r["label"] for r in with_maps}):
        run = min((r for r in with_maps if r["label"] == label), key=lambda r: r["seed"])
        artifacts = store.read_artifacts(run["_path"])
        if not artifacts or "maps" not in artifacts:
            continue
        classes = [run["scores"]["classes"][i] for i in artifacts["map_index"]]
        paths = map_figure(f"{label}, seed {run['seed']}", artifacts, classes, out / f"{name}-maps-{slug(label)}")
        written += paths
        lines += [f"![{_alt(label)} anomaly maps]({paths[0].name})", ""]
    return lines


def _leak_section(ds) -> list[str]:
    audits = [r["leak_audit"] for r in ds if r.get("leak_audit")]
    if not audits:
        return ["### Leak audit", "", "Not recorded (runs made before the audit existed).", ""]
    found = audits[0]
    dropped = sorted({a.get("dropped", 0) for a in audits})
    lines = [
        "### Leak audit (test images that copy a training image)",
        "",
        f"{found['identical']} of {found['n_test']} test images are identical to a training image (by "
        f"{found['identical_basis']}), {found['near_identical']} more near-identical ({found['near_rule']}); "
        "per class: "
        + ", ".join(f"{c} {k}" for c, k in found["by_class"].items())
        + ". "
        + ("Dropped from the test set (--leaks drop)." if dropped != [0] else "Kept in the test set (--leaks keep)."),
        "",
    ]
    examples = found["examples_identical"] + found["examples_near"]
    if examples:
        lines += ["Examples (test ~ training): " + "; ".join(f"`{a}` ~ `{b}`" for a, b in examples[:6]), ""]
    return lines


def tsne_figure(first: tuple[str, np.ndarray], second: tuple[str, np.ndarray], base: Path) -> list[Path]:
    from sklearn.manifold import TSNE

    plt = _matplotlib()
    features = np.concatenate([first[1], second[1]])
    features = (features - features.mean(0)) / (features.std(0) + 1e-8)
    perplexity = max(2.0, min(30.0, (len(features) - 1) / 3))
    points = TSNE(n_components=2, perplexity=perplexity, random_state=0, init="pca").fit_transform(features)
    fig, ax = plt.subplots(figsize=(3.4, 3.0))
    n = len(first[1])
    ax.scatter(*points[:n].T, s=4, c="tab:red", label=first[0])
    ax.scatter(*points[n:].T, s=4, c="tab:blue", label=second[0])
    ax.set(xticks=[], yticks=[], title="t-SNE of latent features of normal test images")
    ax.legend(frameon=False, markerscale=2)
    return _save(fig, base)


def _interval(result: dict) -> str:
    return f"{result['delta']:.4f} [{result['ci_low']:.4f}, {result['ci_high']:.4f}]"


def significance_table(records: list[dict]) -> tuple[str, str]:
    """Each method against chance, and against the one with the best mean AUROC on the seeds
    both have."""
    by_label = defaultdict(dict)
    for r in records:
        by_label[r["label"]][r["seed"]] = r
    means = {label: np.mean([r["metrics"]["auroc"] for r in runs.values()]) for label, runs in by_label.items()}
    best = max(means, key=means.get)
    rows = []
    for label in _order(by_label):
        runs = [by_label[label][s] for s in sorted(by_label[label])]
        chance = _interval(against_chance([r["scores"]["labels"] for r in runs], [r["scores"]["scores"] for r in runs]))
        if label == best:
            rows.append(
                {
                    "Method": label,
                    "AUC − 0.5 [95% CI]": chance,
                    "ΔAUC (best − method)": "(best)",
                    "95% CI": "–",
                    "p": "–",
                    "seeds": len(runs),
                }
            )
            continue
        seeds = sorted(set(by_label[best]) & set(by_label[label]))
        seeds = [
            s
            for s in seeds
            if by_label[best][s]["test_set"]["hash"] == by_label[label][s]["test_set"]["hash"]
            and by_label[best][s]["scores"]["ids"] == by_label[label][s]["scores"]["ids"]
        ]
        if not seeds:
            rows.append(
                {
                    "Method": label,
                    "AUC − 0.5 [95% CI]": chance,
                    "ΔAUC (best − method)": "–",
                    "95% CI": "no shared seed on the same test set",
                    "p": "–",
                    "seeds": 0,
                }
            )
            continue
        result = paired_bootstrap(
            [by_label[best][s]["scores"]["labels"] for s in seeds],
            [by_label[best][s]["scores"]["scores"] for s in seeds],
            [by_label[label][s]["scores"]["scores"] for s in seeds],
        )
        rows.append(
            {
                "Method": label,
                "AUC − 0.5 [95% CI]": chance,
                "ΔAUC (best − method)": f"{result['delta']:.4f}",
                "95% CI": f"[{result['ci_low']:.4f}, {result['ci_high']:.4f}]",
                "p": f"{result['p_value']:.3g}" if result["p_value"] > 0 else f"< {1 / result['n_boot']:.1g}",
                "seeds": result["n_seeds"],
            }
        )
    table = pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)
    return best, table


def ablation_tables(records: list[dict], plugins=None) -> dict[str, str]:
    """The ablation tables (the plugins' grids marked ``ablation = true``, e.g. SALAD's Tables
    III–V): the rows of each present in the results (at least two), in the grid's order and
    named by its ``rows`` (the paper's row names) where it gives them."""
    out = {}
    config = grids_module.load(plugins=plugins)
    for name, spec in config["grids"].items():
        if not spec.get("ablation"):
            continue
        entries = grids_module.grid(config, name)
        names = grids_module.row_names(config, name)
        rows = {make_label(*parse_entry(e)): f"{n} ({e})" if n != e else e for e, n in zip(entries, names)}
        present = [r for r in records if r["label"] in rows]
        if len({r["label"] for r in present}) >= 2:
            out[name] = render(present, rows=rows)
    return out


def _mean_std(values) -> str:
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "–"
    return f"{np.mean(values):.4f}" + (f" ± {np.std(values, ddof=1):.4f}" if len(values) > 1 else "")


def selection_table(records: list[dict], rule: str) -> str:
    """Per method: the epochs the rule chose, the selection split's AUROC there and at the last
    epoch, and the test AUROC of the chosen checkpoint (the number in Table I)."""
    where = "test" if rule == "test" else "validation"
    rows, sources = [], set()
    by_label = defaultdict(list)
    for r in records:
        if r.get("selection"):
            by_label[r["label"]].append(r)
    for label in _order(by_label):
        runs = sorted(by_label[label], key=lambda r: r["seed"])
        chosen = [r["selection"]["chosen_auroc"] for r in runs]
        last = [r["selection"]["curve"][-1]["auroc"] if r["selection"]["curve"] else None for r in runs]
        first = runs[0]["selection"]
        if first.get("split"):
            sources.add(first["split"])
        rows.append(
            {
                "Method": label,
                "seeds": len(runs),
                f"{where} split (normal / anomalous)": f"{first['n_normal']} / {first['n_anomalous']}",
                **({"trained on (images)": str(first["train_n"])} if "train_n" in first else {}),
                "every": first["every"],
                "chosen epoch, per seed": ", ".join(str(r["selection"]["chosen_epoch"]) for r in runs)
                + f" of {runs[0]['selection']['curve'][-1]['epoch'] if first['curve'] else '–'}",
                f"{where} AUROC, chosen": _mean_std(chosen),
                f"{where} AUROC, last epoch": _mean_std(last),
                "chosen − last": _mean_std([c - x for c, x in zip(chosen, last) if c is not None and x is not None]),
                "test AUROC of the chosen checkpoint": _mean_std([r["metrics"]["auroc"] for r in runs]),
            }
        )
    source = f"Selection split: {'; '.join(sorted(sources))}.\n\n" if sources else ""
    return source + pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)


def selection_figure(records: list[dict], rule: str, dataset: str, base: Path) -> list[Path]:
    """The selection split's AUROC at each evaluation, mean over seeds per method (± std)."""
    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(3.6, 3.0))
    by_label = defaultdict(list)
    for r in records:
        if r.get("selection") and r["selection"]["curve"]:
            by_label[r["label"]].append(r)
    for label in _order(by_label):
        curves = [[(p["epoch"], p["auroc"]) for p in r["selection"]["curve"]] for r in by_label[label]]
        epochs = sorted({e for c in curves for e, _ in c})
        values = np.array([[dict(c).get(e, np.nan) for e in epochs] for c in curves], dtype=float)
        mean = np.nanmean(values, axis=0)
        (line,) = ax.plot(epochs, mean, lw=1.1, marker=".", ms=3, label=label)
        if len(curves) > 1:
            std = np.nanstd(values, axis=0, ddof=1)
            ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.12, lw=0)
    where = "test" if rule == "test" else "validation"
    ax.set(xlabel="epoch", ylabel=f"{where} AUROC", title=f"{dataset}: {where} AUROC per evaluation (mean ± std)")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), frameon=False)
    return _save(fig, base)


def _selection_section(ds, rule, dataset, base, write, written) -> list[str]:
    table = selection_table(ds, rule)
    write(f"{base.name}.md", table + "\n")
    paths = selection_figure(ds, rule, dataset, base)
    written += paths
    warning = (
        "**Every number in this section was chosen on the test labels**: an oracle, optimistic by "
        "construction; it reproduces numbers published that way and shows how much the rule adds. "
        "It is never averaged, ranked or tested against the last-epoch or validation-selected rows."
        if rule == "test"
        else "The checkpoint was chosen on a labelled validation split that holds anomalies (no test "
        "image, no test patient): the result is no longer purely one-class. Where that split is carved "
        "out of the training data, the method trained on the remaining normals."
    )
    return [
        "### How the checkpoint was chosen",
        "",
        warning,
        "",
        table,
        "",
        f"![{rule} AUROC per evaluation]({paths[0].name})",
        "",
    ]


def _alt(text: str) -> str:
    """Image alt text without brackets (they would end the markdown link)."""
    return text.replace("[", "(").replace("]", ")")


def _describe(records: list[dict]) -> str:
    def values(key, per_row=True):  # methods without the setting (the pixel floors have no epochs) are left out
        found = sorted({r.get(key) for r in records if r.get(key) is not None})
        if len(found) < 2 or not per_row:
            return ", ".join(map(str, found)) or "–"
        # Several: say which rows have which, so that no number loses its protocol.
        return "; ".join(f"{value} ({', '.join(_order({r['label'] for r in records if r.get(key) == value}))})"
                         for value in found)  # fmt: skip

    hashes = ", ".join(sorted({r["test_set"]["hash"][:12] for r in records}))
    versions = sorted({f"benchbox {r['versions']['benchbox']}, torch {r['versions']['torch']}" for r in records})
    devices = sorted({r.get("device", "?") for r in records})
    protocols = sorted({(r.get("split") or {}).get("protocol", "as generated") for r in records})
    precisions = sorted({r["method_params"]["precision"] for r in records if "precision" in r["method_params"]})
    weights = sorted(
        {
            f"{r['label']} {r['method_provenance']['weights_sha256'][:16]}"
            + (f" ({r['method_provenance']['weights_source']})" if r["method_provenance"].get("weights_source") else "")
            for r in records
            if (r.get("method_provenance") or {}).get("weights_sha256")
        }
    )
    return (
        f"Image size {values('image_size')}; epochs {values('epochs')}; batch size {values('batch_size')}; "
        f"seeds {values('seed', per_row=False)}; split protocol {', '.join(protocols)}; test set(s) "
        f"{records[0]['test_set']['n']} images, file-list hash {hashes}. F1/ACC/SEN/SPE/BACC use the "
        f"threshold with the best F1 on the test scores (the SALAD paper's protocol, which uses test labels); "
        f"SEN@95SPE needs no threshold. "
        f"Versions: {'; '.join(versions)}. Devices: {'; '.join(devices)}. "
        f"Training precision: {', '.join(p + (' autocast' if p == 'bf16' else '') for p in precisions) or '–'}."
        + (f" Weights files read (SHA-256): {'; '.join(weights)}." if weights else "")
    )


def build(results_dir, out, tsne: tuple[str, str] | None = None, plugins=None) -> list[Path]:
    """``plugins``: where datasets' ``subgroup`` hooks come from (default: the process's)."""
    from .plugins import get_plugins

    plugins = plugins or get_plugins()
    store = ResultStore(results_dir)
    records, problems = store.records()
    mixed = mixed_warnings(records)
    for record, label in zip(records, experiment_labels(records)):
        record["label"] = label  # several experiments under one label become rows of their own
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(name: str, text: str) -> str:
        path = out / name
        atomic_write_text(path, text)
        written.append(path)
        return name

    index = ["# benchbox report", ""]
    if problems:
        index += ["Result files skipped (not valid records):", "", *[f"- {p}" for p in problems], ""]
    if mixed:
        index += [
            "Several experiments under one label, shown as rows of their own:",
            "",
            *[f"- {m}" for m in mixed],
            "",
        ]
    for dataset in sorted({r["dataset"] for r in records}):
        for rule, all_ds in by_rule([r for r in records if r["dataset"] == dataset]).items():
            # One section per checkpoint rule: never averaged, ranked or tested across rules.
            name = slug(dataset) + ("" if rule == "last" else f"-select-{rule}")
            ds = [r for r in all_ds if r["status"] == "ok"]
            index += [f"## {dataset}" + ("" if rule == "last" else f": checkpoint {SELECTION_RULES[rule]}"), ""]
            if not ds:
                index += ["No finished runs.", ""]
                continue
            index += [_describe(ds), ""]
            if rule != "last":
                index += _selection_section(ds, rule, dataset, out / f"{name}-selection", write, written)
            table1 = render(all_ds)
            write(f"{name}-table1.md", table1)
            write(f"{name}-table1.csv", render(all_ds, "csv"))
            write(f"{name}-table1.tex", render(all_ds, "latex"))
            write(f"{name}-table2.md", render(all_ds, "std"))
            index += [
                "### Table I (mean ± std over seeds)",
                "",
                table1,
                f"CSV: [{name}-table1.csv]({name}-table1.csv), LaTeX: [{name}-table1.tex]({name}-table1.tex), "
                f"Table II (std only): [{name}-table2.md]({name}-table2.md)",
                "",
            ]
            if frame(all_ds).groupby("method").size().max() < 2:
                index += ["Only one seed per method: no standard deviations.", ""]
            roc = roc_figure(ds, dataset, out / f"{name}-roc")
            written += roc
            index += ["### ROC curves (Fig. 4)", "", f"![ROC curves on {dataset}]({roc[0].name})", ""]
            table6 = per_class_table(ds)
            write(f"{name}-table6.md", table6 + "\n")
            index += [
                "### Anomaly score per class (Table VI; mean ± std over test images, seeds pooled)",
                "",
                table6,
                "",
            ]
            subgroup = _subgroup_of(plugins, dataset)
            for side, suffix, heading in (
                (
                    "abnormal",
                    "auroc-per-group",
                    "AUROC per abnormal group (the normal test images against each abnormal class "
                    "alone, or each finer group the dataset names; mean ± std over seeds)",
                ),
                (
                    "normal",
                    "auroc-per-normal-group",
                    "AUROC per normal group (each group of normal test images the dataset names "
                    "against all abnormal test images; mean ± std over seeds)",
                ),
            ):
                per_group = auroc_per_group_table(ds, subgroup, side=side)
                if per_group is not None:
                    write(f"{name}-{suffix}.md", per_group + "\n")
                    index += [f"### {heading}", "", per_group, ""]
            best, sig = significance_table(ds)
            write(f"{name}-significance.md", sig + "\n")
            index += [
                f"### Is the difference real? (paired bootstrap of AUROC against chance and against the best, {best})",
                "",
                "Two-level paired bootstrap (2,000 replicates; Davison & Hinkley 1997, §3.8): each "
                "replicate resamples the test images once, the same resample for both methods and every "
                "seed, and resamples the seeds both have; ΔAUROC is the mean over the resampled seeds. "
                "The interval covers test-image and training-run (seed) variation; two-sided p-value. "
                "AUC − 0.5: the same bootstrap against a constant score (chance), over all of a method's "
                "seeds; an interval that holds 0 means the method is not shown to beat chance.",
                "",
                sig,
                "",
            ]
            index += _localisation_section(store, ds, dataset, name, out, write, written)
            index += _leak_section(ds)
            for table_name, text in ablation_tables(ds, plugins).items():
                write(f"{name}-{table_name}.md", text)
                index += [f"### Ablation, {table_name.replace('table', 'Table ')}", "", text, ""]
            index += ["### Reconstructions (Figs. 5/6)", ""]
            missing = []
            for label in _order({r["label"] for r in ds}):
                first = min((r for r in ds if r["label"] == label), key=lambda r: r["seed"])
                artifacts = store.read_artifacts(first["_path"])
                if not artifacts or "reconstructions" not in artifacts:
                    missing.append(label)
                    continue
                classes = [first["scores"]["classes"][i] for i in artifacts["recon_index"]]
                paths = reconstruction_figure(
                    f"{label}, seed {first['seed']}", artifacts, classes, out / f"{name}-recon-{slug(label)}"
                )
                written += paths
                index += [f"![{_alt(label)} reconstructions]({paths[0].name})", ""]
            if missing:
                index += [
                    f"No reconstructions for: {', '.join(missing)} (the method does not reconstruct, "
                    "or its runs saved none).",
                    "",
                ]
            if tsne:
                index += _tsne_section(store, ds, tsne, out / f"{name}-tsne", written)
    if not records:
        index += ["No results found.", ""]
    write("index.md", "\n".join(index).rstrip() + "\n")
    return written


def _tsne_section(store, ds, pair, base, written) -> list[str]:
    wanted = [make_label(*parse_entry(e)) for e in pair]
    runs = {label: {r["seed"]: r for r in ds if r["label"] == label} for label in wanted}
    seeds = sorted(set(runs[wanted[0]]) & set(runs[wanted[1]]))
    head = ["### t-SNE of latent features (Fig. 7)", ""]
    if not seeds:
        return head + [f"Not drawn: no seed with finished runs of both {wanted[0]} and {wanted[1]}.", ""]
    feats = []
    for label in wanted:
        artifacts = store.read_artifacts(runs[label][seeds[0]]["_path"])
        if not artifacts or "latent" not in artifacts:
            return head + [f"Not drawn: {label} saved no latent features.", ""]
        feats.append((label, artifacts["latent"]))
    paths = tsne_figure(feats[0], feats[1], base)
    written += paths
    return head + [f"Seed {seeds[0]}; red: {wanted[0]}, blue: {wanted[1]}.", "", f"![t-SNE]({paths[0].name})", ""]
