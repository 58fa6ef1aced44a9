"""Where cells run. An executor has one method,

    run(cells, plugins, store, *, force, checkpoint_every, on_start, on_epoch, on_done)

which runs each cell through :func:`benchbox.execute.run_cell_locked` (or records why it could
not; ``checkpoint_every`` is a :class:`~benchbox.checkpoints.Cadence`) and reports ``on_start(cell)``, ``on_epoch(cell, epoch, epochs, losses)`` and
``on_done(cell, record or None)``. Here: :class:`LocalExecutor` (this process); also
:class:`benchbox.pool_executor.PoolExecutor` (``--jobs``) and
:class:`benchbox.ray_executor.RayExecutor` (``--executor ray``).
"""

from __future__ import annotations

from typing import Protocol

from .checkpoints import Cadence
from .execute import DataCache, run_cell_locked
from .plan import Cell
from .plugins import Plugins
from .store import ResultStore


class Executor(Protocol):
    def run(self, cells, plugins, store, *, force, checkpoint_every, on_start, on_epoch, on_done) -> None: ...


class LocalExecutor:
    """Runs cells one after another in this process, with the splits of ``data`` (the driver's
    cache, which its leak audit loaded already) or a cache of its own."""

    def __init__(self, data: DataCache | None = None):
        self.data = data

    def run(
        self,
        cells: list[Cell],
        plugins: Plugins,
        store: ResultStore,
        *,
        force: bool,
        checkpoint_every: Cadence,
        on_start,
        on_epoch,
        on_done,
    ) -> None:
        data = self.data or DataCache(plugins)
        for cell in cells:
            on_start(cell)
            record = run_cell_locked(
                cell,
                plugins,
                data,
                store,
                force=force,
                checkpoint_every=checkpoint_every,
                on_epoch=lambda *a, c=cell: on_epoch(c, *a),
            )
            on_done(cell, record)
