"""A lean training loop for PyTorch methods: data in memory as uint8, batches scaled on device.

Subclasses implement :meth:`TorchMethod.build`, :meth:`TorchMethod.train_step` and
:meth:`TorchMethod.score_batch`; the loop, seeding, LR schedule, eval-mode scoring and
divergence checks live here once.
"""

from __future__ import annotations

import math
import os
import random
import re
import signal
import threading
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from .contracts import ImageSet, Method
from .errors import Diverged, ParamError


class Interrupted(KeyboardInterrupt):
    """Training stopped on SIGINT/SIGTERM after saving its state; re-running resumes it."""


class _StopRequests:
    """While active, SIGINT and SIGTERM only set ``requested``; the loop saves and stops at
    the end of the current step. A second SIGINT interrupts at once."""

    def __init__(self):
        self.requested = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1] (paper IV-B), on whatever device ``images`` is."""
    return images.float().div_(127.5).sub_(1.0)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ParamError(f"device {name!r} requested but CUDA is not available here; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ParamError(f"unknown device {name!r}; use cpu, cuda or auto") from None


_SECONDS = {"s": 1, "m": 60, "h": 3600}


def checkpoint_interval(every: int | str) -> tuple[str, float]:
    """``--checkpoint-every``: N epochs (``5``), or a wall-clock duration (``90s``, ``10m``,
    ``1h``) for epochs too short to be worth saving each time. -> ("epochs" | "seconds", n)."""
    text = str(every).strip().lower()
    unit = _SECONDS.get(text[-1:])
    try:
        kind, value = ("seconds", float(text[:-1]) * unit) if unit else ("epochs", int(text))
    except ValueError:
        kind, value = "", 0
    if not value > 0:
        raise ParamError(f"--checkpoint-every: expected a positive number of epochs or a duration "
                         f"such as 90s, 10m or 1h, got {every!r}")
    return kind, value


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def paper_lr_lambda(epochs: int) -> Callable[[int], float]:
    """Constant LR for the first half of the epochs, then linear decay towards zero (IV-B:
    100 constant + 100 decaying for 200 epochs; the schedule scales with ``epochs``)."""
    constant = epochs // 2
    decay = epochs - constant

    def factor(epoch: int) -> float:
        if epoch < constant:
            return 1.0
        return max(0.0, 1.0 - (epoch - constant + 1) / (decay + 1))

    return factor


class TorchMethod(Method):
    """Base for PyTorch methods trained with mini-batches of images in [-1, 1]."""

    params = {
        "epochs": 15,
        "batch_size": 64,
        "lr": 2e-4,
        "lr_schedule": "paper",
        "device": "cpu",
        # How it runs (see EXECUTION_PARAMS in params.py): bf16 autocast for training (losses
        # that need fp32, like SSIM, opt out; scoring stays fp32, since bf16's 8 bits of
        # mantissa would tie scores), NHWC tensors, torch.compile.
        "precision": "fp32",
        "channels_last": False,
        "compile": False,
    }
    choices = {"lr_schedule": ("paper", "constant"), "precision": ("fp32", "bf16")}
    #: Images per scoring batch (memory only, scores do not depend on it).
    score_batch_size = 256

    # -- to implement -----------------------------------------------------------------
    def build(self, image_size: int) -> None:
        """Create networks in ``self.nets_`` (an ``nn.ModuleDict``) and ``self.optimizers_``."""
        raise NotImplementedError

    def train_step(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimisation step on a batch in [-1, 1]; returns the losses (detached)."""
        raise NotImplementedError

    def score_batch(self, x: torch.Tensor) -> torch.Tensor:
        """Scores (n,) for a batch in [-1, 1]; called in eval mode without gradients."""
        raise NotImplementedError

    def compile_networks(self) -> None:
        """For ``compile=True``: compile every network's forward in place (state-dict keys
        stay as they are, so checkpoints do not depend on it). Override to leave some out."""
        for net in self.nets_.values():
            for module in (net, *net.children()):
                module.compile()

    # -- the loop ----------------------------------------------------------------------
    def _check(self) -> None:
        for key in ("epochs", "batch_size"):
            if getattr(self, key) < 1:
                raise ParamError(f"{self.name}: {key} must be at least 1, got {getattr(self, key)}")
        if not self.lr > 0:
            raise ParamError(f"{self.name}: lr must be positive, got {self.lr}")

    def setup(self, image_size: int) -> None:
        """Seed, then build the networks and optimisers on the device, as ``fit`` does first
        (the benchmark harness calls it alone)."""
        self._check()
        seed_everything(self.seed)
        self.device_ = resolve_device(self.device)
        self.image_size_ = image_size
        self.nets_ = nn.ModuleDict()
        self.optimizers_: list[torch.optim.Optimizer] = []
        self.build(image_size)
        self.nets_.to(self.device_)
        if self.channels_last:
            self.nets_.to(memory_format=torch.channels_last)
        if self.compile:
            self.compile_networks()
        self.phase_ = self.phases()[0]

    def fit(self, train: ImageSet, *, on_epoch=None):
        self.setup(int(train.images.shape[-1]))
        self._last_checkpoint = time.monotonic()
        data = train.images.to(self.device_)
        self.order_ = torch.Generator().manual_seed(self.seed)
        resume = self._read_checkpoint()
        phases = self.phases()
        with _StopRequests() as stop:
            for index, phase in enumerate(phases):
                self.phase_ = phase
                self.start_phase(phase)
                if resume is not None and index < resume["phase"]:
                    continue  # finished before the checkpoint: only its set-up is replayed
                self._run_epochs(data, on_epoch, index, stop,
                                 resume if resume is not None and index == resume["phase"] else None)
        return self

    def phases(self) -> list:
        """Training phases run one after another (f-AnoGAN has two)."""
        return [None]

    def phase_epochs(self, phase) -> int:
        """Epochs of one phase, each with its own LR schedule: ``epochs`` unless a method
        counts its training otherwise (f-AnoGAN's WGAN counts generator iterations)."""
        return self.epochs

    def start_phase(self, phase) -> None:
        """Called before each phase: e.g. freeze networks, replace ``self.optimizers_``."""

    def _run_epochs(self, data: torch.Tensor, on_epoch, phase: int, stop, resume) -> None:
        counts = [self.phase_epochs(p) for p in self.phases()]
        epochs = counts[phase]
        factor = paper_lr_lambda(epochs) if self.lr_schedule == "paper" else (lambda e: 1.0)
        schedulers = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in self.optimizers_]
        n = len(data)
        first_epoch, first_batch, perm, sums = 1, 0, None, {}
        if resume is not None:
            first_epoch, first_batch, perm, sums = self._restore(resume, schedulers)
        offset, total = sum(counts[:phase]), sum(counts)
        for epoch in range(first_epoch, epochs + 1):
            self.nets_.train()
            if perm is None:
                perm = torch.randperm(n, generator=self.order_).to(self.device_)
            starts = list(range(0, n, self.batch_size))
            for batch in range(first_batch, len(starts)):
                x = self._input(data[perm[starts[batch]:starts[batch] + self.batch_size]])
                with self._autocast():
                    step_losses = self.train_step(x)
                for key, value in step_losses.items():
                    value = value.float()  # bf16 losses would lose digits when summed
                    sums[key] = sums[key] + value if key in sums else value.clone()
                if stop.requested:  # SIGINT/SIGTERM: save where we are, then stop
                    self._write_checkpoint(phase, epoch, batch + 1, perm, sums, schedulers)
                    raise Interrupted(f"{stop.requested}: training state saved at epoch {offset + epoch}")
            first_batch = 0
            with warnings.catch_warnings():
                # An optimiser may not have stepped yet (f-AnoGAN's generator steps once per
                # n_critic batches): the schedule still follows the epochs, as intended.
                warnings.filterwarnings("ignore", message=re.escape("Detected call of `lr_scheduler.step()`"))
                for scheduler in schedulers:
                    scheduler.step()
            # One host sync per epoch: the sums are NaN/inf iff some step was.
            losses = {k: float(v) / len(starts) for k, v in sums.items()}
            for key, value in losses.items():
                if not math.isfinite(value):
                    raise Diverged(offset + epoch, key)
            perm, sums = None, {}
            if self.checkpoint_path and epoch < epochs and self._checkpoint_due(epoch):
                self._write_checkpoint(phase, epoch + 1, 0, None, {}, schedulers)
            if on_epoch is not None:
                on_epoch(offset + epoch, total, losses)

    def _input(self, images: torch.Tensor) -> torch.Tensor:
        """A uint8 batch already on the device -> the networks' input, in [-1, 1]."""
        x = to_unit(images)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _autocast(self):
        return torch.autocast(self.device_.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    # -- checkpoints -------------------------------------------------------------------
    #: Set by the runner: where to keep the training state, and how often (see
    #: :func:`checkpoint_interval`: N epochs, or a duration such as "10m").
    checkpoint_path: str | None = None
    checkpoint_every: int | str = 1

    def _checkpoint_due(self, epoch: int) -> bool:
        kind, value = checkpoint_interval(self.checkpoint_every)
        if kind == "epochs":
            return epoch % value == 0
        return time.monotonic() - self._last_checkpoint >= value
    #: Plain attributes (ending in _) that belong to the training state (e.g. step counters).
    state_attributes: tuple[str, ...] = ()

    def _write_checkpoint(self, phase, epoch, batch, perm, sums, schedulers) -> None:
        """Everything needed to continue bit-identically, written atomically."""
        if not self.checkpoint_path:
            return
        state = {
            "params": self.get_params(), "phase": phase, "epoch": epoch, "batch": batch,
            "perm": None if perm is None else perm.cpu(),
            "sums": {k: v.cpu() for k, v in sums.items()},
            "nets": self.nets_.state_dict(),
            "optimizers": [o.state_dict() for o in self.optimizers_],
            "schedulers": [s.state_dict() for s in schedulers],
            "attributes": {k: getattr(self, k) for k in self.state_attributes},
            "rng": {"torch": torch.get_rng_state(), "order": self.order_.get_state(),
                    "numpy": np.random.get_state(), "python": random.getstate(),
                    "cuda": torch.cuda.get_rng_state_all() if self.device_.type == "cuda" else None},
        }
        self._last_checkpoint = time.monotonic()
        path = Path(self.checkpoint_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)

    def _read_checkpoint(self) -> dict | None:
        if not self.checkpoint_path or not Path(self.checkpoint_path).exists():
            return None
        try:
            state = torch.load(self.checkpoint_path, map_location=self.device_, weights_only=False)
        except Exception as error:  # a damaged checkpoint only costs the time it saved
            warnings.warn(f"ignoring unreadable checkpoint {self.checkpoint_path}: {error}", stacklevel=2)
            return None
        if state.get("params") != self.get_params():
            return None  # another experiment's state: start afresh
        self.nets_.load_state_dict(state["nets"])
        return state

    def _restore(self, state, schedulers):
        for optimizer, saved in zip(self.optimizers_, state["optimizers"]):
            optimizer.load_state_dict(saved)
        for scheduler, saved in zip(schedulers, state["schedulers"]):
            scheduler.load_state_dict(saved)
        for key, value in state["attributes"].items():
            setattr(self, key, value)
        rng = state["rng"]
        torch.set_rng_state(rng["torch"].cpu())
        self.order_.set_state(rng["order"].cpu())
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        if rng["cuda"] is not None:
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
        perm = None if state["perm"] is None else state["perm"].to(self.device_)
        sums = {k: v.to(self.device_) for k, v in state["sums"].items()}
        return state["epoch"], state["batch"], perm, sums

    @torch.inference_mode()
    def score(self, images: torch.Tensor) -> np.ndarray:
        self.nets_.eval()
        out = []
        for start in range(0, len(images), self.score_batch_size):
            x = self._input(images[start:start + self.score_batch_size].to(self.device_))
            out.append(self.score_batch(x).float())
        return torch.cat(out).cpu().numpy().astype(np.float64)

    @torch.inference_mode()
    def artifacts(self, test: ImageSet, per_class: int = 2, max_latent: int = 500) -> dict:
        """Small arrays for reports: reconstructions of ``per_class`` test images of each class
        (where the method reconstructs) and latent features of normal test images (where it
        embeds), so figures need no retraining."""
        self.nets_.eval()
        out: dict[str, np.ndarray] = {}
        classes = np.asarray(test.classes, dtype=object)
        if hasattr(self, "reconstruct"):
            label_of = dict(zip(test.classes, test.labels.tolist()))
            order = sorted(label_of, key=lambda c: (label_of[c], c))  # the normal class first
            index = np.concatenate([np.nonzero(classes == c)[0][:per_class] for c in order])
            x = self._input(test.images[torch.from_numpy(index)].to(self.device_))
            recon = ((self.reconstruct(x).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
            out.update(recon_index=index, originals=test.images[torch.from_numpy(index)].numpy(),
                       reconstructions=recon.cpu().numpy())
        if hasattr(self, "embed"):
            index = np.nonzero(test.labels == 0)[0][:max_latent]
            x = self._input(test.images[torch.from_numpy(index)].to(self.device_))
            out.update(latent_index=index, latent=self.embed(x).float().cpu().numpy())
        return out

    def adam(self, *modules: nn.Module, betas=(0.5, 0.999), lr: float | None = None) -> torch.optim.Adam:
        """An Adam optimiser over ``modules``, registered for the LR schedule."""
        # Modules may share layers (SALAD's M'_D with M_D): each parameter once.
        parameters = list({id(p): p for m in modules for p in m.parameters()}.values())
        optimizer = torch.optim.Adam(parameters, lr=lr or self.lr, betas=betas)
        self.optimizers_.append(optimizer)
        return optimizer
