"""``benchbox report``: tables and figures from a results directory alone.

Per dataset and checkpoint rule: the main table and its standard deviations (the layout of
Tables I/II of the SALAD paper), the score per class, AUROC per abnormal and per normal group
(where there are several), the ablation tables of the plugins' grids when their rows are
present, ROC curves, reconstructions with residual maps, optionally a t-SNE of two runs' latent
features, a paired-bootstrap test of each method's AUROC against the best one and against
chance, and, where the test images have masks, the localisation table, its bootstrap and the
anomaly maps; every section ends with the leak audit. ``index.md`` ties it together.

The parts: :mod:`.compute` builds the :mod:`.model` once (drawing :mod:`.figures`, computing
:mod:`.statistics`, gathering each section's :mod:`.explorer` data); :mod:`.markdown`,
:mod:`.latex` and :mod:`.html` render it (each table as ``.md``, ``.tex`` and, for the main
tables, ``.csv``; ``index.md``; ``index.html`` with its explorers' data scripts). Running it
twice writes the same files.
"""

from __future__ import annotations

from pathlib import Path


def build(results_dir, out, tsne: tuple[str, str] | None = None, plugins=None) -> list[Path]:
    """Write the report of ``results_dir`` into ``out``; the files written. ``plugins``: where
    the row order, the ablation grids and datasets' ``subgroup`` hooks come from (default: the
    process's)."""
    from ..plugins import get_plugins
    from ..store import atomic_write_text
    from . import html, latex, markdown
    from .compute import compute

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = compute(results_dir, out, plugins or get_plugins(), tsne)
    written = [path for figure in report.figures() for path in figure.paths]
    files = {**markdown.files(report), **latex.files(report), **html.files(report)}
    if report.bibliography:
        files["references.bib"] = report.bibliography
    for name, text in files.items():
        atomic_write_text(out / name, text)
        written.append(out / name)
    return written
