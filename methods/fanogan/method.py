"""f-AnoGAN: a WGAN-GP first, then an encoder trained with izi_f (image + critic-feature
residuals) against the frozen GAN; score = ‖x − G(E(x))‖² / n + κ ‖f(x) − f(G(E(x)))‖² / n_f.

Optimisers and learning rates are those of the authors' code: Adam (β = 0, 0.9) at 1e-4 for
both WGAN-GP networks, RMSprop at 5e-5 for the encoder. Training is counted in iterations as
WGAN-GP counts them: one iteration is ``n_critic`` critic steps and one generator step, so the
WGAN phase runs ``n_critic × epochs`` passes over the data and the generator is updated
``epochs × batches per epoch`` times (the critic ``n_critic`` times as often). The encoder
phase runs ``epochs`` passes, one update per batch."""

import torch

from benchbox.training import TorchMethod

from ..backbone import BackboneParams
from .model import FAnoGAN


class FAnoGANMethod(BackboneParams, TorchMethod):
    """f-AnoGAN (Schlegl et al. 2019): WGAN-GP, then izi_f encoder training."""

    name = "fanogan"
    title = "f-AnoGAN"
    citation = r"""@article{schlegl2019fanogan,
  author = {Schlegl, Thomas and Seeb{\"o}ck, Philipp and Waldstein, Sebastian M. and Langs, Georg and Schmidt-Erfurth, Ursula},
  title = {f-{AnoGAN}: Fast Unsupervised Anomaly Detection with Generative Adversarial Networks},
  journal = {Medical Image Analysis},
  volume = {54},
  pages = {30--44},
  year = {2019}
}
"""
    params = {"kappa": 1.0, "n_critic": 5, "gp_weight": 10.0, "lr": 1e-4, "lr_encoder": 5e-5}
    ranges = {"kappa": ">= 0", "n_critic": ">= 1", "gp_weight": ">= 0", "lr_encoder": "> 0"}
    state_attributes = ("step_",)  # which critic step we are at: part of a checkpoint

    def phases(self):
        return ["gan", "encoder"]

    def phase_epochs(self, phase):
        return self.epochs * self.n_critic if phase == "gan" else self.epochs

    def build(self, image_size):
        self.nets_["fanogan"] = net = FAnoGAN(image_size, self.latent_dim, self.width, self.max_width)
        # WGAN-GP's Adam betas (0, 0.9) and lr 1e-4, as in the authors' code.
        self.opt_g_ = self.adam(net.generator, betas=(0.0, 0.9))
        self.opt_d_ = self.adam(net.critic, betas=(0.0, 0.9))
        self.step_ = 0

    def compile_networks(self):
        # torch.compile cannot differentiate twice, and WGAN-GP's penalty differentiates the
        # critic twice: the critic runs eagerly.
        net = self.nets_["fanogan"]
        net.generator.compile()
        net.encoder.compile()

    def _sample(self, n):
        return torch.rand(n, self.latent_dim, device=self.device_) * 2 - 1

    def train_step(self, x):
        net = self.nets_["fanogan"]
        if self.phase_ == "encoder":
            return self._encoder_step(net, x)
        fake = net.generator(self._sample(len(x))).detach()
        alpha = torch.rand(len(x), 1, 1, 1, device=x.device)
        mixed = (alpha * x + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(net.critic(mixed).sum(), mixed, create_graph=True)
        penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
        wasserstein = net.critic(fake).mean() - net.critic(x).mean()
        loss_d = wasserstein + self.gp_weight * penalty
        self.opt_d_.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d_.step()
        losses = {"critic": loss_d.detach(), "gp": penalty.detach()}
        self.step_ += 1
        if self.step_ % self.n_critic == 0:  # one generator step per n_critic critic steps
            loss_g = -net.critic(net.generator(self._sample(len(x)))).mean()
            self.opt_g_.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g_.step()
        return losses

    def start_phase(self, phase):
        if phase == "encoder":  # izi_f training: G and the critic stay frozen
            net = self.nets_["fanogan"]
            net.generator.requires_grad_(False)
            net.critic.requires_grad_(False)
            # The authors' code trains the encoder with RMSprop at 5e-5.
            self.opt_e_ = torch.optim.RMSprop(net.encoder.parameters(), lr=self.lr_encoder)
            self.optimizers_ = [self.opt_e_]

    def _encoder_step(self, net, x):
        loss = self._izi_f(net, x).mean()
        self.opt_e_.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_e_.step()
        return {"izi_f": loss.detach()}

    def _izi_f(self, net, x):
        recon = self.reconstruct(x)
        image = (recon - x).pow(2).flatten(1).mean(1)
        features = (net.critic.features(recon) - net.critic.features(x)).pow(2).flatten(1).mean(1)
        return image + self.kappa * features

    def reconstruct(self, x):
        net = self.nets_["fanogan"]
        return net.generator(net.encode(x))

    def embed(self, x):
        return self.nets_["fanogan"].encode(x)

    def score_batch(self, x):
        return self._izi_f(self.nets_["fanogan"], x)
