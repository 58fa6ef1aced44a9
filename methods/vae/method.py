"""VAE: L1 reconstruction + KL(q(z|x) ‖ N(0, I)); score = mean |x − D(μ(x))|."""

from benchbox.training import TorchMethod

from ..backbone import BackboneParams
from .model import VariationalAutoEncoder


class VAE(BackboneParams, TorchMethod):
    """Variational auto-encoder (Kingma & Welling 2014); reconstruction-error score."""

    name = "vae"
    title = "VAE"
    citation = r"""@inproceedings{kingma2014vae,
  author = {Kingma, Diederik P. and Welling, Max},
  title = {Auto-Encoding Variational {Bayes}},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2014}
}
"""
    params = {"kl_weight": 1.0}
    ranges = {"kl_weight": ">= 0"}

    def build(self, image_size):
        self.nets_["vae"] = VariationalAutoEncoder(image_size, self.latent_dim, self.width, self.max_width)
        self.opt_ = self.adam(self.nets_["vae"])

    def train_step(self, x):
        recon, mu, logvar = self.nets_["vae"](x)
        # Per image: summed L1 (a Laplace likelihood) and summed KL; averaged over the batch.
        rec = (recon - x).abs().flatten(1).sum(1).mean()
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
        loss = rec + self.kl_weight * kl
        self.opt_.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_.step()
        return {"rec": rec.detach(), "kl": kl.detach()}

    def reconstruct(self, x):
        vae = self.nets_["vae"]
        return vae.decoder(vae.encode(x)[0])  # the posterior mean: deterministic scores

    def embed(self, x):
        return self.nets_["vae"].encode(x)[0]

    def score_batch(self, x):
        return (self.reconstruct(x) - x).abs().flatten(1).mean(1)
