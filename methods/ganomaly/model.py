"""GANomaly networks (Akcay et al. 2018): encoder–decoder–encoder generator and a discriminator."""

from torch import nn

from ..backbone import Decoder, Encoder, init_weights


class GANomalyGenerator(nn.Module):
    def __init__(self, image_size: int, latent_dim: int, width: int, max_width: int):
        super().__init__()
        self.encoder1 = Encoder(image_size, latent_dim, width, max_width)
        self.decoder = Decoder(image_size, latent_dim, width, max_width)
        self.encoder2 = Encoder(image_size, latent_dim, width, max_width)
        init_weights(self)

    def forward(self, x):
        """(x̂, z, ẑ): reconstruction, latent of x, latent of the reconstruction."""
        z = self.encoder1(x)
        recon = self.decoder(z)
        return recon, z, self.encoder2(recon)


class Discriminator(nn.Module):
    """The backbone encoder with a one-logit head; ``features`` for feature matching."""

    def __init__(self, image_size: int, width: int, max_width: int):
        super().__init__()
        self.net = Encoder(image_size, 1, width, max_width)
        init_weights(self)

    def features(self, x):
        return self.net.features(x)

    def forward(self, x):
        return self.net(x).view(-1)
