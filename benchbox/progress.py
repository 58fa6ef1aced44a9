"""Progress on stderr (grid → run → epoch), so stdout stays pipeable."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class NullProgress:
    def start_grid(self, total, skipped): ...
    def start_cell(self, cell): ...
    def epoch(self, cell, epoch, epochs, losses): ...
    def end_cell(self, cell, record): ...
    def end_grid(self): ...


class RichProgress(NullProgress):
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
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
        epochs = cell.method_params.get("epochs") or 1
        self.run_tasks[cell.key] = self.bar.add_task(
            f"  {cell.label} · {cell.dataset} · seed {cell.seed}", total=epochs, info=""
        )

    def epoch(self, cell, epoch, epochs, losses):
        info = " ".join(f"{k}={v:.4g}" for k, v in list(losses.items())[:4])
        asked = cell.method_params.get("epochs")
        if asked and epochs != asked:  # f-AnoGAN: its WGAN phase's passes count too
            info = f"({epochs} passes in all for {asked} epochs: the method's phases, see its README) {info}"
        self.bar.update(self.run_tasks[cell.key], completed=epoch, total=epochs, info=info)

    def end_cell(self, cell, record):
        self.bar.remove_task(self.run_tasks.pop(cell.key))
        self.bar.advance(self.grid_task)
        if record is None:
            self.console.print(
                f"{cell.label} · {cell.dataset} · seed {cell.seed}: skipped, another running benchbox holds it",
                highlight=False,
            )
            return
        status = record["status"]
        if status == "ok":
            message = f"AUROC {record['metrics']['auroc']:.4f}"
        else:
            message = f"[red]{status}[/red]: {record.get('error', '')}"
        where = f" on {record['worker']}" if record.get("worker") else ""
        self.console.print(f"{cell.label} · {cell.dataset} · seed {cell.seed}{where}: {message}", highlight=False)

    def end_grid(self):
        self.bar.stop()
