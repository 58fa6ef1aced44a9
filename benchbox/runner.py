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

    def records(self, store: ResultStore, plugins: Plugins) -> list[dict]:
        """The grid's records as its table shows them: each run or skipped cell's, and for a
        cell another process held, its record if that process finished it meanwhile, else a
        ``held`` row (the table says what is missing, and why)."""
        records = [r for _, r in self.done + self.failed] + [self.finished[c.key] for c in self.skipped]
        for cell in self.busy:
            record = store.finished(store.path(cell))
            records.append(record or {**base_record(cell, plugins.methods.provider(cell.method)), "status": "held"})
        return records


def pending(cells: list[Cell], store: ResultStore, force: bool = False) -> tuple[list[Cell], dict[str, dict]]:
    """The cells to run, and the stored record of each finished one (read once, here; a cell is
    read again only under its lock, in case another process finished it meanwhile)."""
    todo, finished = [], {}
    for cell in cells:
        record = None if force else store.finished(store.path(cell))
        if record is not None:
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
) -> GridSummary:
    """Run every cell whose result is not already in ``store`` (or all with ``force``).
    ``checkpoint_every``: how often resumable methods save their training state; ``before``:
    called with the cells to run and the stored records of those skipped, before any runs
    (the driver's checks of the data, its leak audit)."""
    from .progress import NullProgress

    cadence = Cadence.parse(checkpoint_every)  # a bad value is refused before anything trains

    progress = progress or NullProgress()
    todo, finished = pending(cells, store, force)
    summary = GridSummary(skipped=[c for c in cells if c.key in finished], finished=finished)
    if before is not None:
        before(todo, finished)
    progress.start_grid(len(cells), len(summary.skipped))

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
