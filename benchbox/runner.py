"""Running a planned grid: skip what is finished, hand the rest to an executor, count what
happened. Planning is in :mod:`benchbox.plan`, one cell's execution in :mod:`benchbox.execute`,
where cells run in :mod:`benchbox.executors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .checkpoints import Cadence
from .executors import Executor, LocalExecutor
from .plan import Cell
from .plugins import Plugins
from .store import ResultStore


@dataclass
class GridSummary:
    done: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    busy: list = field(default_factory=list)  # held by another live process


def run_grid(
    cells: list[Cell],
    plugins: Plugins,
    store: ResultStore,
    *,
    force: bool = False,
    executor: Executor | None = None,
    progress=None,
    checkpoint_every: int | str | Cadence = 1,
) -> GridSummary:
    """Run every cell whose result is not already in ``store`` (or all with ``force``).
    ``checkpoint_every``: how often resumable methods save their training state."""
    from .progress import NullProgress

    cadence = Cadence.parse(checkpoint_every)  # a bad value is refused before anything trains

    progress = progress or NullProgress()
    summary = GridSummary()
    todo = []
    for cell in cells:
        if not force and store.status(store.path(cell)) == "ok":
            summary.skipped.append(cell)
        else:
            todo.append(cell)
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
