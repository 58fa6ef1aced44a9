"""The LaTeX renderer: each table as a booktabs ``tabular`` through pandas' Styler, which
escapes LaTeX's special characters (``_ % & # $ { } ~ ^ \\``) in cells and headers; the best
value of a column in bold. A report writes one ``.tex`` beside each table's ``.md``."""

from __future__ import annotations

import pandas as pd

from .model import Report, Table

#: Characters of the tables that LaTeX's text mode does not set: as math.
MATH = {
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
    "−": r"$-$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "→": r"$\rightarrow$",
    "<": r"$<$",  # in text mode, OT1 fonts set "<" as "¡"
    ">": r"$>$",
}


def _math(text) -> str:
    text = str(text)
    for char, command in MATH.items():
        text = text.replace(char, command)
    return text


def table(t: Table) -> str:
    frame = t.frame.reset_index() if t.index else t.frame
    columns = len(frame.columns)
    styler = frame.style.hide(axis="index")
    styler = styler.format(_math, escape="latex").format_index(_math, escape="latex", axis="columns")
    if t.best:
        marks = pd.DataFrame("", index=frame.index, columns=frame.columns)
        rows = list(t.frame.index) if t.index else list(frame.index)
        for column, row in t.best.items():
            marks.iloc[rows.index(row), list(frame.columns).index(column)] = "textbf: --rwrap;"
        styler = styler.apply(lambda _: marks, axis=None)
    text = styler.to_latex(column_format="l" + "r" * (columns - 1), hrules=True)
    if t.rule:  # the checkpoint rule as a full-width row under the header
        rule = rf"\multicolumn{{{columns}}}{{l}}{{\emph{{{_math(t.rule)}}}}} \\"
        text = text.replace("\\midrule\n", f"\\midrule\n{rule}\n\\midrule\n", 1)
        text = f"% {t.rule}\n{text}"
    return text


def tables(parts: list[Table]) -> str:
    """Several tables (one per checkpoint rule), each a tabular of its own."""
    return "\n".join(table(t) for t in parts)


def files(report: Report) -> dict[str, str]:
    return {f"{t.file}.tex": table(t) for t in report.tables() if t.file}
