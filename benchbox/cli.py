"""The ``benchbox`` command line. Tables go to stdout; progress and messages to stderr."""

from __future__ import annotations

import sys
import warnings
from dataclasses import fields
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from .errors import BenchboxError
from .experiment import DIMENSIONS, RunSettings
from .params import parse_assignment, split_entries
from .plugins import get_plugins as _get_plugins

err = Console(stderr=True, highlight=False, soft_wrap=True)  # messages never wrapped mid-path


class UserMistake(click.ClickException):
    """A one-line message and exit code 2, as click's own usage errors (failed cells exit 1)."""

    exit_code = 2


class BenchboxGroup(click.Group):
    """Turns user mistakes (BenchboxError) into a :class:`UserMistake`, and warnings into one
    line each in benchbox's words (not Python's ``file:line: UserWarning:``)."""

    def invoke(self, ctx):
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except BenchboxError as error:
                raise UserMistake(str(error)) from None


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, UserWarning):
        err.print(f"[yellow]warning[/yellow] {escape(str(message))}")
    else:  # a library's deprecation and the like: as Python shows it
        err.print(warnings.formatwarning(message, category, filename, lineno, line).rstrip(), markup=False)


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
            err.print(f"[yellow]{escape(line)}[/yellow]")
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
        err.print(f"[dim]{escape(', '.join(plain))}: no epochs to choose from; run as --select last[/dim]")


def _before_training(cells, finished, data) -> None:
    """Before anything trains: a note where finished results were made by other code; for
    each dataset that has cells to run, every split's files (each bad file of every split in
    one message), then the leak audit. The splits stay in ``data`` for the run."""
    from .errors import DataError
    from .leaks import describe

    _note_changed_code(finished.values(), data.plugins)
    datasets = {data.key(cell, "leaks"): cell for cell in cells}.values()
    problems = []
    for cell in datasets:
        for split in data.dataset(cell).splits():
            try:
                data.split(cell, split)
            except DataError as error:
                problems.append(f"{cell.dataset}, split {split}: {error}")
    if problems:
        raise DataError("\n".join(problems))
    for cell in datasets:
        warning = describe(cell.dataset, "test", data.leak_audit(cell))
        if warning:
            err.print(f"[yellow]warning[/yellow] {escape(warning)}")


def _note_changed_code(records, plugins) -> None:
    """One line per method or dataset whose installed code differs from the code its reused
    results were made with. A note, not part of the key: published results stay reusable
    across harmless edits (a comment, a refactor); an edit that changes results says so by
    raising the method's ``revision``, which is in every key."""
    from .plugins import source_digest

    changed: dict[tuple[str, str], int] = {}
    for record in records:
        for kind, registry in (("method", plugins.methods), ("dataset", plugins.datasets)):
            name, made_by = record[kind], (record.get("code") or {}).get(kind)
            if made_by and name in registry and made_by != source_digest(registry.get(name)):
                changed[kind, name] = changed.get((kind, name), 0) + 1
    for (kind, name), n in sorted(changed.items()):
        err.print(
            f"[yellow]note[/yellow] {kind} {name}: the installed code differs from the code {n} finished "
            f"result{'s' if n > 1 else ''} here {'were' if n > 1 else 'was'} made with; they are reused as they "
            f"are. If the change alters results, pass --force to recompute them"
            + (", or raise the method's revision (part of every key)" if kind == "method" else ""),
            highlight=False,
        )


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
    help="Parameter of a method or dataset, e.g. --param salad.ssl=none; --param <dataset>.name=... names "
    "the dataset in tables and reports (not part of any key). Repeatable.",
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
    "--derive/--no-derive",
    default=True,
    show_default=True,
    help="--leaks drop under --select last or val: take each cell from its kept twin's stored scores "
    "in the same --results-dir where there is one (no training; pixel AUROC from histograms, no "
    "AUPRO or Dice), else train.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="List the cells the command would run, resume from a checkpoint or skip as done; load no data, train nothing.",
)
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
    derive,
    dry_run,
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
    from .checkpoints import Cadence
    from .execute import DataCache
    from .plan import plan
    from .store import ResultStore

    # The refusals that need nothing loaded come first.
    if jobs > 1 and executor == "ray":
        raise click.UsageError(
            "--jobs runs cells in worker processes on this machine; with --executor ray, "
            "Ray packs cells instead: give --gpus-per-run 0.25 (four cells per GPU) "
            "and --cpus-per-run"
        )
    if grid_name and methods:
        raise click.UsageError("give either --methods or --grid, not both")
    cadence = Cadence.parse(checkpoint_every)
    if not dry_run:
        _check_writable(Path(results_dir))
    plugins = get_plugins()
    dimensions = {dim.name: settings.pop(dim.name) for dim in DIMENSIONS}
    entries, seeds, image_size = _grid_and_preset(ctx, plugins, methods, grid_name, preset_name, grid_file,
                                                  seeds, image_size, settings)  # fmt: skip
    cells = plan(plugins, entries, split_entries(datasets), seeds, image_size=image_size,
                 overrides=[parse_assignment(p) for p in params], data_root=data_root, cache_dir=cache_dir,
                 dimensions=dimensions, **settings)  # fmt: skip
    _note_unselectable(cells, dimensions)
    store = ResultStore(results_dir)
    if dry_run:
        return _dry_run(cells, store, force, derive)
    _set_up_torch(threads, deterministic)
    data = DataCache(plugins)  # the audit's splits are the run's (in this process)
    runner = _executor(executor, data, jobs, threads, ray_address, cpus_per_run, gpus_per_run, max_retries)
    summary = _run_grid(cells, plugins, store, data, runner, force, cadence, results_dir, derive)
    _summarise(summary, store, plugins, results_dir)


def _dry_run(cells, store, force, derive) -> None:
    """What the command would do with each cell, one line each on stdout."""
    from . import derive as deriving
    from .runner import pending

    todo, _ = pending(cells, store, force)
    to_run = {c.key for c in todo}
    counts = {"run": 0, "resume": 0, "derive": 0, "skip": 0}
    for cell in cells:
        if cell.key not in to_run:
            what = "skip"
        elif derive and not force and deriving.source(cell, store) is not None:
            what = "derive"
        else:
            what = "resume" if store.checkpoint_path(store.path(cell)).exists() else "run"
        counts[what] += 1
        click.echo(f"{what}\t{cell.label} · {cell.dataset} · seed {cell.seed}\t{store.path(cell)}")
    err.print(
        f"dry run: {counts['run']} to run, {counts['resume']} to resume from a checkpoint, "
        + (f"{counts['derive']} to derive from kept results (leaks dropped), " if counts["derive"] else "")
        + f"{counts['skip']} already done; nothing was loaded or trained"
    )


def _grid_and_preset(ctx, plugins, methods, grid_name, preset_name, grid_file, seeds, image_size, settings):
    """The method entries (``--methods``, ``--grid``, else the ``default`` grid) and the
    preset's protocol under the options given on the command line."""
    from . import grids

    config = plugins.grid_config(grid_file)
    if preset_name:
        values = grids.preset(config, preset_name)
        given = lambda name: ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE  # noqa: E731
        seeds = seeds if given("seeds") else values.get("seeds", seeds)
        image_size = image_size if given("image_size") else values.get("image_size", image_size)
        for name in ("epochs", "batch_size"):
            if not given(name):
                settings[name] = values.get(name, settings[name])
    # No --methods: the `default` grid, not every registered method (an installed plugin, or a
    # method that needs a file such as PatchCore's weights, is run by naming it).
    if methods:
        return split_entries(methods), seeds, image_size
    return grids.grid(config, grid_name or "default"), seeds, image_size


def _set_up_torch(threads, deterministic) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)  # this process's cells; --jobs workers are told by their executor
    if deterministic:
        from .training import use_deterministic_algorithms

        use_deterministic_algorithms()


def _executor(kind, data, jobs, threads, ray_address, cpus_per_run, gpus_per_run, max_retries):
    if kind == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(ray_address, cpus_per_run, gpus_per_run, max_retries)
    if jobs > 1:
        from .pool_executor import PoolExecutor

        return PoolExecutor(jobs, threads)
    from .executors import LocalExecutor

    return LocalExecutor(data)


def _run_grid(cells, plugins, store, data, executor, force, cadence, results_dir, derive=True):
    """The grid, the checks of its data first; a stop keeps every finished result and says how to resume."""
    from .progress import RichProgress
    from .runner import run_grid
    from .stopping import StopRequests

    try:
        with StopRequests():  # Ctrl-C or SIGTERM: resumable methods save their state, then we stop
            return run_grid(cells, plugins, store, force=force, progress=RichProgress(err), checkpoint_every=cadence,
                            executor=executor, before=lambda todo, done: _before_training(todo, done, data),
                            derive=derive)  # fmt: skip
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


def _summarise(summary, store, plugins, results_dir) -> None:
    """The counts, the table of the grid's cells, each failure; exit 1 if any failed or is held."""
    from .catalogue import Catalogue
    from .tables import View, render

    err.print(
        f"{len(summary.done)} run, "
        + (
            f"{len(summary.derived)} derived from kept results (leaks dropped, no training), "
            if summary.derived
            else ""
        )
        + f"{len(summary.skipped)} already done, "
        f"{len(summary.failed)} failed"
        + (f", {len(summary.busy)} held by another running benchbox" if summary.busy else "")
        + f"; results in {results_dir}"
    )
    records = summary.records(store, plugins)
    # The entries as typed (they are what a re-run takes), with the seed-independent ones said so.
    independent = Catalogue.from_plugins(plugins).seed_independent
    click.echo(render(records, rank=plugins.row_order(), view=View(Catalogue(seed_independent=independent))))
    for cell, record in summary.failed:
        err.print(
            f"[red]{record['status']}[/red] "
            + escape(f"{cell.label} · {cell.dataset} · seed {cell.seed}: {record.get('error')}")
        )
    held = [r for r in records if r["status"] == "held"]
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
    from .tables import dataset_names

    out = []
    names = dataset_names(records)
    for dataset in sorted(set(names)):
        ok = [r for r, name in zip(records, names) if name == dataset and r["status"] == "ok"]
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
@click.option(
    "--dataset",
    "datasets",
    default=None,
    help="Comma list of the datasets to show, as tables name them (default: all).",
)
@click.option(
    "--methods",
    default=None,
    help="Comma list of method entries to show, in that order (default: all, in the grids' order).",
)
@click.option(
    "--metrics",
    default=None,
    help="Comma list of columns: auroc,f1,acc,sen,spe,auprc,bacc,sen95 (pixel: pixel_auroc,aupro,best_dice).",
)
@click.option(
    "--published",
    "published",
    multiple=True,
    help="Add a published table's rows for the datasets it shares with the run, set apart and never "
    "ranked: bmad, salad (benchbox published lists them); NAME:THEIRS=OURS maps one of its datasets.",
)
@click.option(
    "--select",
    "rule",
    default=None,
    type=click.Choice(["last", "val", "test"]),
    help="Only the results of this checkpoint rule (default: every rule, a table each).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to FILE instead of stdout.")
def table(results_dir, fmt, threshold, level, datasets, methods, metrics, published, rule, output):
    """Aggregate the results directory into a table (mean ± std over seeds)."""
    from .tables import mixed_warnings, render, seed_warnings, selection_rule

    records, store = _records(results_dir)
    if rule:
        records = [r for r in records if selection_rule(r) == rule]
        if not records:
            raise UserMistake(f"--select {rule}: no results of that checkpoint rule in {results_dir}")
    for warning in [*mixed_warnings(records), *seed_warnings(records), *_threshold_warnings(records, threshold)]:
        err.print(f"[yellow]warning[/yellow] {escape(warning)}")
    plugins = get_plugins()
    records, view = _table_view(records, store, plugins, datasets, methods, metrics, level, published)
    text = render(records, fmt, threshold, level=level, rank=plugins.row_order(), view=view)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        click.echo(text, nl=False)


def _records(results_dir):
    """The records of a results directory (its unreadable files named), or a clear error."""
    from .store import ResultStore

    if not Path(results_dir).is_dir():
        raise UserMistake(f"--results-dir {results_dir}: no such directory")
    store = ResultStore(results_dir)
    records, problems = store.records()
    for problem in problems:
        err.print(f"[yellow]skipped[/yellow] {escape(problem)}")
    if not records:  # nothing to aggregate is an error, and no file is written
        raise UserMistake(
            f"--results-dir {results_dir}: no result files there (expected <dataset>/<method>__seed<k>__<key>.json)"
        )
    return records, store


def _table_view(records, store, plugins, datasets, methods, metrics, level, published):
    """The records a table shows (``--dataset``, ``--methods``) and how (:class:`benchbox.tables.View`)."""
    from .catalogue import Catalogue
    from .params import label as make_label
    from .params import parse_entry
    from .published import parse_choice
    from .tables import HEADERS, METRICS, PIXEL, View, dataset_names, experiment_labels

    names = dataset_names(records)
    if datasets:
        wanted = [d.strip() for d in datasets.split(",") if d.strip()]
        known = sorted(set(names))
        unknown = [d for d in wanted if d not in known and d not in {r["dataset"] for r in records}]
        if unknown:
            raise UserMistake(
                f"--dataset {datasets}: no results of {', '.join(unknown)}; there are: {', '.join(known)}"
            )
        records = [r for r, n in zip(records, names) if n in wanted or r["dataset"] in wanted]
    order = None
    if methods:
        try:
            order = [make_label(*parse_entry(e)) for e in split_entries(methods)]
        except BenchboxError as error:
            raise UserMistake(f"--methods {methods}: {error}") from None
        labels = experiment_labels(records)
        missing = [o for o in order if o not in labels]
        if missing:
            raise UserMistake(
                f"--methods {methods}: no results of {', '.join(missing)}; there are: {', '.join(sorted(set(labels)))}"
            )
        records = [r for r, label in zip(records, labels) if label in order]
    columns = None
    if metrics:
        allowed = PIXEL if level == "pixel" else METRICS
        by_header = {HEADERS[m].lower(): m for m in allowed}
        columns = tuple(by_header.get(m.strip().lower(), m.strip().lower()) for m in metrics.split(",") if m.strip())
        wrong = [m for m in columns if m not in allowed]
        if wrong:
            raise UserMistake(
                f"--metrics {metrics}: unknown at --level {level}: {', '.join(wrong)}; known: {', '.join(allowed)}"
            )
    rows = []
    for choice in published:
        table, mapping = parse_choice(choice, {n: plugins.published.get(n) for n in plugins.published.names()})
        shown = {}
        for r, n in zip(records, dataset_names(records)):
            shown.setdefault(n, []).append(r)
        found = table.rows_for(shown, mapping)
        if not found:
            err.print(
                f"[yellow]warning[/yellow] --published {escape(choice)}: none of its datasets "
                f"({', '.join(sorted(table.datasets))}) is in these results ({', '.join(sorted(shown))}); "
                f"map one with {table.name}:THEIRS=OURS"
            )
        rows += found
    catalogue = Catalogue.from_plugins(plugins, sorted(set(experiment_labels(records))))
    return records, View(catalogue, columns, order, store.read_artifacts, rows)


@main.command()
@click.option("--results-dir", default="results", show_default=True, type=click.Path(file_okay=False))
@click.option(
    "--published",
    "published",
    multiple=True,
    help="Add the references of these published tables (bmad, salad).",
)
def cite(results_dir, published):
    """Print the BibTeX (.bib) of every method and dataset in the results directory."""
    from .catalogue import Catalogue, bib_entries
    from .tables import name_rows

    records = name_rows(_records(results_dir)[0])
    plugins = get_plugins()
    text = Catalogue.from_plugins(plugins, sorted({r["label"] for r in records})).bibliography(records)
    for name in published:
        if name not in plugins.published:
            raise UserMistake(f"--published {name}: unknown; known: {', '.join(plugins.published.names())}")
        extra = plugins.published.get(name).citation
        if extra and not set(bib_entries(extra)) <= set(bib_entries(text)):
            text = (text + "\n" + extra + "\n") if text else extra + "\n"
    click.echo(text, nl=False)


@main.command()
@click.option("--results-dir", default="results", show_default=True, type=click.Path(file_okay=False))
@click.option(
    "--metric", default="auroc", show_default=True, type=click.Choice(["auroc", "auprc", "pixel_auroc", "aupro"])
)
@click.option(
    "--select",
    "rule",
    default="last",
    show_default=True,
    type=click.Choice(["last", "val", "test"]),
    help="The checkpoint rule whose results are ranked (rules are never ranked together).",
)
@click.option(
    "--out", default=None, type=click.Path(dir_okay=False), help="Write the CD diagram to OUT.png and OUT.pdf."
)
def rank(results_dir, metric, rule, out):
    """Rank the methods across the datasets of a results directory: average ranks, the Friedman
    test and the Nemenyi critical difference (Demšar 2006)."""
    from .catalogue import Catalogue
    from .ranks import cd_diagram, rank_methods
    from .tables import experiment_labels

    records, _ = _records(results_dir)
    catalogue = Catalogue.from_plugins(get_plugins(), sorted(set(experiment_labels(records))))
    try:
        result = rank_methods(records, metric, rule, catalogue)
    except ValueError as error:
        raise UserMistake(f"--results-dir {results_dir}: {error}") from None
    if result.n_datasets < 2:
        raise UserMistake(
            f"--results-dir {results_dir}: ranks need at least two datasets with the same methods; "
            f"found {result.n_datasets} ({', '.join(result.ranks.index)})"
        )
    click.echo(result.table().to_markdown(disable_numparse=True))
    click.echo("\n" + result.summary())
    if out:
        paths = cd_diagram(result, Path(out))
        err.print(f"wrote {', '.join(map(str, paths))}")


@main.group()
def export():
    """Send the results to other tools."""


@export.command("mlflow")
@click.option("--results-dir", default="results", show_default=True, type=click.Path(file_okay=False))
@click.option(
    "--tracking-uri",
    required=True,
    help="Where MLflow keeps its runs: a folder (file:///path/mlruns), sqlite:///path/mlflow.db or a server URL.",
)
def export_mlflow(results_dir, tracking_uri):
    """Each finished cell as one MLflow run, an experiment per dataset; exporting again adds nothing."""
    try:
        import mlflow  # noqa: F401

        from .export_mlflow import export as to_mlflow
    except ImportError:
        raise UserMistake('export mlflow needs MLflow: pip install "benchbox-ad[mlflow]"') from None
    from .tables import name_rows

    records = name_rows(_records(results_dir)[0])
    created, skipped = to_mlflow(records, tracking_uri)
    err.print(f"exported {created} run{'s' if created != 1 else ''} to {tracking_uri}; {skipped} already there")


@main.command()
def published():
    """The published tables that --published can add, with their sources and protocols."""
    plugins = get_plugins()
    for name in plugins.published.names():
        table = plugins.published.get(name)
        click.echo(f"{name}: {table.source}\n  protocol: {table.protocol}")
        click.echo(f"  datasets (theirs -> benchbox's): {', '.join(f'{a} -> {b}' for a, b in table.datasets.items())}")


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
    """Write the paper's tables and figures for every dataset in the results directory:
    index.md, and index.html with sortable tables and an image explorer per dataset."""
    from . import report as report_module

    _records(results_dir)  # as `table`: a missing folder or nothing to report is an error
    out = out or str(Path(results_dir) / "report")
    written = report_module.build(results_dir, out, tuple(tsne) if tsne else None)
    err.print(
        f"wrote {len(written)} file{'s' if len(written) != 1 else ''}; open {Path(out) / 'index.html'} "
        f"in a browser (tables, figures, image explorer) or read {Path(out) / 'index.md'}"
    )


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
