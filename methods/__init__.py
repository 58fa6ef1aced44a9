"""Built-in method plugins, registered through the same hook as third-party ones."""

from benchbox.hookspecs import hookimpl


@hookimpl
def benchbox_register_methods(register):
    from .ae.method import AE
    from .cutpaste.method import CutPaste
    from .fanogan.method import FAnoGANMethod
    from .floors.method import IntensityFloor, PixelKNN, PixelPCA
    from .ganomaly.method import GANomaly
    from .patchcore.method import PatchCore
    from .salad.method import SALAD
    from .ssim_ae.method import SSIMAE
    from .vae.method import VAE

    for cls in (AE, VAE, FAnoGANMethod, GANomaly, SSIMAE, SALAD, PixelPCA, PixelKNN, IntensityFloor, CutPaste, PatchCore):
        register(cls)
