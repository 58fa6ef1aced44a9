"""AE: auto-encoder trained with an L1 reconstruction loss; score = mean |x − x̂|.

Both losses are L1 as in the SALAD paper's AE baseline (its Table III text: the AE goes
from 0.7779 with L1 to 0.8664 with SSIM, i.e. the SSIM-AE row of Table I).
"""

from benchbox.training import TorchMethod

from ..backbone import BackboneParams
from .model import AutoEncoder


class AE(BackboneParams, TorchMethod):
    """Convolutional auto-encoder, L1 loss, reconstruction-error score."""

    name = "ae"
    title = "AE"
    citation = r"""@inproceedings{zhou2017robust,
  author = {Zhou, Chong and Paffenroth, Randy C.},
  title = {Anomaly Detection with Robust Deep Autoencoders},
  booktitle = {Proceedings of the 23rd ACM SIGKDD International Conference on Knowledge Discovery and Data Mining},
  pages = {665--674},
  year = {2017}
}
"""

    def build(self, image_size):
        self.nets_["ae"] = AutoEncoder(image_size, self.latent_dim, self.width, self.max_width)
        self.opt_ = self.adam(self.nets_["ae"])

    def train_step(self, x):
        loss = (self.nets_["ae"](x) - x).abs().mean()
        self.opt_.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_.step()
        return {"l1": loss.detach()}

    def reconstruct(self, x):
        return self.nets_["ae"](x)

    def embed(self, x):
        return self.nets_["ae"].encoder(x)

    def score_batch(self, x):
        return (self.reconstruct(x) - x).abs().flatten(1).mean(1)
