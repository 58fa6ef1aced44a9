"""The one formatter of a value and its error (mean ± std) that every table and figure uses."""

from __future__ import annotations

import math

import numpy as np


def plus_minus(mean, std=None, *, digits: int | None = 4, scale: float = 1.0) -> str:
    """``mean ± std`` at ``digits`` decimals, or the mean alone where ``std`` is None or not
    finite; "–" for a missing mean. ``digits=None``: both to the std's second significant digit
    (28 ± 22, 0.217 ± 0.023; a zero std gives the mean to 4 significant digits ± 0)."""
    if mean is None or not math.isfinite(mean):
        return "–"
    mean = mean * scale
    std = None if std is None or not math.isfinite(std) else std * scale
    if digits is None:
        if not std:
            return f"{mean:.4g} ± 0"
        digits = max(0, 1 - math.floor(math.log10(std)))
    text = f"{mean:.{digits}f}"
    return text if std is None else f"{text} ± {std:.{digits}f}"


def over_seeds(values, digits: int | None = 4) -> str:
    """Mean ± sample std (ddof=1) of the finite values (the mean alone for one, "–" for none)."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return "–"
    return plus_minus(float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else None, digits=digits)
