"""What a report is, apart from how it is written: sections holding headings, text, tables
(data frames of display strings, with the cell marks and captions a renderer needs) and figures
(files with alt text). :mod:`benchbox.report.compute` builds it once; the renderers
(:mod:`benchbox.report.markdown`, :mod:`benchbox.report.latex`) write it."""

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
    """``frame``: the cells as shown, its index the first column where ``index`` (the method).
    ``file``: the stem of the files it is written to (``.md``, ``.tex``; ``.csv`` of ``numeric``);
    ``rule``: the heading of its checkpoint rule, shown above it; ``intro`` / ``note``: text
    before / after it; ``best``: column -> the row holding that column's best value."""

    frame: pd.DataFrame
    file: str | None = None
    index: bool = True
    rule: str | None = None
    intro: str = ""
    note: str = ""
    best: dict[str, str] = field(default_factory=dict)
    numeric: pd.DataFrame | None = None
    inline: bool = True  # shown in the report's page, not only written to its file


@dataclass
class Figure:
    paths: list[Path]  # PNG first (the one a page shows), then PDF
    alt: str


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

    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables()]

    def figures(self) -> list[Figure]:
        return [f for s in self.sections for f in s.figures()]
