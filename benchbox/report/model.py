"""What a report is, apart from how it is written: sections holding headings, text, tables
(data frames of display strings, with the cell marks and captions a renderer needs) and figures
(files with alt text). :mod:`benchbox.report.compute` builds it once; the renderers
(:mod:`benchbox.report.markdown`, :mod:`benchbox.report.latex`, :mod:`benchbox.report.html`)
write it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class Heading:
    text: str


@dataclass
class Text:
    """A paragraph (or list) in markdown's inline syntax."""

    text: str


@dataclass
class Table:
    r"""``frame``: the cells as shown, its index the first column where ``index`` (the method).
    ``file``: the stem of the files it is written to (``.md``, ``.tex``; ``.csv`` of ``numeric``);
    ``rule``: the heading of its checkpoint rule, shown above it; ``intro`` / ``note``: text
    before / after it.

    What a paper's table shows beyond the cells: ``marks``, (row, column) -> ``"best"`` (bold) or
    ``"second"`` (underlined); ``inseparable``, the cells the two-level bootstrap cannot separate
    from their column's best (†); ``cite``, row -> BibTeX key(s) set after its name (LaTeX);
    ``groups``, header groups over the columns (a dataset over its metrics: LaTeX's
    ``\multicolumn`` + ``\cmidrule``), each (heading, columns, BibTeX key or ""); ``reference``,
    rows set apart below a rule (published numbers, chance), never marked; ``caption`` and
    ``label``: LaTeX's table environment (none: a bare tabular)."""

    frame: pd.DataFrame
    file: str | None = None
    index: bool = True
    rule: str | None = None
    intro: str = ""
    note: str = ""
    numeric: pd.DataFrame | None = None
    inline: bool = True  # shown in the report's page, not only written to its file
    marks: dict[tuple[str, str], str] = field(default_factory=dict)
    inseparable: set[tuple[str, str]] = field(default_factory=set)
    cite: dict[str, str] = field(default_factory=dict)
    groups: list[tuple[str, list[str], str]] = field(default_factory=list)
    reference: list[str] = field(default_factory=list)
    caption: str = ""
    label: str = ""


@dataclass
class Figure:
    paths: list[Path]  # PNG first (the one a page shows), then PDF
    alt: str


@dataclass
class Explorer:
    """A section's image explorer (:mod:`benchbox.report.explorer`): ``data`` its images and
    runs, ``file`` the stem of the script that holds them beside ``index.html``."""

    file: str
    data: dict


@dataclass
class Section:
    """One dataset under one checkpoint rule (``title`` its level-2 heading)."""

    title: str
    blocks: list = field(default_factory=list)

    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]

    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]


@dataclass
class Report:
    preface: list = field(default_factory=list)  # blocks before the first section
    sections: list[Section] = field(default_factory=list)
    bibliography: str = ""  # references.bib: every method and dataset of the report

    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables()]

    def figures(self) -> list[Figure]:
        return [f for s in self.sections for f in s.figures()]

    def explorers(self) -> list[Explorer]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Explorer)]
