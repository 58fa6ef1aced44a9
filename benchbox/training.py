"""A lean training loop for PyTorch methods: data in memory as uint8, batches scaled on device.

Subclasses implement :meth:`TorchMethod.build`, :meth:`TorchMethod.train_step` and
:meth:`TorchMethod.score_batch`; the loop, seeding, LR schedule, eval-mode scoring and
divergence checks live here once.
"""

from __future__ import annotations

import math
import random
from typing import Callable

import numpy as np
import torch
from torch import nn

from .contracts import ImageSet, Method
from .errors import Diverged, ParamError


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
    }
    choices = {"lr_schedule": ("paper", "constant")}
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

    # -- the loop ----------------------------------------------------------------------
    def _check(self) -> None:
        for key in ("epochs", "batch_size"):
            if getattr(self, key) < 1:
                raise ParamError(f"{self.name}: {key} must be at least 1, got {getattr(self, key)}")
        if not self.lr > 0:
            raise ParamError(f"{self.name}: lr must be positive, got {self.lr}")

    def fit(self, train: ImageSet, *, on_epoch=None):
        self._check()
        seed_everything(self.seed)
        self.device_ = resolve_device(self.device)
        self.image_size_ = int(train.images.shape[-1])
        self.nets_ = nn.ModuleDict()
        self.optimizers_: list[torch.optim.Optimizer] = []
        self.build(self.image_size_)
        self.nets_.to(self.device_)
        data = train.images.to(self.device_)
        self.order_ = torch.Generator().manual_seed(self.seed)
        phases = self.phases()
        for index, phase in enumerate(phases):
            self.phase_ = phase
            self.start_phase(phase)
            self._run_epochs(data, on_epoch, offset=index * self.epochs, total=len(phases) * self.epochs)
        return self

    def phases(self) -> list:
        """Training phases run one after another, ``epochs`` each (f-AnoGAN has two)."""
        return [None]

    def start_phase(self, phase) -> None:
        """Called before each phase: e.g. freeze networks, replace ``self.optimizers_``."""

    def _run_epochs(self, data: torch.Tensor, on_epoch, offset: int, total: int) -> None:
        factor = paper_lr_lambda(self.epochs) if self.lr_schedule == "paper" else (lambda e: 1.0)
        schedulers = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in self.optimizers_]
        n = len(data)
        for epoch in range(1, self.epochs + 1):
            self.nets_.train()
            sums: dict[str, torch.Tensor] = {}
            steps = 0
            perm = torch.randperm(n, generator=self.order_).to(self.device_)
            for start in range(0, n, self.batch_size):
                x = to_unit(data[perm[start:start + self.batch_size]])
                for key, value in self.train_step(x).items():
                    sums[key] = sums[key] + value if key in sums else value.clone()
                steps += 1
            for scheduler in schedulers:
                scheduler.step()
            # One host sync per epoch: the sums are NaN/inf iff some step was.
            losses = {k: float(v) / steps for k, v in sums.items()}
            for key, value in losses.items():
                if not math.isfinite(value):
                    raise Diverged(offset + epoch, key)
            if on_epoch is not None:
                on_epoch(offset + epoch, total, losses)

    @torch.inference_mode()
    def score(self, images: torch.Tensor) -> np.ndarray:
        self.nets_.eval()
        out = []
        for start in range(0, len(images), self.score_batch_size):
            x = to_unit(images[start:start + self.score_batch_size].to(self.device_))
            out.append(self.score_batch(x).float())
        return torch.cat(out).cpu().numpy().astype(np.float64)

    def adam(self, *modules: nn.Module, betas=(0.5, 0.999), lr: float | None = None) -> torch.optim.Adam:
        """An Adam optimiser over ``modules``, registered for the LR schedule."""
        parameters = [p for m in modules for p in m.parameters()]
        optimizer = torch.optim.Adam(parameters, lr=lr or self.lr, betas=betas)
        self.optimizers_.append(optimizer)
        return optimizer
