"""Run grid cells as Ray tasks: one cell per task, same result store, same keys and locks.

Workers read the dataset from a path they all see and use the same on-disk image cache;
nothing large is pickled into tasks (a task carries only its Cell). Each worker writes its
cell's result, artifacts, checkpoint and log into the shared results directory, so a
killed driver loses nothing finished, and a re-run skips it.
"""

from __future__ import annotations

import traceback

from .errors import BenchboxError


def _ray():
    try:
        import ray
    except ImportError:
        raise BenchboxError('--executor ray needs Ray: pip install "benchbox-ad[ray]"') from None
    return ray


def _run_on_worker(cell, results_root: str, force: bool, checkpoint_every, by_hand=()):
    """Executed by a Ray worker: the same entry point as a ``--jobs`` worker (those plugins
    registered by hand are imported by module name: put them on the workers' path)."""
    import socket

    from .execute import run_in_worker

    record = run_in_worker(cell, results_root, force=force, checkpoint_every=checkpoint_every, by_hand=by_hand)
    return record, socket.gethostname()


class RayExecutor:
    """``--executor ray``: each cell a Ray task with ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs;
    a task whose worker dies is retried ``max_retries`` times, then recorded as failed."""

    def __init__(
        self,
        address: str | None = None,
        cpus_per_run: float = 1,
        gpus_per_run: float = 0,
        max_retries: int = 2,
        init_kwargs: dict | None = None,
    ):
        self.address = address
        self.cpus_per_run = cpus_per_run
        self.gpus_per_run = gpus_per_run
        self.max_retries = max_retries
        self.init_kwargs = init_kwargs or {}

    def run(self, cells, plugins, store, *, force, checkpoint_every, on_start, on_epoch, on_done) -> None:
        ray = _ray()
        if not ray.is_initialized():
            ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False, **self.init_kwargs)
        task = ray.remote(
            num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run, max_retries=self.max_retries, retry_exceptions=False
        )(_run_on_worker)
        root = str(store.root.resolve())
        pending = {}
        by_hand = plugins.registered_by_hand()
        for cell in cells:
            pending[task.remote(cell, root, force, checkpoint_every, by_hand)] = cell
            on_start(cell)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            cell = pending.pop(done[0])
            try:
                record, node = ray.get(done[0])
                if record is not None:
                    record.setdefault("worker", node)
            except ray.exceptions.RayError as error:  # the worker died on every try
                record = self._record_failure(cell, plugins, store, error)
            on_done(cell, record)

    def _record_failure(self, cell, plugins, store, error) -> dict:
        from .execute import failure_record

        first_line = str(error).splitlines()[0] if str(error) else ""
        message = f"worker failed {self.max_retries + 1} times: {type(error).__name__}: {first_line}"
        record = failure_record(cell, plugins.methods.provider(cell.method), message, traceback.format_exc())
        store.write(store.path(cell), record)
        return record
