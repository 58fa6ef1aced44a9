"""Running a planned grid: skip what is finished, hand the rest to an executor, count what
happened. Planning is in :mod:`benchbox.plan`, one cell's execution in :mod:`benchbox.execute`,
where cells run in :mod:`benchbox.executors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .checkpoints import Cadence
from .execute import base_record
from .executors import Executor, LocalExecutor
from .plan import Cell
from .plugins import Plugins
from .store import ResultStore


@dataclass
class GridSummary:
    done: list = field(default_factory=list)  # (cell, record) pairs
    skipped: list = field(default_factory=list)  # cells finished before this run
    failed: list = field(default_factory=list)  # (cell, record) pairs
    busy: list = field(default_factory=list)  # held by another live process
    finished: dict = field(default_factory=dict)  # key -> the stored record of each skipped cell
    derived: list = field(default_factory=list)  # (cell, record): leaks dropped from a kept result

    def records(self, store: ResultStore, plugins: Plugins) -> list[dict]:
        """The grid's records as its table shows them: each run or skipped cell's, and for a
        cell another process held, its record if that process finished it meanwhile, else a
        ``held`` row (the table says what is missing, and why)."""
        records = [r for _, r in self.done + self.derived + self.failed] + [self.finished[c.key] for c in self.skipped]
        for cell in self.busy:
            record = store.finished(store.path(cell))
            records.append(record or {**base_record(cell, plugins.methods.provider(cell.method)), "status": "held"})
        return records


def pending(
    cells: list[Cell], store: ResultStore, force: bool = False, rename: bool = False
) -> tuple[list[Cell], dict[str, dict]]:
    """The cells to run, and the stored record of each finished one (read once, here; a cell is
    read again only under its lock, in case another process finished it meanwhile). ``rename``:
    store the cell's dataset name in a finished record that has another (or none)."""
    todo, finished = [], {}
    for cell in cells:
        path = store.path(cell)
        record = None if force else store.finished(path)
        if record is not None:
            if rename and cell.dataset_name and record.get("dataset_name") != cell.dataset_name:
                # The same data under a new name (or a record made before names): renamed, not rerun.
                record = {**record, "dataset_name": cell.dataset_name}
                store.write(path, record)
            finished[cell.key] = record
        else:
            todo.append(cell)
    return todo, finished


def run_grid(
    cells: list[Cell],
    plugins: Plugins,
    store: ResultStore,
    *,
    force: bool = False,
    executor: Executor | None = None,
    progress=None,
    checkpoint_every: int | str | Cadence = 1,
    before=None,
    derive: bool = True,
) -> GridSummary:
    """Run every cell whose result is not already in ``store`` (or all with ``force``).
    ``checkpoint_every``: how often resumable methods save their training state; ``before``:
    called with the cells to run and the stored records of those skipped, before any runs
    (the driver's checks of the data, its leak audit); ``derive``: make ``--leaks drop`` cells
    from their kept twins' stored results where :mod:`benchbox.derive` can, not by training."""
    from .progress import NullProgress

    cadence = Cadence.parse(checkpoint_every)  # a bad value is refused before anything trains

    progress = progress or NullProgress()
    todo, finished = pending(cells, store, force, rename=True)
    summary = GridSummary(skipped=[c for c in cells if c.key in finished], finished=finished)
    if derive and not force:
        todo = [cell for cell in todo if not _derived(cell, plugins, store, summary)]
    if before is not None:
        before(todo, finished)
    progress.start_grid(len(cells), len(summary.skipped) + len(summary.derived))

    def on_done(cell, record):
        if record is None:
            summary.busy.append(cell)
        else:
            (summary.done if record["status"] == "ok" else summary.failed).append((cell, record))
        progress.end_cell(cell, record)

    try:
        (executor or LocalExecutor()).run(
            todo,
            plugins,
            store,
            force=force,
            checkpoint_every=cadence,
            on_start=progress.start_cell,
            on_epoch=progress.epoch,
            on_done=on_done,
        )
    finally:
        progress.end_grid()
    return summary


def _derived(cell: Cell, plugins: Plugins, store: ResultStore, summary: GridSummary) -> bool:
    """Write ``cell``'s result derived from its kept twin's (:mod:`benchbox.derive`) if it has one."""
    from . import derive

    found = derive.source(cell, store)
    if found is None:
        return False
    kept_path, kept = found
    path = store.path(cell)
    with store.lock(path) as held:
        if not held:
            return False  # another run has it: left to the executor, which reports it held
        base = base_record(cell, plugins.methods.provider(cell.method))
        record, artifacts = derive.derive(base, kept, store.read_artifacts(kept_path))
        if artifacts:  # before the result, as for a trained cell
            store.write_artifacts(path, artifacts)
        store.write(path, record)
    summary.derived.append((cell, record))
    return True
