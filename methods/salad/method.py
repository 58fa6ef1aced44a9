"""SALAD (Zhao et al., IEEE TMI 2021): self-supervised and translation-consistent features.

Every loss of Section III-D (eqs. 1–9) and every ablation of Section IV-D is a parameter;
see README.md beside this file for the choices the paper leaves open.
"""

from __future__ import annotations

import torch

from benchbox.training import TorchMethod

from ..backbone import BackboneParams
from ..losses import ssim, ssim_residual_map
from .model import SSL_MODES, SALADNets
from .perturb import perturb


class SALAD(BackboneParams, TorchMethod):
    """SALAD: image- and feature-space adversarial translation, center constraint, self-supervision."""

    name = "salad"
    title = "SALAD"
    citation = r"""@article{zhao2021salad,
  author = {Zhao, He and Li, Yuexiang and He, Nanjun and Ma, Kai and Fang, Leyuan and Li, Huiqi and Zheng, Yefeng},
  title = {Anomaly Detection for Medical Images Using Self-Supervised and Translation-Consistent Features},
  journal = {IEEE Transactions on Medical Imaging},
  volume = {40},
  number = {12},
  pages = {3641--3651},
  year = {2021}
}
"""
    revision = 1  # 1: L_str is SSIM of intensities in [0, 1], not of signed [-1, 1] values
    params = {
        "image_loss": "ssim",  # Table III, image space
        "feature_constraint": "center",  # Table III, feature space
        "ssl": "shared_encoder",  # Table IV
        "anomaly_score": "feature",  # Table V
        "alpha": 1.0,
        "beta": 10.0,
        "gamma": 10.0,
        "delta": 10.0,
        "eta": 10.0,  # eq. 9
        "center_lr": 0.5,  # center update rate (Wen et al. 2016)
        "shared_layers": 2,  # for ssl=shared_encoder_last_layers
        "ssim_window": 11,
        "patch_width": 64,
        "mlp_hidden": 256,
        # IV-B: "InstanceNorm and LeakyReLU are used after each convolutional layer"; False
        # leaves the first encoder layer unnormalised, as DCGAN-style encoders do.
        "first_norm": True,
    }
    choices = {
        "image_loss": ("ssim", "l1"),
        "feature_constraint": ("center", "kl", "none"),
        "ssl": SSL_MODES,
        "anomaly_score": ("feature", "image", "center"),
    }
    ranges = {
        "alpha": ">= 0",
        "beta": ">= 0",
        "gamma": ">= 0",
        "delta": ">= 0",
        "eta": ">= 0",
        "center_lr": "(0, 1]",
        "shared_layers": ">= 1",
        "ssim_window": ">= 1",
        "patch_width": ">= 1",
        "mlp_hidden": ">= 1",
    }
    renamed = {"score": "anomaly_score"}  # `score` would hide the method; old spelling kept

    def build(self, image_size):
        self.nets_["salad"] = nets = SALADNets(
            image_size,
            self.latent_dim,
            self.width,
            self.max_width,
            self.ssl,
            self.shared_layers,
            self.patch_width,
            self.mlp_hidden,
            self.first_norm,
        )
        self.opt_g_ = self.adam(*nets.generator_modules())
        self.opt_d_ = self.adam(nets.image_disc, nets.feature_disc)
        # The normal-class center C (eq. 7); a buffer, so it moves with the networks.
        nets.register_buffer("center", torch.zeros(self.latent_dim))

    def image_loss_fn(self, x, x_hat):
        if self.image_loss == "ssim":  # L_str = −SSIM (eq. 4), offset by 1 to stay ≥ 0
            return 1.0 - ssim(x, x_hat, self.ssim_window).mean()
        return (x - x_hat).abs().mean()

    def feature_constraint_fn(self, z_enc, center):
        if self.feature_constraint == "center":  # L_ct = ½‖z' − C‖² (eq. 7), batch mean
            return 0.5 * (z_enc - center).pow(2).sum(1).mean()
        if self.feature_constraint == "kl":  # KL(N(μ_B, σ²_B) ‖ N(0, I)) of the batch, per dimension
            mu, var = z_enc.mean(0), z_enc.var(0, unbiased=False) + 1e-8
            return 0.5 * (var + mu.pow(2) - 1 - var.log()).sum()
        return z_enc.new_zeros(())

    def train_step(self, x):
        nets = self.nets_["salad"]
        z = torch.randn(len(x), self.latent_dim, device=x.device)  # z ~ N(0, I)
        z_enc = nets.encoder(x)  # z' = M_E(x)
        x_hat = nets.decoder(z_enc)  # x̂ = M_D(z')
        x_gen = nets.decoder(z)  # x' = M_D(z)
        z_hat = nets.encoder(x_gen)  # ẑ = M_E(x')

        losses = {
            # eq. 3 with c = 1
            "adv": 0.5 * (nets.feature_disc(z_enc) - 1).pow(2).mean()
            + 0.5 * (nets.image_disc(x_gen) - 1).pow(2).mean(),
            "img": self.image_loss_fn(x, x_hat),  # eq. 4 (or L1, Table III)
            "fea": (z_hat - z).abs().mean(),  # eq. 6
            "ct": self.feature_constraint_fn(z_enc, nets.center),  # eq. 7 (or KL / none)
        }
        weights = {"adv": self.alpha, "img": self.beta, "fea": self.gamma, "ct": self.delta}
        if nets.restorer is not None:  # eq. 8: restore x from a perturbed x_s
            restored = nets.restorer(nets.encoder(perturb(x)))
            losses["self"] = (restored - x).abs().mean()
            weights["self"] = self.eta
        total = sum(weights[k] * v for k, v in losses.items())  # eq. 9
        self.opt_g_.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g_.step()

        # eqs. 1–2 with a = 0, b = 1: the discriminators, alternately with M_E and M_D.
        z_fake, x_fake = z_enc.detach(), x_gen.detach()
        loss_d = (
            0.5 * nets.image_disc(x_fake).pow(2).mean()
            + 0.5 * (nets.image_disc(x) - 1).pow(2).mean()
            + 0.5 * nets.feature_disc(z_fake).pow(2).mean()
            + 0.5 * (nets.feature_disc(z) - 1).pow(2).mean()
        )
        self.opt_d_.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d_.step()

        if self.feature_constraint == "center":
            self.update_center(z_fake)
        out = {k: v.detach() for k, v in losses.items()}
        out["disc"] = loss_d.detach()
        return out

    @torch.no_grad()
    def update_center(self, z_enc: torch.Tensor) -> None:
        """Center-loss update of Wen et al. (2016) for one class: C ← C − λ Σᵢ(C − zᵢ)/(1 + m)."""
        center = self.nets_["salad"].center
        delta = (center - z_enc).sum(0) / (1 + len(z_enc))
        center.sub_(self.center_lr * delta)

    def reconstruct(self, x):
        nets = self.nets_["salad"]
        return nets.decoder(nets.encoder(x))

    def embed(self, x):
        return self.nets_["salad"].encoder(x)

    def score_batch(self, x):
        nets = self.nets_["salad"]
        kind = self.anomaly_score
        z_t = nets.encoder(x)
        if kind == "center":  # A_C = |z_t − C|
            return (z_t - nets.center).abs().mean(1)
        x_hat = nets.decoder(z_t)
        if kind == "image":  # A_I = |x_t − x̂_t|
            return (x - x_hat).abs().flatten(1).mean(1)
        return (z_t - nets.encoder(x_hat)).abs().mean(1)  # A_F = |z_t − ẑ_t|

    def map_batch(self, x):
        # The image branch's residual, in the measure it is trained with (L_str: SSIM; else L1):
        # the paper draws no maps, and its feature scores have no spatial layout to map.
        x_hat = self.reconstruct(x)
        if self.image_loss == "ssim":
            return ssim_residual_map(x, x_hat, self.ssim_window)
        return (x - x_hat).abs().mean(1)
