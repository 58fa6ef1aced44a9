"""Built-in dataset plugins, registered through the same hook as third-party ones."""

from benchbox.hookspecs import hookimpl


@hookimpl
def benchbox_register_datasets(register):
    from .folder import OCT, ChestXray, CovidQuEx, FolderDataset
    from .kaggle_3m import LggMri
    from .medianomaly import MedIAnomaly
    from .medmnist import MedMNIST
    from .synthetic import Synthetic

    for cls in (Synthetic, OCT, ChestXray, CovidQuEx, MedIAnomaly, LggMri, MedMNIST, FolderDataset):
        register(cls)
