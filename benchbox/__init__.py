"""benchbox: a pluggable benchmark suite for unsupervised anomaly detection in medical images."""

from .contracts import Dataset, ImageSet, Method
from .hookspecs import hookimpl

__all__ = ["Dataset", "ImageSet", "Method", "hookimpl", "__version__"]
__version__ = "0.1.0"
