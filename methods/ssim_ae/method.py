"""SSIM-AE (Bergmann et al. 2018): the AE trained with an SSIM loss; score from the
SSIM residual map, 1 − SSIM(x, x̂) at each window position, averaged over the image."""

from benchbox.training import TorchMethod

from ..ae.model import AutoEncoder
from ..backbone import BackboneParams
from ..losses import ssim_map


class SSIMAE(BackboneParams, TorchMethod):
    """Auto-encoder with structural-similarity loss and SSIM-residual score (Bergmann et al. 2018)."""

    name = "ssim_ae"
    params = {"ssim_window": 11}

    def build(self, image_size):
        self.nets_["ae"] = AutoEncoder(image_size, self.latent_dim, self.width, self.max_width)
        self.opt_ = self.adam(self.nets_["ae"])

    def train_step(self, x):
        loss = 1.0 - ssim_map(x, self.nets_["ae"](x), self.ssim_window).mean()
        self.opt_.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_.step()
        return {"1-ssim": loss.detach()}

    def reconstruct(self, x):
        return self.nets_["ae"](x)

    def embed(self, x):
        return self.nets_["ae"].encoder(x)

    def score_batch(self, x):
        return (1.0 - ssim_map(x, self.reconstruct(x), self.ssim_window)).flatten(1).mean(1)
