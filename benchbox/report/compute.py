"""Building a report's model (:mod:`benchbox.report.model`) from a results directory: every
table computed and every figure drawn once, whatever it is rendered as afterwards."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .. import grids
from ..catalogue import Catalogue
from ..experiment import SELECTION_RULES
from ..params import label as make_label
from ..params import parse_entry
from ..store import ResultStore, slug
from ..tables import View, by_rule, frame, main_tables, mixed_warnings, name_rows, ordered
from . import figures
from .explorer import explorer_data
from .model import Explorer, Figure, Heading, Report, Section, Table, Text
from .statistics import (
    auroc_per_group_table,
    per_class_table,
    pixel_significance_table,
    selection_table,
    significance_table,
)

BOOTSTRAP = (
    "Two-level paired bootstrap (2,000 replicates; Davison & Hinkley 1997, §3.8): each "
    "replicate resamples the test images once, the same resample for both methods and every "
    "seed, and resamples the seeds both have; ΔAUROC is the mean over the resampled seeds. "
    "The interval covers test-image and training-run (seed) variation; two-sided p-value. "
    "AUC − 0.5: the same bootstrap against a constant score (chance), over all of a method's "
    "seeds; an interval that holds 0 means the method is not shown to beat chance."
)

PER_GROUP = (
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
)


class Context:
    """What every section reads: the store, the output folder (figures are drawn there), the
    row order and grids of the plugins, and the datasets' ``subgroup`` hooks."""

    def __init__(self, store: ResultStore, out: Path, plugins, labels=()):
        self.store, self.out, self.plugins = store, out, plugins
        self.grids = plugins.grid_config()
        self.rank = plugins.row_order()
        # Names and references of the plugins; the stored arrays for the pixel bootstrap's marks.
        self.catalogue = Catalogue.from_plugins(plugins, labels)
        self.view = View(catalogue=self.catalogue, read_artifacts=store.read_artifacts)

    def subgroup(self, dataset: str):
        """The dataset plugin's ``subgroup`` (None where the plugin is not installed here, or
        the plugins do not load: the report then groups by class alone)."""
        from ..errors import BenchboxError

        try:
            datasets = self.plugins.datasets
        except BenchboxError:
            return None
        return datasets.get(dataset).subgroup if dataset in datasets else None


def compute(results_dir, out: Path, plugins, tsne: tuple[str, str] | None = None) -> Report:
    """The report of ``results_dir``: a section per dataset and checkpoint rule (figures drawn into ``out``)."""
    store = ResultStore(results_dir)
    records, problems = store.records()
    mixed = mixed_warnings(records)
    name_rows(records)  # several experiments under one label, one name over several trees: told apart
    context = Context(store, out, plugins, sorted({r["label"] for r in records}))
    report = Report(bibliography=context.catalogue.bibliography(records))
    if report.bibliography:
        report.preface.append(
            Text(
                "References of every method and dataset below: [references.bib](references.bib) (the LaTeX "
                "tables cite them by these keys, `\\citep{...}`; `benchbox cite` prints the same file)."
            )
        )
    if problems:
        report.preface += [
            Text("Result files skipped (not valid records):"),
            Text("\n".join(f"- {p}" for p in problems)),
        ]
    if mixed:
        report.preface += [
            Text("Several experiments under one label, shown as rows of their own:"),
            Text("\n".join(f"- {m}" for m in mixed)),
        ]
    for dataset in sorted({r["dataset_name"] for r in records}):
        for rule, all_ds in by_rule([r for r in records if r["dataset_name"] == dataset]).items():
            # One section per checkpoint rule: never averaged, ranked or tested across rules.
            report.sections.append(section(context, dataset, rule, all_ds, tsne))
    report.sections += rank_sections(context, records)
    if not records:
        report.preface.append(Text("No results found."))
    return report


def rank_sections(context: Context, records: list[dict]) -> list[Section]:
    """Where the results span several datasets: per checkpoint rule, the methods' average ranks
    by AUROC, the Friedman test and the critical-difference diagram (:mod:`benchbox.ranks`)."""
    from ..ranks import cd_diagram, rank_methods

    out = []
    ok = [r for r in records if r["status"] == "ok"]
    for rule, part in by_rule(ok).items():
        if len({r["dataset_name"] for r in part}) < 2:
            continue
        result = rank_methods(part, "auroc", rule, context.catalogue)
        if result.n_datasets < 2 or len(result.average) < 2:
            continue
        name = "ranks" + ("" if rule == "last" else f"-select-{rule}")
        title = "Ranks across datasets" + ("" if rule == "last" else f": checkpoint {SELECTION_RULES[rule]}")
        section = Section(title)
        section.blocks += [
            Text(result.summary()),
            Table(result.table(), file=name),
            Figure(cd_diagram(result, context.out / f"{name}-cd"), "Critical-difference diagram"),
        ]
        out.append(section)
    return out


def section(context: Context, dataset: str, rule: str, all_ds: list[dict], tsne) -> Section:
    name = slug(dataset) + ("" if rule == "last" else f"-select-{rule}")
    ds = [r for r in all_ds if r["status"] == "ok"]
    out = Section(f"{dataset}" + ("" if rule == "last" else f": checkpoint {SELECTION_RULES[rule]}"))
    if not ds:
        out.blocks.append(Text("No finished runs."))
        return out
    blocks, rank = out.blocks, context.rank
    blocks.append(Text(describe(ds, rank)))
    if rule != "last":
        blocks += selection_blocks(context, ds, rule, dataset, name)
    (table1,) = main_tables(all_ds, rank=rank, view=context.view)
    (table2,) = main_tables(all_ds, rank=rank, std_only=True, view=context.view)
    blocks += [
        Heading("Table I (mean ± std over seeds)"),
        replace(table1, file=f"{name}-table1"),
        Text(
            f"CSV: [{name}-table1.csv]({name}-table1.csv), LaTeX: [{name}-table1.tex]({name}-table1.tex), "
            f"Table II (std only): [{name}-table2.md]({name}-table2.md)"
        ),
        replace(table2, file=f"{name}-table2", numeric=None, inline=False),
    ]
    if frame(all_ds).groupby("method").size().max() < 2:
        blocks.append(Text("Only one seed per method: no standard deviations."))
    roc = figures.roc_figure(ds, dataset, context.out / f"{name}-roc", rank)
    blocks += [Heading("ROC curves (Fig. 4)"), Figure(roc, f"ROC curves on {dataset}")]
    blocks += [
        Heading("Anomaly score per class (Table VI; mean ± std over test images, seeds pooled)"),
        Table(per_class_table(ds, rank), file=f"{name}-table6"),
    ]
    subgroup = context.subgroup(ds[0]["dataset"])  # the plugin's hook (one plugin a section)
    for side, suffix, heading in PER_GROUP:
        per_group = auroc_per_group_table(ds, subgroup, side=side, rank=rank)
        if per_group is not None:
            blocks += [Heading(heading), Table(per_group, file=f"{name}-{suffix}")]
    best, significance = significance_table(ds, rank)
    blocks += [
        Heading(f"Is the difference real? (paired bootstrap of AUROC against chance and against the best, {best})"),
        Text(BOOTSTRAP),
        Table(significance, file=f"{name}-significance", index=False),
    ]
    blocks += localisation_blocks(context, ds, name)
    blocks += leak_blocks(ds)
    for table_name, table in ablation_tables(ds, context).items():
        blocks += [
            Heading(f"Ablation, {table_name.replace('table', 'Table ')}"),
            replace(table, file=f"{name}-{table_name}"),
        ]
    blocks += reconstruction_blocks(context, ds, name)
    if tsne:
        blocks += tsne_blocks(context, ds, tsne, context.out / f"{name}-tsne")
    blocks += explorer_blocks(context, ds, name, subgroup)
    return out


def explorer_blocks(context: Context, ds, name, subgroup) -> list:
    """The section's image explorer (in ``index.html``; the markdown points there)."""
    data = explorer_data(ds, context.store.read_artifacts, context.catalogue, context.rank, subgroup)
    if data is None:
        return []
    return [Heading("Image explorer"), Explorer(f"explorer-{name}", data)]


def selection_blocks(context: Context, ds, rule, dataset, name) -> list:
    intro, table = selection_table(ds, rule, context.rank)
    paths = figures.selection_figure(ds, rule, dataset, context.out / f"{name}-selection", context.rank)
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
        Heading("How the checkpoint was chosen"),
        Text(warning),
        Table(table, file=f"{name}-selection", index=False, intro=intro),
        Figure(paths, f"{rule} AUROC per evaluation"),
    ]


def localisation_blocks(context: Context, ds, name) -> list:
    with_maps = [r for r in ds if r.get("pixel_metrics")]
    if not with_maps:
        return []
    (table,) = main_tables(with_maps, level="pixel", rank=context.rank, view=context.view)
    blocks = [
        Heading("Localisation (pixel level, where the test images have masks)"),
        replace(table, file=f"{name}-localisation"),
    ]
    without = sorted({r["label"] for r in ds} - {r["label"] for r in with_maps})
    if without:
        blocks.append(Text(f"No anomaly maps: {', '.join(without)} (image level only)."))
    derived = ordered({r["label"] for r in with_maps if "derived" in r}, context.rank)
    if derived:
        blocks.append(
            Text(
                f"Derived from the kept cells without training ({', '.join(derived)}; benchbox.derive): pixel AUROC "
                "from the kept runs' per-image histograms of 256 bins, AUPRO and Dice not derived (the full maps "
                "are not stored; `benchbox run --no-derive` trains them)."
            )
        )
    first = min(with_maps, key=lambda r: "derived" in r)["pixel_metrics"]  # a trained run's counts
    share = first["positive_share"]
    regions = f"{first['n_regions']} connected regions, " if "n_regions" in first else ""
    blocks.append(
        Text(
            f"{first['n_images']} test images with known masks ({first['n_anomalous_images']} with anomalous pixels, "
            f"{regions}{100 * first['positive_share']:.1f}% of their pixels anomalous), "
            f"at the run's image size; flagging every pixel would score Dice {2 * share / (1 + share):.4f}, "
            f"a chance map pixel AUROC 0.5 and AUPRO 0.15. CSV: [{name}-localisation.csv]({name}-localisation.csv)"
        )
    )
    significance = pixel_significance_table(with_maps, context.store, context.rank)
    if significance is not None:
        best, table = significance
        blocks += [
            Text(
                f"Pixel AUROC against the best ({best}), by the same two-level bootstrap over test images and "
                "seeds (each image's pixels stay together; histograms of 256 bins per image):"
            ),
            Table(table, file=f"{name}-localisation-significance", index=False),
        ]
    chosen = {}  # label -> its lowest seed's run and saved maps
    for label in ordered({r["label"] for r in with_maps}, context.rank):
        run = min((r for r in with_maps if r["label"] == label), key=lambda r: r["seed"])
        artifacts = context.store.read_artifacts(run["_path"])
        if artifacts and "maps" in artifacts:
            chosen[label] = (run, artifacts)
    blocks += compared_maps(chosen, context.out / f"{name}-maps")
    for label, (run, artifacts) in chosen.items():
        classes = [run["scores"]["classes"][i] for i in artifacts["map_index"]]
        base = context.out / f"{name}-maps-{slug(label)}"
        paths = figures.map_figure(f"{label}, seed {run['seed']}", artifacts, classes, base)
        blocks.append(Figure(paths, f"{figures.alt(label)} anomaly maps"))
    return blocks


def compared_maps(chosen: dict, base: Path) -> list:
    """Every method's map of the same test images in one figure, where the methods saved the
    same images (each run saves the first few of each class of its test set)."""
    shown = {
        label: [run["scores"]["ids"][i] for i in artifacts["map_index"]] for label, (run, artifacts) in chosen.items()
    }
    if len(chosen) < 2 or len({tuple(ids) for ids in shown.values()}) > 1:
        return []
    run, first = next(iter(chosen.values()))
    classes = [run["scores"]["classes"][i] for i in first["map_index"]]
    rows = [(f"{label}, seed {r['seed']}", artifacts["maps"]) for label, (r, artifacts) in chosen.items()]
    paths = figures.maps_figure(
        first["map_images"], first["masks"], classes, rows, "Anomaly maps of every method", base
    )
    return [Text("Every method's map of the same test images (mask in cyan; each row on its own colour scale):"),
            Figure(paths, "anomaly maps of every method")]  # fmt: skip


def leak_blocks(ds) -> list:
    audits = [r["leak_audit"] for r in ds if r.get("leak_audit")]
    if not audits:
        return [Heading("Leak audit"), Text("Not recorded (runs made before the audit existed).")]
    found = audits[0]
    dropped = sorted({a.get("dropped", 0) for a in audits})
    blocks = [
        Heading("Leak audit (test images that copy a training image)"),
        Text(
            f"{found['identical']} of {found['n_test']} test images are identical to a training image (by "
            f"{found['identical_basis']}), {found['near_identical']} more near-identical ({found['near_rule']}); "
            "per class: "
            + ", ".join(f"{c} {k}" for c, k in found["by_class"].items())
            + ". "
            + (
                "Dropped from the test set (--leaks drop)."
                if dropped != [0]
                else "Kept in the test set (--leaks keep)."
            )
        ),
    ]
    examples = found["examples_identical"] + found["examples_near"]
    if examples:
        blocks.append(Text("Examples (test ~ training): " + "; ".join(f"`{a}` ~ `{b}`" for a, b in examples[:6])))
    return blocks


def ablation_tables(records: list[dict], context: Context) -> dict[str, Table]:
    """The ablation tables (the plugins' grids marked ``ablation = true``, e.g. SALAD's Tables
    III–V): the rows of each present in the results (at least two), in the grid's order and
    named by its ``rows`` (the paper's row names) where it gives them."""
    out = {}
    for name, spec in context.grids["grids"].items():
        if not spec.get("ablation"):
            continue
        entries = grids.grid(context.grids, name)
        names = grids.row_names(context.grids, name)
        rows = {make_label(*parse_entry(e)): f"{n} ({e})" if n != e else e for e, n in zip(entries, names)}
        present = [r for r in records if r["label"] in rows]
        if len({r["label"] for r in present}) >= 2:
            (out[name],) = main_tables(present, rows=rows, view=context.view)
    return out


def reconstruction_blocks(context: Context, ds, name) -> list:
    blocks, missing = [Heading("Reconstructions (Figs. 5/6)")], []
    for label in ordered({r["label"] for r in ds}, context.rank):
        first = min((r for r in ds if r["label"] == label), key=lambda r: r["seed"])
        artifacts = context.store.read_artifacts(first["_path"])
        if not artifacts or "reconstructions" not in artifacts:
            missing.append(label)
            continue
        classes = [first["scores"]["classes"][i] for i in artifacts["recon_index"]]
        base = context.out / f"{name}-recon-{slug(label)}"
        paths = figures.reconstruction_figure(f"{label}, seed {first['seed']}", artifacts, classes, base)
        blocks.append(Figure(paths, f"{figures.alt(label)} reconstructions"))
    if missing:
        blocks.append(
            Text(
                f"No reconstructions for: {', '.join(missing)} (the method does not reconstruct, "
                "or its runs saved none)."
            )
        )
    return blocks


def tsne_blocks(context: Context, ds, pair, base) -> list:
    wanted = [make_label(*parse_entry(e)) for e in pair]
    runs = {label: {r["seed"]: r for r in ds if r["label"] == label} for label in wanted}
    seeds = sorted(set(runs[wanted[0]]) & set(runs[wanted[1]]))
    head = [Heading("t-SNE of latent features (Fig. 7)")]
    if not seeds:
        return head + [Text(f"Not drawn: no seed with finished runs of both {wanted[0]} and {wanted[1]}.")]
    feats = []
    for label in wanted:
        artifacts = context.store.read_artifacts(runs[label][seeds[0]]["_path"])
        if not artifacts or "latent" not in artifacts:
            return head + [Text(f"Not drawn: {label} saved no latent features.")]
        feats.append((label, artifacts["latent"]))
    paths = figures.tsne_figure(feats[0], feats[1], base)
    return head + [Text(f"Seed {seeds[0]}; red: {wanted[0]}, blue: {wanted[1]}."), Figure(paths, "t-SNE")]


def describe(records: list[dict], rank: dict[str, int]) -> str:
    def values(key, per_row=True):  # methods without the setting (the pixel floors have no epochs) are left out
        found = sorted({r.get(key) for r in records if r.get(key) is not None})
        if len(found) < 2 or not per_row:
            return ", ".join(map(str, found)) or "–"
        # Several: say which rows have which, so that no number loses its protocol.
        return "; ".join(f"{value} ({', '.join(ordered({r['label'] for r in records if r.get(key) == value}, rank))})"
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
    first = records[0]
    data = (first.get("experiment") or {}).get("data")
    derived = ordered({r["label"] for r in records if "derived" in r}, rank)
    layout = f"plugin `{first['dataset']}`" + (f", data fingerprint {str(data).split('+val:')[0][:12]}" if data else "")
    return (
        f"Dataset {first.get('dataset_name') or first['dataset']} ({layout}). Image size {values('image_size')}; epochs {values('epochs')}; batch size {values('batch_size')}; "
        f"seeds {values('seed', per_row=False)}; split protocol {', '.join(protocols)}; test set(s) "
        f"{records[0]['test_set']['n']} images, file-list hash {hashes}. F1/ACC/SEN/SPE/BACC use the "
        f"threshold with the best F1 on the test scores (the SALAD paper's protocol, which uses test labels); "
        f"SEN@95SPE needs no threshold. "
        f"Versions: {'; '.join(versions)}. Devices: {'; '.join(devices)}. "
        f"Training precision: {', '.join(p + (' autocast' if p == 'bf16' else '') for p in precisions) or '–'}."
        + (f" Weights files read (SHA-256): {'; '.join(weights)}." if weights else "")
        + (
            f" Derived, not trained (--leaks drop from the kept cells' stored scores, benchbox.derive): "
            f"{', '.join(derived)}."
            if derived
            else ""
        )
    )
