"""Progress on stderr (grid → run → epoch), so stdout stays pipeable."""

from __future__ import annotations

import os
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class NullProgress:
    def start_grid(self, total, skipped): ...
    def start_cell(self, cell): ...
    def epoch(self, cell, epoch, epochs, losses): ...
    def end_cell(self, cell, record): ...
    def end_grid(self): ...


def _name(cell) -> str:
    """The cell as the progress shows it, its label's brackets kept (``salad[ssl=none]`` is no markup)."""
    return escape(f"{cell.label} · {cell.dataset} · seed {cell.seed}")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class RichProgress(NullProgress):
    """A bar per running cell on a terminal; elsewhere (a log, CI), where no bar is drawn, a
    line per cell at most every ``heartbeat_s`` seconds (``BENCHBOX_HEARTBEAT_S``, default 60)
    with its epoch, losses, time so far and the time left at that pace."""

    def __init__(self, console: Console | None = None, heartbeat_s: float | None = None):
        self.console = console or Console(stderr=True)
        if heartbeat_s is None:
            heartbeat_s = float(os.environ.get("BENCHBOX_HEARTBEAT_S", 60))
        self.heartbeat_s = None if self.console.is_terminal else heartbeat_s
        self.started: dict[str, tuple[float, float]] = {}  # key -> (start, last line)
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),  # the grid's, at the pace of its finished cells
            TextColumn("{task.fields[info]}"),
            console=self.console,
            transient=False,
        )
        self.grid_task = None
        self.run_tasks: dict[str, int] = {}  # several at once under Ray

    def start_grid(self, total, skipped):
        self.bar.start()
        self.grid_task = self.bar.add_task(
            "grid", total=total, completed=skipped, info=f"{skipped} already done" if skipped else ""
        )

    def start_cell(self, cell):
        # The count comes from the method's first epoch: f-AnoGAN makes more passes than
        # --epochs (its phases), so "0/5" would understate what runs.
        self.run_tasks[cell.key] = self.bar.add_task(f"  {_name(cell)}", total=None, info="")
        self.started[cell.key] = (time.monotonic(), time.monotonic())

    def epoch(self, cell, epoch, epochs, losses):
        info = " ".join(f"{k}={v:.4g}" for k, v in list(losses.items())[:4])
        asked = cell.method_params.get("epochs")
        if asked and epochs != asked:  # f-AnoGAN: its WGAN phase's passes count too
            info = f"({epochs} passes in all for {asked} epochs: the method's phases, see its README) {info}"
        self.bar.update(self.run_tasks[cell.key], completed=epoch, total=epochs, info=info)
        if self.heartbeat_s is not None and cell.key in self.started:
            start, last = self.started[cell.key]
            now = time.monotonic()
            if now - last >= self.heartbeat_s:
                self.started[cell.key] = (start, now)
                left = (now - start) / epoch * (epochs - epoch) if epoch else 0
                self.console.print(
                    f"{_name(cell)}: epoch {epoch}/{epochs} {escape(info)} · "
                    f"{_duration(now - start)} so far, about {_duration(left)} left",
                    highlight=False,
                )

    def end_cell(self, cell, record):
        self.started.pop(cell.key, None)
        self.bar.remove_task(self.run_tasks.pop(cell.key))
        self.bar.advance(self.grid_task)
        if record is None:
            self.console.print(
                f"{_name(cell)}: skipped, another running benchbox holds it",
                highlight=False,
            )
            return
        status = record["status"]
        if status == "ok":
            message = f"AUROC {record['metrics']['auroc']:.4f}"
        else:
            message = f"[red]{status}[/red]: {escape(str(record.get('error', '')))}"
        where = f" on {record['worker']}" if record.get("worker") else ""
        self.console.print(f"{_name(cell)}{escape(where)}: {message}", highlight=False)

    def end_grid(self):
        self.bar.stop()
