"""SSIM-AE (Bergmann et al. 2018): the AE trained with an SSIM loss; score from the
SSIM residual map, 1 − SSIM(x, x̂) at each window position, averaged over the image."""

from ..ae.method import AE
from ..losses import ssim_map, ssim_residual_map


class SSIMAE(AE):
    """Auto-encoder with structural-similarity loss and SSIM-residual score (Bergmann et al. 2018)."""

    name = "ssim_ae"
    title = "SSIM-AE"
    citation = r"""@inproceedings{bergmann2019ssim,
  author = {Bergmann, Paul and L{\"o}we, Sindy and Fauser, Michael and Sattlegger, David and Steger, Carsten},
  title = {Improving Unsupervised Defect Segmentation by Applying Structural Similarity to Autoencoders},
  booktitle = {International Joint Conference on Computer Vision, Imaging and Computer Graphics Theory and Applications (VISAPP)},
  year = {2019}
}
"""
    params = {"ssim_window": 11, "latent_dim": 100}  # Bergmann et al.'s latent size d = 100
    ranges = {"ssim_window": ">= 1"}
    revision = 1  # 1: SSIM of intensities in [0, 1], not of signed [-1, 1] values

    def train_step(self, x):
        loss = 1.0 - ssim_map(x, self.nets_["ae"](x), self.ssim_window).mean()
        self.opt_.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_.step()
        return {"1-ssim": loss.detach()}

    def score_batch(self, x):
        return (1.0 - ssim_map(x, self.reconstruct(x), self.ssim_window)).flatten(1).mean(1)

    def map_batch(self, x):
        return ssim_residual_map(x, self.reconstruct(x), self.ssim_window)
