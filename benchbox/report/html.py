"""The HTML renderer: ``index.html``, the report in one page that opens from the file system
with no network (styles and code inline; figures and each explorer's data beside it), its
tables sortable by a click on a column's heading, and each section's image explorer
(:mod:`benchbox.report.explorer`)."""

from __future__ import annotations

import hashlib
import html
import json
import re
from importlib import resources

import markdown as markdown_lib

from .model import Explorer, Figure, Heading, Report, Table, Text

_NUMBER = re.compile(r"^\s*([-+−]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")
MARKS = {"best": "strong", "second": "u"}


def number(shown: str) -> float | None:
    """The number a cell starts with (``0.812 ± 0.010`` -> 0.812); None for text and '–'."""
    found = _NUMBER.match(str(shown))
    return float(found.group(1).replace("−", "-")) if found else None


def text(markdown_text: str) -> str:
    return markdown_lib.markdown(markdown_text, output_format="html")


def _cell(tag: str, shown, mark: str | None = None, dagger: bool = False) -> str:
    value = number(shown)
    inner = html.escape(str(shown)) + ("†" if dagger else "")
    if mark:
        inner = f"<{MARKS[mark]}>{inner}</{MARKS[mark]}>"
    sort = f' data-v="{value!r}"' if value is not None else ""
    return f"<{tag}{sort}>{inner}</{tag}>"


def table(t: Table) -> str:
    """A table with its marks (bold, underlined, †), header groups and reference rows (below
    the rows that sort, never sorted with them)."""
    frame = t.frame
    columns = [str(c) for c in frame.columns]
    parts = []
    if t.rule:
        parts.append(f"<p><strong>{html.escape(t.rule)}</strong></p>")
    if t.intro:
        parts.append(text(t.intro))
    head = []
    if t.groups:
        grouped = {c: (heading, len(cols)) for heading, cols, _ in t.groups for c in cols[:1]}
        inside = {c for _, cols, _ in t.groups for c in cols}
        cells = ["<th></th>"] if t.index else []
        for c in columns:
            if c in grouped:
                heading, span = grouped[c]
                cells.append(f'<th colspan="{span}" class="group">{html.escape(heading)}</th>')
            elif c not in inside:
                cells.append("<th></th>")
        head.append("<tr>" + "".join(cells) + "</tr>")
    names = ([str(frame.index.name or "")] if t.index else []) + columns
    head.append(
        "<tr>" + "".join(f'<th class="sort" title="sort by this column">{html.escape(n)}</th>' for n in names) + "</tr>"
    )
    body, reference = [], []
    for row, values in frame.iterrows():
        cells = [_cell("th", row)] if t.index else []
        for column, shown in zip(frame.columns, values):
            cells.append(_cell("td", shown, t.marks.get((row, column)), (row, column) in t.inseparable))
        (reference if row in t.reference else body).append("<tr>" + "".join(cells) + "</tr>")
    tbody = "<tbody>" + "".join(body) + "</tbody>"
    if reference:
        tbody += '<tbody class="reference">' + "".join(reference) + "</tbody>"
    parts.append(f'<div class="scroll"><table class="sortable"><thead>{"".join(head)}</thead>{tbody}</table></div>')
    if t.note:
        parts.append(f'<div class="note">{text(t.note)}</div>')
    return "\n".join(parts)


def block(b) -> str:
    if isinstance(b, Heading):
        return f"<h3>{html.escape(b.text)}</h3>"
    if isinstance(b, Text):
        return text(b.text)
    if isinstance(b, Table):
        return table(b)
    if isinstance(b, Figure):
        png, others = b.paths[0].name, [p.name for p in b.paths[1:]]
        links = "".join(
            f' · <a href="{html.escape(o)}">{html.escape(o.rsplit(".", 1)[-1].upper())}</a>' for o in others
        )
        return (
            f'<figure><a href="{html.escape(png)}"><img src="{html.escape(png)}" alt="{html.escape(b.alt)}" '
            f'loading="lazy"></a><figcaption>{html.escape(b.alt)}{links}</figcaption></figure>'
        )
    if isinstance(b, Explorer):
        return f'<div class="explorer" data-source="{html.escape(b.file)}"><p class="loading">Loading…</p></div>'
    raise TypeError(f"no HTML for {type(b).__name__}")


def _anchor(number: int) -> str:
    return f"section-{number}"


def index(report: Report, scripts=()) -> str:
    """``index.html``: contents, preface, then each section; the explorers' data ``scripts``
    (file names) loaded last."""
    body = ["<h1>benchbox report</h1>"]
    if report.sections:
        body.append(
            "<nav><ul>"
            + "".join(
                f'<li><a href="#{_anchor(i)}">{html.escape(s.title)}</a></li>' for i, s in enumerate(report.sections)
            )
            + "</ul></nav>"
        )
    body += [block(b) for b in report.preface]
    for i, section in enumerate(report.sections):
        body.append(f'<section id="{_anchor(i)}"><h2>{html.escape(section.title)}</h2>')
        body += [block(b) for b in section.blocks if not isinstance(b, Table) or b.inline]
        body.append("</section>")
    loads = "".join(f'<script src="{html.escape(name)}"></script>' for name in scripts)
    assets = resources.files(__package__)
    style = assets.joinpath("report.css").read_text(encoding="utf-8")
    code = assets.joinpath("report.js").read_text(encoding="utf-8")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,"><title>benchbox report</title>'
        f"<style>{style}</style></head><body>\n"
        + "\n".join(body)
        + f"\n{loads}<script>{code}</script>\n</body></html>\n"
    )


def _script(table: str, name: str, data) -> str:
    """A script that files ``data`` under ``name`` in ``window[table]`` (scripts, not JSON:
    browsers load scripts from the file system, where they refuse to fetch JSON)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return f"window.{table}=window.{table}||{{}};{table}[{json.dumps(name)}]={text};\n"


def scripts(report: Report) -> dict[str, str]:
    """File name -> text of each explorer's data script, and of its images' script, written
    once for the sections that show the same images (one test set under several checkpoint
    rules)."""
    out = {}
    for e in report.explorers():
        images = json.dumps(e.data["images"], sort_keys=True).encode()
        name = f"explorer-images-{hashlib.sha256(images).hexdigest()[:12]}"
        out.setdefault(f"{name}.js", _script("BENCHBOX_IMAGES", name, e.data["images"]))
        out[f"{e.file}.js"] = _script("BENCHBOX_EXPLORERS", e.file, {**e.data, "images": name})
    return out


def files(report: Report) -> dict[str, str]:
    """File name -> text: ``index.html`` and the explorers' data scripts."""
    out = scripts(report)
    out["index.html"] = index(report, list(out))
    return out
