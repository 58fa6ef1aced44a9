"""A lean training loop for PyTorch methods: data in memory as uint8, batches scaled on device.

Subclasses implement :meth:`TorchMethod.build`, :meth:`TorchMethod.train_step` and
:meth:`TorchMethod.score_batch`; the loop, seeding, LR schedule, eval-mode scoring and
divergence checks live here once.
"""

from __future__ import annotations

import math
import os
import platform
import random
import re
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from . import stopping
from .checkpoints import Checkpointing, restore_rng_states, rng_states
from .contracts import ImageSet, Method
from .errors import Diverged, ParamError
from .selection import Selection


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


def device_description(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    # The capability level selects torch's CPU kernels (AVX2, AVX512...): two CPUs of one model
    # name can differ in it, and so in the last digits of every deep method's scores.
    capability = torch.backends.cpu.get_cpu_capability()
    return f"cpu ({platform.machine()}, {_cpu_model()}, {torch.get_num_threads()} threads, {capability})"


def _cpu_model() -> str:
    """The CPU's model name (platform.processor() is empty on most Linux systems)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown model"


#: Set by :func:`use_deterministic_algorithms`; worker processes (`--jobs`, a local Ray
#: cluster) inherit the environment, and ``TorchMethod.setup`` honours it there.
DETERMINISTIC_ENV = "BENCHBOX_DETERMINISTIC"


def use_deterministic_algorithms() -> None:
    """Deterministic CUDA kernels (``--deterministic``) in this process and the workers it
    starts; cuBLAS needs its workspace pinned before first use."""
    os.environ[DETERMINISTIC_ENV] = "1"
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=False)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def constant_then_linear_lambda(epochs: int) -> Callable[[int], float]:
    """Constant LR for the first half of the epochs, then linear decay towards zero (the
    CycleGAN-style schedule the SALAD paper and its baselines train with; it scales with
    ``epochs``)."""
    constant = epochs // 2
    decay = epochs - constant

    def factor(epoch: int) -> float:
        if epoch < constant:
            return 1.0
        return max(0.0, 1.0 - (epoch - constant + 1) / (decay + 1))

    return factor


def cosine_lr_lambda(epochs: int) -> Callable[[int], float]:
    """One cycle of cosine decay from the full LR towards zero over ``epochs`` (Loshchilov &
    Hutter 2017, without restarts; CutPaste's schedule)."""
    return lambda epoch: 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


#: ``lr_schedule`` -> the LR factor per epoch, given the number of epochs.
LR_SCHEDULES: dict[str, Callable[[int], Callable[[int], float]]] = {
    "constant_then_linear": constant_then_linear_lambda,
    "cosine": cosine_lr_lambda,
    "constant": lambda epochs: lambda epoch: 1.0,
}


class TorchMethod(Method):
    """Base for PyTorch methods trained with mini-batches of images in [-1, 1]."""

    params = {
        "epochs": 15,
        "batch_size": 64,
        "lr": 2e-4,
        "lr_schedule": "constant_then_linear",
        "device": "cpu",
        # How it runs (see EXECUTION_PARAMS in params.py): bf16 autocast for training (losses
        # that need fp32, like SSIM, opt out; scoring stays fp32, since bf16's 8 bits of
        # mantissa would tie scores), NHWC tensors, torch.compile.
        "precision": "fp32",
        "channels_last": False,
        "compile": False,
    }
    choices = {"lr_schedule": tuple(LR_SCHEDULES), "precision": ("fp32", "bf16")}
    ranges = {"epochs": ">= 1", "batch_size": ">= 1", "lr": "> 0"}
    invalid_examples = {"device": "no-such-device"}
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
    def validate(self) -> None:
        resolve_device(self.device)  # an unknown device, or CUDA where there is none

    def setup(self, image_size: int) -> None:
        """Seed, then build the networks and optimisers on the device, as ``fit`` does first
        (the benchmark harness calls it alone)."""
        self.validate()
        seed_everything(self.seed)
        self.device_ = resolve_device(self.device)
        if os.environ.get(DETERMINISTIC_ENV) == "1":
            use_deterministic_algorithms()  # asked for in the process that started this worker
        elif self.device_.type == "cuda" and not torch.are_deterministic_algorithms_enabled():
            # Shapes are fixed within a run (one image size, one batch size and the last
            # batch): cuDNN times its algorithms once per shape and keeps the fastest.
            torch.backends.cudnn.benchmark = True
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

    def fit(
        self,
        train: ImageSet,
        *,
        on_epoch=None,
        checkpoint: Checkpointing | None = None,
        selection: Selection | None = None,
    ):
        """Train; with ``checkpoint``, resume from its saved state if there is one of these
        parameters, save on its cadence, and on a stop request save and raise
        :class:`~benchbox.stopping.Interrupted`. With ``selection``, end with the networks of
        the epoch it chose (:mod:`benchbox.selection`)."""
        self.setup(int(train.images.shape[-1]))
        data = train.images.to(self.device_)
        self.order_ = torch.Generator().manual_seed(self.seed)
        self.history_: list[dict] = []
        self.parts_: list[dict] = []
        resume = self._load(checkpoint, selection)
        if resume is not None:
            self.history_, self.parts_ = list(resume["history"]), list(resume["parts"])
            if selection is not None:
                selection.restore(resume["selection"])
        self.parts_.append({"device": device_description(str(self.device_)), "from_epoch": len(self.history_) + 1})
        if checkpoint is not None:
            checkpoint.last_save = time.monotonic()  # a duration cadence counts from here
        phases = self.phases()
        with stopping.deferred() as stop:
            for index, phase in enumerate(phases):
                self.phase_ = phase
                self.start_phase(phase)
                if resume is not None and index < resume["phase"]:
                    continue  # finished before the checkpoint: only its set-up is replayed
                self._run_epochs(
                    train,
                    data,
                    on_epoch,
                    index,
                    stop,
                    checkpoint,
                    resume if resume is not None and index == resume["phase"] else None,
                    selection if index == len(phases) - 1 else None,
                )
        if selection is not None and selection.best_state is not None:
            self.nets_.load_state_dict(selection.best_state)
        self.finish_training(train)
        return self

    def finish_training(self, train: ImageSet) -> None:
        """After the networks are trained (and before each evaluation of a selection rule):
        what scoring needs beyond them, e.g. CutPaste's density of the training features.
        Default: nothing."""

    def phases(self) -> list:
        """Training phases run one after another (f-AnoGAN has two)."""
        return [None]

    def phase_epochs(self, phase) -> int:
        """Epochs of one phase, each with its own LR schedule: ``epochs`` unless a method
        counts its training otherwise (f-AnoGAN's WGAN counts generator iterations)."""
        return self.epochs

    def start_phase(self, phase) -> None:
        """Called before each phase: e.g. freeze networks, replace ``self.optimizers_``."""

    def _run_epochs(self, train, data: torch.Tensor, on_epoch, phase: int, stop, checkpoint, resume, selection) -> None:
        counts = [self.phase_epochs(p) for p in self.phases()]
        epochs = counts[phase]
        factor = LR_SCHEDULES[self.lr_schedule](epochs)
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
                x = self._input(data[perm[starts[batch] : starts[batch] + self.batch_size]])
                with self._autocast():
                    step_losses = self.train_step(x)
                for key, value in step_losses.items():
                    value = value.float()  # bf16 losses would lose digits when summed
                    sums[key] = sums[key] + value if key in sums else value.clone()
                if stop.requested:  # SIGINT/SIGTERM: save where we are, then stop
                    saved = self._save(checkpoint, phase, epoch, batch + 1, perm, sums, schedulers, selection)
                    raise stopping.Interrupted(
                        f"{stop.requested}: training state "
                        + (f"saved at epoch {offset + epoch}" if saved else "not saved")
                    )
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
            self.history_.append({"epoch": offset + epoch, **losses})
            if selection is not None and selection.due(epoch, epochs):
                self.finish_training(train)
                selection.consider(offset + epoch, self)
            if checkpoint is not None and epoch < epochs and checkpoint.due(epoch):
                self._save(checkpoint, phase, epoch + 1, 0, None, {}, schedulers, selection)
            if on_epoch is not None:
                on_epoch(offset + epoch, total, losses)

    def _input(self, images: torch.Tensor) -> torch.Tensor:
        """A uint8 batch already on the device -> the networks' input, in [-1, 1]."""
        x = to_unit(images)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _autocast(self):
        return torch.autocast(self.device_.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    # -- checkpoints (the file and the cadence: benchbox/checkpoints.py) ------------------
    #: Declared: ``fit`` takes ``checkpoint=`` and resumes bit-identically, and takes
    #: ``selection=`` (it has epochs to choose among).
    resumable = True
    selectable = True
    #: Plain attributes (ending in _) that belong to the training state (e.g. step counters).
    state_attributes: tuple[str, ...] = ()

    def _save(self, checkpoint, phase, epoch, batch, perm, sums, schedulers, selection) -> bool:
        """Everything needed to continue bit-identically. False: nowhere to save."""
        if checkpoint is None:
            return False
        checkpoint.save(
            {
                "params": self.get_params(),
                "phase": phase,
                "epoch": epoch,
                "batch": batch,
                "perm": None if perm is None else perm.cpu(),
                "sums": {k: v.cpu() for k, v in sums.items()},
                "nets": self.nets_.state_dict(),
                "optimizers": [o.state_dict() for o in self.optimizers_],
                "schedulers": [s.state_dict() for s in schedulers],
                "attributes": {k: getattr(self, k) for k in self.state_attributes},
                "rng": rng_states(self.order_, self.device_),
                # What the cell's result needs of the epochs before a resume.
                "history": list(getattr(self, "history_", [])),
                "parts": list(getattr(self, "parts_", [])),
                "selection": None if selection is None else selection.state(),
            }
        )
        return True

    def _load(self, checkpoint, selection) -> dict | None:
        state = None if checkpoint is None else checkpoint.load(self.device_)
        if state is None or state.get("params") != self.get_params():
            return None  # nothing saved, or another experiment's state: start afresh
        if (selection is None) != (state.get("selection") is None) or (
            selection is not None and not selection.matches(state["selection"])
        ):
            return None  # saved under another checkpoint rule
        self.nets_.load_state_dict(state["nets"])
        return state

    def _restore(self, state, schedulers):
        for optimizer, saved in zip(self.optimizers_, state["optimizers"]):
            optimizer.load_state_dict(saved)
        for scheduler, saved in zip(schedulers, state["schedulers"]):
            scheduler.load_state_dict(saved)
        for key, value in state["attributes"].items():
            setattr(self, key, value)
        restore_rng_states(state["rng"], self.order_)
        perm = None if state["perm"] is None else state["perm"].to(self.device_)
        sums = {k: v.to(self.device_) for k, v in state["sums"].items()}
        return state["epoch"], state["batch"], perm, sums

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor | None:
        """Optional: the reconstruction of a batch in [-1, 1] (residual maps in the report).
        Default: None, the method does not reconstruct."""
        return None

    def embed(self, x: torch.Tensor) -> torch.Tensor | None:
        """Optional: latent features (n, d) of a batch in [-1, 1] (t-SNE in the report).
        Default: None, the method has no latent space."""
        return None

    @torch.inference_mode()
    def map_batches(self, data: ImageSet, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """``fn`` over ``data`` in eval mode without gradients, one scoring batch (in [-1, 1])
        at a time; the results concatenated, as float32."""
        self.nets_.eval()
        return torch.cat(
            [
                fn(self._input(data.images[start : start + self.score_batch_size].to(self.device_))).float()
                for start in range(0, len(data), self.score_batch_size)
            ]
        )

    def score(self, data: ImageSet) -> np.ndarray:
        return self.map_batches(data, self.score_batch).cpu().numpy().astype(np.float64)

    def map_batch(self, x: torch.Tensor) -> torch.Tensor | None:
        """Optional: anomaly maps (n, S, S) of a batch in [-1, 1]. Default: where the method
        reconstructs, the absolute residual |x − x̂| (averaged over channels), unsmoothed;
        otherwise None (no map)."""
        recon = self.reconstruct(x)
        return None if recon is None else (x - recon).abs().mean(1)

    def anomaly_maps(self, data: ImageSet) -> np.ndarray | None:
        with torch.inference_mode():
            self.nets_.eval()
            if self.map_batch(self._input(data.images[:1].to(self.device_))) is None:
                return None
        return self.map_batches(data, self.map_batch).cpu().numpy()

    @torch.inference_mode()
    def artifacts(self, test: ImageSet, per_class: int = 2, max_latent: int = 500) -> dict:
        """Reconstructions of ``per_class`` test images of each class (where the method
        reconstructs) and latent features of normal test images (where it embeds), so that
        figures need no retraining."""
        self.nets_.eval()
        out: dict[str, np.ndarray] = {}
        classes = np.asarray(test.classes, dtype=object)
        label_of = dict(zip(test.classes, test.labels.tolist()))
        order = sorted(label_of, key=lambda c: (label_of[c], c))  # the normal class first
        index = np.concatenate([np.nonzero(classes == c)[0][:per_class] for c in order])
        x = self._input(test.images[torch.from_numpy(index)].to(self.device_))
        recon = self.reconstruct(x)
        if recon is not None:
            recon = ((recon.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
            out.update(
                recon_index=index,
                originals=test.images[torch.from_numpy(index)].numpy(),
                reconstructions=recon.cpu().numpy(),
            )
        index = np.nonzero(test.labels == 0)[0][:max_latent]
        latent = self.embed(self._input(test.images[torch.from_numpy(index)].to(self.device_)))
        if latent is not None:
            out.update(latent_index=index, latent=latent.float().cpu().numpy())
        return out

    def adam(self, *modules: nn.Module, betas=(0.5, 0.999), lr: float | None = None) -> torch.optim.Adam:
        """An Adam optimiser over ``modules``, registered for the LR schedule."""
        # Modules may share layers (SALAD's M'_D with M_D): each parameter once.
        parameters = list({id(p): p for m in modules for p in m.parameters()}.values())
        optimizer = torch.optim.Adam(parameters, lr=lr or self.lr, betas=betas)
        self.optimizers_.append(optimizer)
        return optimizer
