"""Published numbers beside one's own: a registry of published tables, each with its source, its
protocol in words and its numbers, mapped onto benchbox's dataset names. ``benchbox table
--published NAME`` adds a table's rows for the datasets it shares with the run, set apart below
the runs and marked "published, other protocol" unless the run's records match the protocol the
table states; they never enter the marks, the bootstrap or the ranks.

Plugins add tables through ``benchbox_register_published(register)``, calling ``register`` with
a :class:`PublishedTable` (e.g. :func:`from_toml`). Built in: BMAD's table of 15 methods on six
medical datasets (``bmad``) and the SALAD paper's Tables I-II (``salad``).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ParamError


@dataclass(frozen=True)
class PublishedNumber:
    """One published number, ready for a table: its row label, the benchbox dataset (name as
    tables show it) and metric it belongs to, mean and std in the metric's own units (fractions;
    rates too), the source's BibTeX key(s) and the sentence that says what protocol it was
    measured under."""

    row: str
    dataset: str
    metric: str
    mean: float
    std: float | None
    keys: str
    caveat: str


@dataclass
class PublishedTable:
    """``numbers``: (method, their dataset, metric, mean, std) in fractions; ``datasets``: their
    dataset -> benchbox's dataset name; ``same_protocol``: benchbox dataset -> the record fields
    (``image_size``, ``epochs``, or a dataset parameter such as ``protocol``) that a run must have
    to be on the table's protocol, dotted names reaching into it (``test_set.n``); a field a record
    lacks (a floor has no epochs) is not compared (none at all: never the same)."""

    name: str
    title: str
    source: str
    protocol: str
    citation_key: str
    datasets: dict[str, str]
    numbers: list[tuple[str, str, str, float, float | None]] = field(default_factory=list)
    same_protocol: dict[str, dict] = field(default_factory=dict)
    citation: str = ""  # its BibTeX entry, where no plugin cites it already (the SALAD paper is SALAD's)

    def rows_for(self, records_by_dataset: dict[str, list[dict]], mapping: dict[str, str] | None = None) -> list:
        """The :class:`PublishedNumber` of each benchbox dataset in ``records_by_dataset`` (name
        -> its records) that this table maps a dataset of its own to; ``mapping`` (their dataset
        -> a benchbox name) overrides the table's own, for another name or a stated stand-in."""
        targets = {**self.datasets, **(mapping or {})}
        out = []
        for method, theirs, metric, mean, std in self.numbers:
            ours = targets.get(theirs)
            if ours not in records_by_dataset:
                continue
            own = self.datasets.get(theirs) == ours  # mapped by the table itself, not by the user
            same = own and self.matches(ours, records_by_dataset[ours])
            where = "" if own else f"; their dataset {theirs}"
            caveat = f"{self.title} ({self.source}): published, " + (
                "same protocol as this run." if same else f"other protocol: {self.protocol}."
            )
            row = f"{method} ({self.title}{where})"  # its source is cited after it
            out.append(PublishedNumber(row, ours, metric, mean, std, self.citation_key, caveat))
        return out

    def matches(self, dataset: str, records: list[dict]) -> bool:
        wanted = self.same_protocol.get(dataset)
        if not wanted or not records:
            return False
        for r in records:
            for key, value in wanted.items():
                found = _field(r, key)
                if found is not None and found != value:  # None: a method without it (no epochs)
                    return False
        return True


def _field(record: dict, key: str):
    """A record's field by a dotted name (``test_set.n``), or a dataset parameter's."""
    value = record
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value if value is not None else (record.get("dataset_params") or {}).get(key)


def from_toml(path: Path) -> PublishedTable:
    """A table in the layout of ``methods/published/salad.toml``: metrics per dataset in each
    row, AUROC-like ones as fractions, rates in %; ``<dataset>_std`` for stds."""
    import tomllib

    spec = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    numbers = []
    for row in spec["rows"]:
        for theirs in spec["datasets"]:
            values, stds = row.get(theirs, {}), row.get(f"{theirs}_std", {})
            for metric, value in values.items():
                scale = 100.0 if metric in RATES else 1.0
                std = stds.get(metric)
                numbers.append((row["method"], theirs, metric, value / scale, None if std is None else std / scale))
    return PublishedTable(
        spec["name"], spec["title"], spec["source"], spec["protocol"], spec["citation_key"], dict(spec["datasets"]),
        numbers, dict(spec.get("same_protocol", {})),
    )  # fmt: skip


RATES = ("f1", "acc", "sen", "spe", "bacc", "sen95")
#: BMAD's columns: their dataset and the metric (``img_auroc`` -> auroc, ``pix_auroc``, ``pro``).
_BMAD_METRIC = {"img_auroc": "auroc", "pix_auroc": "pixel_auroc", "pro": "aupro"}
_PLUS_MINUS = re.compile(r"^\s*([\d.]+)\s*±\s*([\d.]+)\s*$")


def from_bmad_csv(path: Path) -> PublishedTable:
    """BMAD's table as transcribed in ``methods/published/bmad.csv`` (values in %, NA where the
    paper gives none)."""
    text = Path(path).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    numbers = []
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        for column, cell in row.items():
            if column == "method" or cell in ("NA", "", None):
                continue
            theirs, _, kind = column.partition("_")
            found = _PLUS_MINUS.match(cell)
            if not found:
                raise ParamError(f"{path}: {row['method']} {column}: expected MEAN±STD in %, got {cell!r}")
            numbers.append((row["method"], theirs, _BMAD_METRIC[kind], float(found[1]) / 100, float(found[2]) / 100))
    return PublishedTable(
        "bmad",
        "BMAD",
        "Bao et al., BMAD: Benchmarks for Medical Anomaly Detection, CVPR Workshops 2024; its repository's results table",
        "BMAD's own preprocessing, image sizes, backbones and checkpoint rules (its config/*.yaml), "
        "on BraTS 2021, BTCV+LiTS, RESC, OCT2017, RSNA and Camelyon16",
        "bao2024bmad",
        {
            "brats": "BraTS2021",
            "liver": "BTCV+LiTS",
            "resc": "RESC",
            "oct2017": "oct",
            "rsna": "RSNA",
            "camelyon16": "Camelyon16",
        },
        numbers,
        citation=BMAD_CITATION,
    )


BMAD_CITATION = r"""@inproceedings{bao2024bmad,
  author = {Bao, Jinan and Sun, Hanshi and Deng, Hanqiu and He, Yinsheng and Zhang, Zhaoxiang and Li, Xingyu},
  title = {{BMAD}: Benchmarks for Medical Anomaly Detection},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition Workshops (CVPRW)},
  year = {2024}
}"""


def parse_choice(text: str, tables: dict[str, PublishedTable]) -> tuple[PublishedTable, dict[str, str]]:
    """``bmad`` or ``bmad:brats=lgg_mri,rsna=RSNA``: the table and a mapping of its datasets
    onto benchbox's (overriding its own)."""
    name, _, rest = text.partition(":")
    if name not in tables:
        raise ParamError(f"--published {text!r}: unknown table {name!r}; known: {', '.join(sorted(tables))}")
    table, mapping = tables[name], {}
    for part in filter(None, rest.split(",")):
        theirs, sep, ours = part.partition("=")
        if not sep or theirs not in {d for _, d, *_ in table.numbers}:
            known = sorted({d for _, d, *_ in table.numbers})
            raise ParamError(f"--published {text!r}: {part!r} is not THEIRS=OURS with THEIRS one of {', '.join(known)}")
        mapping[theirs] = ours
    return table, mapping
