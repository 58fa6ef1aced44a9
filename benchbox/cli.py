"""The ``benchbox`` command line. Tables go to stdout; progress and messages to stderr."""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

import click
from rich.console import Console

from .errors import BenchboxError
from .experiment import DIMENSIONS, RunSettings
from .params import parse_assignment, split_entries
from .plugins import get_plugins as _get_plugins

err = Console(stderr=True, highlight=False, soft_wrap=True)  # messages never wrapped mid-path


class UserMistake(click.ClickException):
    """A one-line message and exit code 2, as click's own usage errors (failed cells exit 1)."""

    exit_code = 2


class BenchboxGroup(click.Group):
    """Turns user mistakes (BenchboxError) into a :class:`UserMistake`."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BenchboxError as error:
            raise UserMistake(str(error)) from None


@click.group(cls=BenchboxGroup)
@click.version_option(package_name="benchbox-ad", prog_name="benchbox")
def main():
    """Benchmark unsupervised anomaly detection in medical images."""


def get_plugins():
    """The process's plugins; each installed plugin that failed to load reported once, in one
    line (it is left out; naming one of its methods is then the error)."""
    plugins = _get_plugins()
    plugins.methods, plugins.datasets  # noqa: B018  (building them finds a plugin whose hook fails)
    if not getattr(plugins, "_reported", False):
        for line in plugins.broken_lines():
            err.print(f"[yellow]{line}[/yellow]")
        plugins._reported = True
    return plugins


def run_setting_options(command):
    """One ``--option`` per field of :class:`benchbox.experiment.RunSettings`, so that a new run
    setting needs no change here."""
    for setting in reversed(fields(RunSettings)):
        meta = setting.metadata
        option = "--" + setting.name.replace("_", "-")
        if meta["kind"] is bool:
            command = click.option(option, setting.name, is_flag=True, default=None, help=meta["help"])(command)
        else:
            kind = click.Choice(meta["choices"]) if meta["choices"] else meta["kind"]
            command = click.option(option, setting.name, type=kind, default=None, help=meta["help"])(command)
    return command


def dimension_options(command):
    """One ``--option`` per protocol dimension (:data:`benchbox.experiment.DIMENSIONS`)."""
    for dim in reversed(DIMENSIONS):
        kind = click.Choice(dim.choices) if dim.choices else type(dim.default)
        option = "--" + dim.name.replace("_", "-")
        command = click.option(option, dim.name, type=kind, default=None, help=f"{dim.help} [default: {dim.default}]")(
            command
        )
    return command


def _note_unselectable(cells, dimensions) -> None:
    """Methods without epochs run as --select last: say so, once."""
    if dimensions.get("select") in (None, "last"):
        return
    plain = sorted({c.label for c in cells if "select" not in c.experiment.dimensions})
    if plain:
        err.print(f"[dim]{', '.join(plain)}: no epochs to choose from; run as --select last[/dim]")


def _warn_leaks(cells, store, plugins) -> None:
    """Before anything trains: the leak audit of each dataset that has cells to run."""
    from .execute import DataCache
    from .leaks import describe

    data, seen = DataCache(plugins), set()
    for cell in cells:
        key = DataCache._key(cell, "leaks")
        if key in seen or store.status(store.path(cell)) == "ok":
            continue
        seen.add(key)
        warning = describe(cell.dataset, "test", data.leak_audit(cell))
        if warning:
            err.print(f"[yellow]warning[/yellow] {warning}")


def _int_list(ctx, param, value):
    if value is None:
        return None
    items = [v.strip() for v in value.split(",")]
    if any(not v for v in items):
        raise click.BadParameter(f"an empty item in {value!r}; expected comma-separated integers such as 0,1,2")
    try:
        return [int(v) for v in items]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None


@main.command()
@click.option(
    "--methods",
    "methods",
    default=None,
    help="Comma list of methods, each optionally with inline parameters: "
    "'ae,salad[ssl=none]'. Default: the 'default' grid (methods/grids.toml).",
)
@click.option(
    "--dataset", "--datasets", "datasets", default="synthetic", show_default=True, help="Comma list of datasets."
)
@click.option("--seeds", default="0,1,2", show_default=True, callback=_int_list, help="Comma list of integer seeds.")
@click.option(
    "--results-dir",
    default="results",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where result files are written (and read for resume).",
)
@click.option("--image-size", type=int, default=None, help="Square image size (default: the dataset's, else 64).")
@run_setting_options
@dimension_options
@click.option("--data-root", type=click.Path(), default=None, help="Root folder of the dataset on disk.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Preprocessed-image cache (default: $BENCHBOX_CACHE_DIR or ~/.cache/benchbox).",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME.KEY=VALUE",
    help="Parameter of a method or dataset, e.g. --param salad.ssl=none. Repeatable.",
)
@click.option(
    "--grid",
    "grid_name",
    default=None,
    help="A named grid of method entries (table1, beyond, SALAD's table3-table5, or one of --grid-file).",
)
@click.option(
    "--preset",
    "preset_name",
    default=None,
    help="A named protocol (paper, cpu): image size, epochs, batch size, seeds. Explicit options win.",
)
@click.option(
    "--grid-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML file of more grids and presets, over those the plugins provide (its names win).",
)
@click.option("--force", is_flag=True, help="Recompute cells whose results already exist.")
@click.option(
    "--checkpoint-every",
    default="1",
    show_default=True,
    help="Save each run's training state every N epochs, or every 90s / 10m / 1h of training "
    "(and always on SIGINT/SIGTERM), to resume it.",
)
@click.option(
    "--deterministic",
    is_flag=True,
    help="Use PyTorch's deterministic algorithms (CUDA; CPU runs are deterministic anyway).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where cells run: this machine, or one Ray task per cell.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Local: cells at once, each in a worker process with cores/N CPU threads "
    "(on a GPU, each with its own CUDA context).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="CPU threads per cell (default: all cores; with --jobs, cores/N; Ray: --cpus-per-run). "
    "Deep methods' CPU numbers depend on it, within about their seed std.",
)
@click.option("--ray-address", default=None, help="Ray cluster to join (default: start a local one).")
@click.option("--cpus-per-run", type=click.FloatRange(min=0), default=1, show_default=True, help="Ray: CPUs per cell.")
@click.option("--gpus-per-run", type=click.FloatRange(min=0), default=0, show_default=True, help="Ray: GPUs per cell.")
@click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Ray: retries of a cell whose worker dies, before it is recorded as failed.",
)
@click.pass_context
def run(
    ctx,
    methods,
    datasets,
    seeds,
    results_dir,
    image_size,
    data_root,
    cache_dir,
    params,
    grid_name,
    preset_name,
    grid_file,
    force,
    checkpoint_every,
    deterministic,
    executor,
    jobs,
    threads,
    ray_address,
    cpus_per_run,
    gpus_per_run,
    max_retries,
    **settings,
):
    """Run the grid methods × datasets × seeds; finished cells are skipped on re-run."""
    from . import grids
    from .execute import base_record
    from .plan import plan
    from .progress import RichProgress
    from .runner import run_grid
    from .stopping import StopRequests
    from .store import ResultStore
    from .tables import render

    plugins = get_plugins()
    dimensions = {dim.name: settings.pop(dim.name) for dim in DIMENSIONS}
    if jobs > 1 and executor == "ray":
        raise click.UsageError(
            "--jobs runs cells in worker processes on this machine; with --executor ray, "
            "Ray packs cells instead: give --gpus-per-run 0.25 (four cells per GPU) "
            "and --cpus-per-run"
        )
    if grid_name or preset_name:
        config = grids.load(grid_file, plugins)
        if grid_name and methods:
            raise click.UsageError("give either --methods or --grid, not both")
        if grid_name:
            methods = ",".join(grids.grid(config, grid_name))
        if preset_name:
            values = grids.preset(config, preset_name)
            explicit = {
                name
                for name in ("seeds", "image_size", "epochs", "batch_size")
                if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
            }
            seeds = seeds if "seeds" in explicit else values.get("seeds", seeds)
            image_size = image_size if "image_size" in explicit else values.get("image_size", image_size)
            for name in ("epochs", "batch_size"):
                if name not in explicit:
                    settings[name] = values.get(name, settings[name])
    # No --methods: the `default` grid, not every registered method (an installed plugin, or a
    # method that needs a file such as PatchCore's weights, is run by naming it).
    entries = split_entries(methods) if methods else grids.grid(grids.load(grid_file, plugins), "default")
    cells = plan(
        plugins,
        entries,
        split_entries(datasets),
        seeds,
        image_size=image_size,
        overrides=[parse_assignment(p) for p in params],
        data_root=data_root,
        cache_dir=cache_dir,
        dimensions=dimensions,
        **settings,
    )
    _note_unselectable(cells, dimensions)
    store = ResultStore(results_dir)
    _warn_leaks(cells, store, plugins)
    _check_writable(Path(results_dir))
    if threads:
        import torch

        torch.set_num_threads(threads)  # this process's cells; --jobs workers are told below
    if deterministic:
        from .training import use_deterministic_algorithms

        use_deterministic_algorithms()
    try:
        runner_executor = None
        if executor == "ray":
            from .ray_executor import RayExecutor

            runner_executor = RayExecutor(ray_address, cpus_per_run, gpus_per_run, max_retries)
        elif jobs > 1:
            from .pool_executor import PoolExecutor

            runner_executor = PoolExecutor(jobs, threads)
        with StopRequests():  # Ctrl-C or SIGTERM: resumable methods save their state, then we stop
            summary = run_grid(
                cells,
                plugins,
                store,
                force=force,
                progress=RichProgress(err),
                checkpoint_every=checkpoint_every,
                executor=runner_executor,
            )
    except KeyboardInterrupt as stop:
        err.print(
            f"[yellow]interrupted[/yellow] ({stop or 'SIGINT'}); finished results are kept in "
            f"{results_dir}. Run the same command again to resume."
        )
        sys.exit(130)
    except OSError as error:
        raise click.ClickException(
            f"cannot write results under {results_dir}: {error}; finished results are kept"
        ) from None
    err.print(
        f"{len(summary.done)} run, {len(summary.skipped)} already done, "
        f"{len(summary.failed)} failed"
        + (f", {len(summary.busy)} held by another running benchbox" if summary.busy else "")
        + f"; results in {results_dir}"
    )
    keys = {c.key for c in cells}
    records = [r for r in store.records()[0] if r["key"] in keys]
    finished = {r["key"] for r in records if r["status"] == "ok"}
    held = [c for c in summary.busy if c.key not in finished]
    # A held cell is a row too: the table says what is missing, and why.
    records += [{**base_record(c, plugins.methods.provider(c.method)), "status": "held"} for c in held]
    click.echo(render(records))
    for cell, record in summary.failed:
        err.print(
            f"[red]{record['status']}[/red] {cell.label} · {cell.dataset} · seed {cell.seed}: {record.get('error')}"
        )
    if held:
        err.print(
            f"[yellow]{len(held)} cell(s) held by another running benchbox[/yellow] (its lock in "
            f"{results_dir}/<dataset>/.locks/); run the same command again when it has finished"
        )
    if summary.failed or held:
        sys.exit(1)


def _check_writable(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise UserMistake(f"--results-dir {path}: cannot write there ({error.strerror})") from None


def _threshold_warnings(records, threshold) -> list[str]:
    """Why thresholded metrics are blank: the runs scored no labelled validation split."""
    out = []
    for dataset in sorted({r["dataset"] for r in records}):
        ok = [r for r in records if r["dataset"] == dataset and r["status"] == "ok"]
        missing = [r for r in ok if threshold not in (r["metrics"].get("thresholds") or {})]
        if missing:
            out.append(
                f"{dataset}: {len(missing)} of {len(ok)} runs have no {threshold} threshold, so F1, ACC, SEN, "
                f"SPE and BACC are blank: they scored no labelled validation split (the dataset has none, "
                f"or its val/ normals are training images, as chest_xray's by default; --select val "
                f"scores one)"
            )
    return out


@main.command()
@click.option("--results-dir", default="results", show_default=True, type=click.Path(file_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "csv", "std", "latex"]),
    default="markdown",
    show_default=True,
    help="markdown: Table I; std: Table II; csv: numeric mean/std/n.",
)
@click.option(
    "--threshold",
    type=click.Choice(["test_best_f1", "val_best_f1"]),
    default="test_best_f1",
    show_default=True,
    help="How the F1/ACC/SEN/SPE threshold was chosen.",
)
@click.option(
    "--level",
    type=click.Choice(["image", "pixel"]),
    default="image",
    show_default=True,
    help="image: Table I; pixel: the localisation table (pixel AUROC, AUPRO, best Dice) where masks exist.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to FILE instead of stdout.")
def table(results_dir, fmt, threshold, level, output):
    """Aggregate the results directory into a table (mean ± std over seeds)."""
    from .store import ResultStore
    from .tables import mixed_warnings, render, seed_warnings

    if not Path(results_dir).is_dir():
        raise UserMistake(f"--results-dir {results_dir}: no such directory")
    records, problems = ResultStore(results_dir).records()
    for problem in problems:
        err.print(f"[yellow]skipped[/yellow] {problem}")
    if not records:  # nothing to aggregate is an error, and no file is written
        raise UserMistake(
            f"--results-dir {results_dir}: no result files there (expected <dataset>/<method>__seed<k>__<key>.json)"
        )
    for warning in [*mixed_warnings(records), *seed_warnings(records), *_threshold_warnings(records, threshold)]:
        err.print(f"[yellow]warning[/yellow] {warning}")
    text = render(records, fmt, threshold, level=level)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@main.command()
@click.option("--results-dir", default="results", show_default=True, type=click.Path(file_okay=False))
@click.option("--out", default=None, type=click.Path(file_okay=False), help="Default: RESULTS_DIR/report.")
@click.option(
    "--tsne",
    nargs=2,
    default=None,
    metavar="ENTRY ENTRY",
    help="Two method entries whose latent features to compare by t-SNE (Fig. 7), "
    "e.g. --tsne salad 'salad[feature_constraint=none]'.",
)
def report(results_dir, out, tsne):
    """Write the paper's tables and figures for every dataset in the results directory."""
    from . import report as report_module

    if not Path(results_dir).is_dir():
        raise UserMistake(f"--results-dir {results_dir}: no such directory")
    from .store import ResultStore

    if not ResultStore(results_dir).records()[0]:  # as `table`: nothing to report is an error
        raise UserMistake(
            f"--results-dir {results_dir}: no result files there (expected <dataset>/<method>__seed<k>__<key>.json)"
        )
    out = out or str(Path(results_dir) / "report")
    written = report_module.build(results_dir, out, tuple(tsne) if tsne else None)
    err.print(f"wrote {len(written)} file{'s' if len(written) != 1 else ''}; open {Path(out) / 'index.md'}")


@main.command()
def methods():
    """List the registered methods, their plugin and parameters."""
    plugins = get_plugins()
    for name in plugins.methods.names():
        cls = plugins.methods.get(name)
        doc = _summary(cls.__doc__)
        params = ", ".join(f"{k}={v}" for k, v in cls.param_defaults().items())
        click.echo(f"{name}\t{plugins.methods.provider(name)}\t{doc}\n    params: {params}")


def _summary(doc: str | None) -> str:
    """A docstring's first paragraph on one line, without reST markup."""
    paragraph = (doc or "").strip().split("\n\n", 1)[0]
    return " ".join(paragraph.split()).replace("``", "")


@main.command()
@click.option(
    "--data-root", type=click.Path(), default=None, help="Check this path: which datasets find their data there."
)
def datasets(data_root):
    """List the registered datasets, their parameters, where each looks for data and whether it was found."""
    plugins = get_plugins()
    for name in plugins.datasets.names():
        cls = plugins.datasets.get(name)
        where, found = cls(data_root=data_root).location()
        params = ", ".join(f"{k}={v}" for k, v in cls.param_defaults().items())
        click.echo(
            f"{name}\t{'found' if found else 'not found'}\t{where}\t[{plugins.datasets.provider(name)}]"
            f"\n    params: {params or '(none)'}"
        )


@main.command()
@click.option("--dataset", "dataset_name", required=True, help="The dataset to audit.")
@click.option("--data-root", type=click.Path(), default=None, help="Where its data is.")
@click.option("--param", "params", multiple=True, help="dataset.key=value, as for run.")
@click.option("--image-size", type=int, default=64, show_default=True, help="Size the images are compared at.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None)
def audit(dataset_name, data_root, params, image_size, cache_dir):
    """Leak audit: test (and val) images identical or near-identical to a training image."""
    from .execute import DataCache
    from .leaks import audit as leak_audit
    from .plan import plan

    plugins = get_plugins()
    overrides = [parse_assignment(p) for p in params]
    (cell,) = plan(plugins, ["pca"], [dataset_name], [0], image_size=image_size, overrides=overrides,
                   data_root=data_root, cache_dir=cache_dir)  # fmt: skip
    data = DataCache(plugins)
    dataset = data.dataset(cell)
    for split in [s for s in dataset.splits() if s != "train"]:
        if split == "test":
            found = data.leak_audit(cell)
        else:
            digests = dataset.file_digests("train")
            digests = None if digests is None else {**digests, **dataset.file_digests(split)}
            found = leak_audit(data.split(cell, "train"), data.split(cell, split), digests)
        by_class = ", ".join(f"{c} {k}" for c, k in found["by_class"].items())
        click.echo(
            f"{dataset_name} {split}: {found['identical']} identical (by {found['identical_basis']}), "
            f"{found['near_identical']} near-identical ({found['near_rule']}) of {found['n_test']} images "
            f"against {found['n_train']} training images; per class: {by_class}"
        )
        for a, b in (found["examples_identical"] + found["examples_near"])[:4]:
            click.echo(f"    {a} ~ {b}")


@main.command()
def plugins():
    """List the loaded plugins and what each provides."""
    loaded = get_plugins()
    for name, dist, version, methods_, datasets_ in loaded.plugin_table():
        provides = ", ".join([*(f"method {m}" for m in methods_), *(f"dataset {d}" for d in datasets_)])
        click.echo(f"{name}\t{dist} {version}\t{provides or '(nothing)'}")
    for name, (dist, version, error) in sorted(loaded.broken.items()):
        click.echo(f"{name}\t{dist} {version}\tBROKEN, left out: {error}")
