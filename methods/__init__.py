"""Built-in method plugins, registered through the same hook as third-party ones."""

from benchbox.hookspecs import hookimpl


@hookimpl
def benchbox_register_methods(register):
    from .ae.method import AE
    from .fanogan.method import FAnoGANMethod
    from .floors.method import PixelKNN, PixelPCA
    from .ganomaly.method import GANomaly
    from .salad.method import SALAD
    from .ssim_ae.method import SSIMAE
    from .vae.method import VAE

    for cls in (AE, VAE, FAnoGANMethod, GANomaly, SSIMAE, SALAD, PixelPCA, PixelKNN):
        register(cls)
