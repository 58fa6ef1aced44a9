"""The markdown renderer: each table's ``.md`` file and the report's ``index.md``."""

from __future__ import annotations

import re

from .model import Explorer, Figure, Heading, Report, Table, Text

MARKS = {"best": "**{}**", "second": "<u>{}</u>"}


def marked(t: Table):
    """The frame with the table's marks in markdown's syntax: best in bold, second underlined,
    † on cells not separable from the best."""
    if not (t.marks or t.inseparable):
        return t.frame
    frame = t.frame.copy()
    for row, column in t.inseparable:
        frame.loc[row, column] = f"{frame.loc[row, column]}†"
    for (row, column), mark in t.marks.items():
        frame.loc[row, column] = MARKS[mark].format(frame.loc[row, column])
    return frame


def table(t: Table) -> str:
    """A table as its ``.md`` file holds it: rule heading, intro, the table, its note."""
    parts = [f"**{t.rule}**"] if t.rule else []
    parts += [t.intro] if t.intro else []
    parts.append(marked(t).to_markdown(index=t.index, disable_numparse=True))
    parts += [t.note] if t.note else []
    return "\n\n".join(parts) + "\n"


def tables(parts: list[Table]) -> str:
    """Several tables (one per checkpoint rule) one after another."""
    return "\n".join(table(t) for t in parts)


def block(b) -> str:
    if isinstance(b, Heading):
        return f"### {b.text}"
    if isinstance(b, Text):
        return b.text
    if isinstance(b, Table):
        return table(b)
    if isinstance(b, Figure):
        return f"![{b.alt}]({b.paths[0].name})"
    if isinstance(b, Explorer):
        images, runs = len(b.data["images"]["ids"]), len(b.data["runs"])
        pictures = sum(t is not None for t in b.data["images"]["thumbs"])
        return (
            f"In [index.html](index.html) (open it in a browser): the {images} test images ranked by any of "
            f"{runs} runs' scores, false positives and negatives at each run's threshold, two runs side by "
            f"side; {pictures} with a thumbnail, {sum(any(m is not None for m in r['maps']) for r in b.data['runs'])} "
            "runs with stored maps."
        )
    raise TypeError(f"no markdown for {type(b).__name__}")


def index(report: Report) -> str:
    """``index.md``: the preface, then each section's blocks, a blank line between blocks."""
    lines = ["# benchbox report", ""]
    lines += [block(b).rstrip("\n") + "\n" for b in report.preface]
    for section in report.sections:
        lines.append(f"## {section.title}\n")
        lines += [block(b).rstrip("\n") + "\n" for b in section.blocks if not isinstance(b, Table) or b.inline]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip() + "\n"


def files(report: Report) -> dict[str, str]:
    """File name -> text: each table's ``.md`` and ``.csv``, and ``index.md``."""
    out = {}
    for t in report.tables():
        if t.file:
            out[f"{t.file}.md"] = table(t)
            if t.numeric is not None:
                out[f"{t.file}.csv"] = t.numeric.to_csv(index=False, float_format="%.6g")
    out["index.md"] = index(report)
    return out
