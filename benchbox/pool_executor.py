"""``--jobs N``: several cells at once on this machine, each in a worker process of its own.

One GPU runs a small model's cell at a fraction of its capacity, and a 16-core machine runs
one CPU cell on a few cores: N cells at once use the rest. Each cell runs in a fresh process
(spawned, so every worker has its own CUDA context) through the same code path as a local
run — the same store, keys, locks, checkpoints and per-cell log — with ``threads`` CPU threads.
A worker that dies (out of memory, a crash in native code) is recorded as a failed cell and
the others go on. Ctrl-C reaches every worker (one process group): each saves its training
state, and the grid stops; finished cells are kept.

Workers load plugins as ``benchbox`` does (built-ins and entry points), and import the plugin
modules the driver registered by hand.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import sys

from .stopping import StopRequests

BUSY = 3  # exit code of a worker whose cell another live process holds
INTERRUPTED = 130


def default_threads(jobs: int) -> int:
    """The machine's cores shared evenly: more threads than cores slows every job down."""
    return max(1, (os.cpu_count() or 1) // jobs)


def stop_when_parent_dies(parent: int, poll_s: float = 1.0) -> None:
    """A worker whose driver died (``kill -9``) stops as on Ctrl-C — it saves its training state
    and exits — instead of training on, orphaned, and holding its cell's lock. Linux tells it at
    once (``PR_SET_PDEATHSIG``); elsewhere a thread notices within ``poll_s``."""
    import signal
    import threading
    import time

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch():
        while os.getppid() == parent:
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="benchbox-parent-watch").start()
    if os.getppid() != parent:  # died before the watch began
        os.kill(os.getpid(), signal.SIGTERM)


def _work(cell, results_root: str, force: bool, checkpoint_every, threads: int, progress, by_hand, parent) -> None:
    """Runs in the worker: one cell, then exit (the exit code says how it ended)."""
    from .execute import run_in_worker

    stop_when_parent_dies(parent)

    try:
        record = run_in_worker(
            cell,
            results_root,
            force=force,
            checkpoint_every=checkpoint_every,
            by_hand=by_hand,
            threads=threads,
            on_epoch=lambda *args: progress.put((cell.key, *args)),
        )
    except KeyboardInterrupt:  # Interrupted included: the state is saved
        sys.exit(INTERRUPTED)
    sys.exit(0 if record is not None else BUSY)


class PoolExecutor:
    """Runs at most ``jobs`` cells at once, each in a spawned process with ``threads`` threads."""

    def __init__(self, jobs: int, threads: int | None = None, grace_s: float = 120.0):
        if jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {jobs}")
        self.jobs = jobs
        self.threads = threads or default_threads(jobs)
        self.grace_s = grace_s  # how long an interrupted worker may take to save its state

    def run(self, cells, plugins, store, *, force, checkpoint_every, on_start, on_epoch, on_done) -> None:
        context = multiprocessing.get_context("spawn")
        progress = context.Queue()
        by_key = {cell.key: cell for cell in cells}
        waiting, running = list(cells), {}
        root = str(store.root.resolve())
        by_hand = plugins.registered_by_hand()
        try:
            with StopRequests():  # SIGTERM (a scheduler's or `timeout`'s stop) ends the grid as Ctrl-C
                while waiting or running:
                    while waiting and len(running) < self.jobs:
                        cell = waiting.pop(0)
                        worker = context.Process(
                            target=_work,
                            args=(cell, root, force, checkpoint_every, self.threads, progress, by_hand, os.getpid()),
                        )
                        worker.start()
                        running[worker] = cell
                        on_start(cell)
                    self._relay(progress, by_key, on_epoch)
                    for worker in [w for w in running if not w.is_alive()]:
                        worker.join()
                        cell = running.pop(worker)
                        self._relay(progress, by_key, on_epoch, wait=False)
                        on_done(cell, self._outcome(cell, worker.exitcode, plugins, store))
        except KeyboardInterrupt:
            for worker in running:  # they were interrupted too: let them save, then stop them
                worker.join(self.grace_s)
                if worker.is_alive():
                    worker.terminate()
            raise
        finally:
            progress.close()

    @staticmethod
    def _relay(progress, by_key, on_epoch, wait: bool = True) -> None:
        """Pass the workers' epoch reports on to the progress display."""
        try:
            item = progress.get(timeout=0.2) if wait else progress.get_nowait()
            while True:
                key, *args = item
                on_epoch(by_key[key], *args)
                item = progress.get_nowait()
        except queue_module.Empty:
            pass

    @staticmethod
    def _outcome(cell, exitcode: int, plugins, store) -> dict | None:
        from .execute import failure_record

        path = store.path(cell)
        if exitcode == BUSY:
            return None
        if exitcode == 0:
            return store.read(path)
        if exitcode == INTERRUPTED:
            raise KeyboardInterrupt(f"a worker was interrupted in {cell.label} · {cell.dataset} · seed {cell.seed}")
        cause = f"killed by signal {-exitcode}" if exitcode < 0 else f"exit code {exitcode}"
        record = failure_record(cell, plugins.methods.provider(cell.method), f"worker process died ({cause})")
        store.write(path, record)
        return record
