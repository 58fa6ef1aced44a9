"""Training state on disk: when a resumable method saves it (:class:`Cadence`, parsed once from
``--checkpoint-every``), where (:class:`Checkpointing`, given to ``fit`` by the runner), and the
file itself (written atomically, random-number states included, so a resumed run continues
bit-identically)."""

from __future__ import annotations

import os
import random
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .errors import ParamError

_SECONDS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Cadence:
    """Save every ``epochs`` epochs, or when ``seconds`` of wall clock have passed since the
    last save (for epochs too short to be worth saving each time)."""

    epochs: int | None = 1
    seconds: float | None = None

    @classmethod
    def parse(cls, every: int | str | Cadence) -> Cadence:
        """``--checkpoint-every``: N epochs (``5``) or a duration (``90s``, ``10m``, ``1h``)."""
        if isinstance(every, Cadence):
            return every
        text = str(every).strip().lower()
        unit = _SECONDS.get(text[-1:])
        try:
            value = float(text[:-1]) * unit if unit else int(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise ParamError(
                f"--checkpoint-every: expected a positive number of epochs or a duration "
                f"such as 90s, 10m or 1h, got {every!r}"
            )
        return cls(epochs=None, seconds=value) if unit else cls(epochs=value)

    def due(self, epoch: int, last_save: float) -> bool:
        """Whether to save after ``epoch``, the last save having been at ``last_save``
        (``time.monotonic()``)."""
        if self.epochs is not None:
            return epoch % self.epochs == 0
        return time.monotonic() - last_save >= self.seconds


@dataclass
class Checkpointing:
    """Where a resumable method keeps its training state, and how often it saves it."""

    path: str
    cadence: Cadence = field(default_factory=Cadence)
    last_save: float = field(default_factory=time.monotonic)

    def due(self, epoch: int) -> bool:
        return self.cadence.due(epoch, self.last_save)

    def save(self, state: dict) -> None:
        """Write ``state`` atomically (a crash mid-write leaves the previous file)."""
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
        self.last_save = time.monotonic()

    def load(self, device) -> dict | None:
        """The saved state, or None when there is none or it cannot be read (a damaged
        checkpoint only costs the time it saved)."""
        if not Path(self.path).exists():
            return None
        try:
            return torch.load(self.path, map_location=device, weights_only=False)
        except Exception as error:
            warnings.warn(f"ignoring unreadable checkpoint {self.path}: {error}", stacklevel=2)
            return None


def rng_states(order: torch.Generator, device: torch.device) -> dict:
    """Every random-number state a training step may draw from, and the batch-order generator."""
    return {
        "torch": torch.get_rng_state(),
        "order": order.get_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
        "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else None,
    }


def restore_rng_states(rng: dict, order: torch.Generator) -> None:
    torch.set_rng_state(rng["torch"].cpu())
    order.set_state(rng["order"].cpu())
    np.random.set_state(rng["numpy"])
    random.setstate(rng["python"])
    if rng["cuda"] is not None:
        torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
