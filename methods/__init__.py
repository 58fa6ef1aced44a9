"""Built-in method plugins, registered through the same hook as third-party ones."""

from pathlib import Path

from benchbox.hookspecs import hookimpl


@hookimpl
def benchbox_register_methods(register):
    from .ae.method import AE
    from .cutpaste.method import CutPaste
    from .fanogan.method import FAnoGANMethod
    from .floors.method import FeatureKNN, IntensityFloor, PixelKNN, PixelPCA
    from .ganomaly.method import GANomaly
    from .padim.method import PaDiM
    from .patchcore.method import PatchCore
    from .rd4ad.method import RD4AD
    from .salad.method import SALAD
    from .simplenet.method import SimpleNet
    from .ssim_ae.method import SSIMAE
    from .stfpm.method import STFPM
    from .vae.method import VAE

    for cls in (
        AE,
        VAE,
        FAnoGANMethod,
        GANomaly,
        SSIMAE,
        SALAD,
        PixelPCA,
        PixelKNN,
        IntensityFloor,
        CutPaste,
        PatchCore,
        PaDiM,
        FeatureKNN,
        STFPM,
        RD4AD,
        SimpleNet,
    ):
        register(cls)


@hookimpl
def benchbox_register_grids(register):
    here = Path(__file__).parent
    register(here / "grids.toml")  # Table I, the default grid, the cpu preset
    register(here / "salad" / "grids.toml")  # the SALAD paper's protocol and ablations


@hookimpl
def benchbox_register_published(register):
    from benchbox.published import from_bmad_csv, from_toml

    here = Path(__file__).parent / "published"
    register(from_bmad_csv(here / "bmad.csv"))  # BMAD's table: 15 methods on six medical datasets
    register(from_toml(here / "salad.toml"))  # the SALAD paper's Tables I-II
