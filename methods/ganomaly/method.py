"""GANomaly: adversarial (feature matching) + contextual L1 + encoder L2 losses with weights
w_adv = 1, w_con = 50, w_enc = 1; score = ‖z − ẑ‖₁ as the paper writes it (mean over the
latent dimensions), or the authors' code's mean (z − ẑ)² with ``score_norm=l2``."""

import torch
import torch.nn.functional as F

from benchbox.training import TorchMethod

from ..backbone import BackboneParams, init_weights
from .model import Discriminator, GANomalyGenerator


class GANomaly(BackboneParams, TorchMethod):
    """GANomaly (Akcay et al. 2018): encoder–decoder–encoder with latent-distance score."""

    name = "ganomaly"
    title = "GANomaly"
    citation = r"""@inproceedings{akcay2018ganomaly,
  author = {Akcay, Samet and Atapour-Abarghouei, Amir and Breckon, Toby P.},
  title = {{GANomaly}: Semi-supervised Anomaly Detection via Adversarial Training},
  booktitle = {Asian Conference on Computer Vision (ACCV)},
  pages = {622--637},
  year = {2018}
}
"""
    params = {"w_adv": 1.0, "w_con": 50.0, "w_enc": 1.0, "score_norm": "l1"}
    choices = {"score_norm": ("l1", "l2")}
    ranges = {"w_adv": ">= 0", "w_con": ">= 0", "w_enc": ">= 0"}

    def build(self, image_size):
        self.nets_["generator"] = GANomalyGenerator(image_size, self.latent_dim, self.width, self.max_width)
        self.nets_["discriminator"] = Discriminator(image_size, self.width, self.max_width)
        self.opt_g_ = self.adam(self.nets_["generator"])
        self.opt_d_ = self.adam(self.nets_["discriminator"])
        self.pending_collapse_ = None

    def train_step(self, x):
        gen, disc = self.nets_["generator"], self.nets_["discriminator"]
        recon, z, z_hat = gen(x)
        adv = (disc.features(x).detach() - disc.features(recon)).pow(2).mean()
        con = (recon - x).abs().mean()
        enc = (z - z_hat).pow(2).mean()
        loss_g = self.w_adv * adv + self.w_con * con + self.w_enc * enc
        self.opt_g_.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g_.step()

        real, fake = disc(x), disc(recon.detach())
        loss_d = 0.5 * (
            F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        )
        self.opt_d_.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d_.step()
        # As in the reference implementation: a collapsed discriminator is re-initialised.
        if self.discriminator_collapsed(loss_d.detach()):
            init_weights(disc)
            self.pending_collapse_ = None  # measured on the discriminator just replaced
        return {"adv": adv.detach(), "con": con.detach(), "enc": enc.detach(), "d": loss_d.detach()}

    #: On CUDA, test the previous step's discriminator loss, not this one's (below). False:
    #: test every step's at once, as the reference code does (``bench.py``'s ``sync`` variant).
    defer_collapse_check = True

    def discriminator_collapsed(self, loss_d: torch.Tensor) -> bool:
        """Whether the discriminator's loss fell below 1e-5 (the authors' test).

        Reading a GPU value on the host waits until the GPU has finished the step, so the
        next step cannot be queued while this one runs. On CUDA the loss is therefore copied
        to the host without waiting and read one step later, when the copy is long done: a
        collapse is repaired one step after it happens. Elsewhere every step's loss is read
        at once, as in the reference implementation."""
        collapsed = loss_d < 1e-5
        if collapsed.device.type != "cuda" or not self.defer_collapse_check:
            return bool(collapsed)
        pending, self.pending_collapse_ = (
            self.pending_collapse_,
            (collapsed.to("cpu", non_blocking=True), torch.cuda.Event()),
        )
        self.pending_collapse_[1].record()
        return bool(self._read(pending))

    @staticmethod
    def _read(pending) -> bool | None:
        """A pending test's flag, once its copy to the host is done (None: nothing pending)."""
        if pending is None:
            return None
        flag, copied = pending
        if copied is not None:  # None: restored from a checkpoint, already on the host
            copied.synchronize()
        return bool(flag)

    # A checkpoint keeps the test still pending, so that a resumed run repairs the same collapse.
    state_attributes = ("pending_collapse_flag_",)

    @property
    def pending_collapse_flag_(self) -> bool | None:
        """The pending collapse test, read when a checkpoint is saved (rare: the wait is cheap)."""
        return self._read(self.pending_collapse_)

    @pending_collapse_flag_.setter
    def pending_collapse_flag_(self, value: bool | None) -> None:
        self.pending_collapse_ = None if value is None else (torch.tensor(value), None)

    def reconstruct(self, x):
        return self.nets_["generator"](x)[0]

    def embed(self, x):
        return self.nets_["generator"].encoder1(x)

    def score_batch(self, x):
        _, z, z_hat = self.nets_["generator"](x)
        difference = z - z_hat
        return (difference.abs() if self.score_norm == "l1" else difference.pow(2)).mean(1)
