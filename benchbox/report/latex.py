"""The LaTeX renderer: each table as a booktabs ``tabular`` through pandas' Styler, which
escapes LaTeX's special characters (``_ % & # $ { } ~ ^ \\``) in cells and headers. A paper's
table (:class:`~benchbox.report.model.Table` with marks) gets what papers set by hand: the best
of a column in bold and the second underlined, † on cells not separable from the best,
``\\citep{key}`` after each method and dataset, datasets as ``\\multicolumn`` headers over their
metrics with a ``\\cmidrule``, reference rows (published, chance) below a rule, and the
``table`` environment with its caption and label. A report writes one ``.tex`` beside each
table's ``.md``."""

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
    "†": r"$^\dagger$",
    "<": r"$<$",  # in text mode, OT1 fonts set "<" as "¡"
    ">": r"$>$",
}
SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
STYLE = {"best": "textbf: --rwrap;", "second": "underline: --rwrap;"}


def _math(text) -> str:
    text = str(text)
    for char, command in MATH.items():
        text = text.replace(char, command)
    return text


def escape(text) -> str:
    """Text that this renderer writes itself (captions, group headings), escaped and with math."""
    return _math("".join(SPECIAL.get(c, c) for c in str(text)))


def _cite(keys: str) -> str:
    return rf"~\citep{{{keys}}}" if keys else ""


def table(t: Table) -> str:
    frame = t.frame.reset_index() if t.index else t.frame
    columns, rows = list(frame.columns), list(t.frame.index)
    styler = frame.style.hide(axis="index")
    styler = styler.format(_math, escape="latex").format_index(_math, escape="latex", axis="columns")
    for row, column in t.inseparable:
        cell = pd.IndexSlice[[frame.index[rows.index(row)]], [column]]
        styler = styler.format(lambda x: _math(x) + r"$^\dagger$", subset=cell, escape="latex")
    for row, keys in t.cite.items():
        cell = pd.IndexSlice[[frame.index[rows.index(row)]], [columns[0]]]
        styler = styler.format(lambda x, keys=keys: _math(x) + _cite(keys), subset=cell, escape="latex")
    if t.marks:
        decorations = pd.DataFrame("", index=frame.index, columns=frame.columns)
        for (row, column), mark in t.marks.items():
            decorations.iloc[rows.index(row), columns.index(column)] = STYLE[mark]
        styler = styler.apply(lambda _: decorations, axis=None)
    options = {"column_format": "l" + "r" * (len(columns) - 1), "hrules": True}
    if t.caption:
        options.update(environment="table", position="t", position_float="centering", caption=escape(t.caption))
        options.update({"label": t.label} if t.label else {})
    lines = styler.to_latex(**options).splitlines()
    top = lines.index(r"\toprule")
    if t.groups:
        lines[top + 1 : top + 2] = _grouped_header(t, columns)
    if t.reference and t.reference[0] in rows:
        body = lines.index(r"\midrule", top) + 1
        lines.insert(body + rows.index(t.reference[0]), r"\midrule")
    if t.rule:  # the checkpoint rule as a full-width row under the header
        body = lines.index(r"\midrule", top)
        lines[body + 1 : body + 1] = [
            rf"\multicolumn{{{len(columns)}}}{{l}}{{\emph{{{_math(t.rule)}}}}} \\",
            r"\midrule",
        ]
        lines.insert(0, f"% {t.rule}")
    return "\n".join(lines) + "\n"


def _grouped_header(t: Table, columns: list) -> list[str]:
    """Two header rows: each group's heading over its columns (with a ``\\cmidrule``), then the
    columns' own names with the group's heading taken off."""
    top, names, rules = [""] * len(columns), [escape(c) for c in columns], []
    skip = set()
    for heading, members, keys in t.groups:
        first = columns.index(members[0])
        top[first] = rf"\multicolumn{{{len(members)}}}{{c}}{{{escape(heading)}{_cite(keys)}}}"
        skip.update(range(first + 1, first + len(members)))
        rules.append(rf"\cmidrule(lr){{{first + 1}-{first + len(members)}}}")
        for member in members:
            names[columns.index(member)] = escape(str(member).removeprefix(f"{heading} "))
    first_row = " & ".join(cell for i, cell in enumerate(top) if i not in skip) + r" \\"
    return [first_row, " ".join(rules), " & ".join(names) + r" \\"]


def tables(parts: list[Table]) -> str:
    """Several tables (one per checkpoint rule), each a tabular (or table) of its own."""
    return "\n".join(table(t) for t in parts)


def files(report: Report) -> dict[str, str]:
    return {f"{t.file}.tex": table(t) for t in report.tables() if t.file}
