"""What a paper's table shows of each plugin beyond its numbers: the name it is known by, the
BibTeX entries to cite after it, and whether it depends on the seed. Read from the plugins once
(:meth:`Catalogue.from_plugins`), so that the table code stays free of plugins; an empty
catalogue shows the plugins' ids and cites nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .experiment import method_of

_KEY = re.compile(r"@\w+\s*\{\s*([^,\s]+)\s*,")
_ENTRY = re.compile(r"^[A-Za-z0-9_.-]+(\[[^\]]*\])?")  # a row label's method entry; the rest is its suffix


def bib_keys(entries: str) -> list[str]:
    """The keys of the BibTeX entries in ``entries``, in order."""
    return _KEY.findall(entries or "")


def bib_entries(entries: str) -> dict[str, str]:
    """Key -> its entry's text, for each BibTeX entry in ``entries``."""
    starts = [m.start() for m in _KEY.finditer(entries or "")]
    pieces = [entries[a:b].strip() for a, b in zip(starts, [*starts[1:], len(entries or "")])]
    return {bib_keys(piece)[0]: piece for piece in pieces}


def _entry(label: str) -> str:
    """The method entry a row label starts with (``salad[ssl=none]`` of ``salad[ssl=none] (epochs=5)``)."""
    found = _ENTRY.match(label)
    return found.group(0) if found else label


def readable(params: dict) -> str:
    """Inline parameters as a reader reads them: ``feature constraint = none, ssl = none``."""
    return ", ".join(f"{key.replace('_', ' ')} = {value}" for key, value in params.items())


@dataclass
class Catalogue:
    """``methods`` / ``datasets``: plugin name -> (title, BibTeX entries); ``variants``: method
    entry -> its BibTeX entries where they differ from its plugin's (a variant's own paper)."""

    methods: dict[str, tuple[str, str]] = field(default_factory=dict)
    datasets: dict[str, tuple[str, str]] = field(default_factory=dict)
    variants: dict[str, str] = field(default_factory=dict)
    seed_independent: frozenset[str] = frozenset()

    @classmethod
    def from_plugins(cls, plugins, entries=()) -> Catalogue:
        """The installed plugins' metadata; ``entries``: method entries whose variants may cite
        a paper of their own (``cutpaste[augment=anatpaste]``)."""
        from .errors import BenchboxError
        from .params import parse_entry

        try:
            methods, datasets = plugins.methods, plugins.datasets
        except BenchboxError:  # plugins that do not load: ids, no references
            return cls()
        variants = {}
        for entry in entries:
            try:
                name, params = parse_entry(entry)
            except BenchboxError:
                continue
            if name in methods and params:
                own = methods.get(name).references(params)
                if own != methods.get(name).citation:
                    variants[entry] = own
        return cls(
            methods={n: (methods.get(n).title or n, methods.get(n).citation) for n in methods.names()},
            datasets={n: (datasets.get(n).title or n, datasets.get(n).citation) for n in datasets.names()},
            variants=variants,
            seed_independent=frozenset(n for n in methods.names() if methods.get(n).seed_independent),
        )

    def method_title(self, label: str) -> str:
        """``salad[feature_constraint=none]`` -> ``SALAD (feature constraint = none)``; a row
        label's own suffix (``ae (epochs=5)``, experiments told apart) is kept."""
        from .errors import BenchboxError
        from .params import parse_entry

        entry = _entry(label)
        try:
            name, params = parse_entry(entry)
        except BenchboxError:
            return label
        if name not in self.methods:
            return label  # not a method this catalogue knows: as typed
        title = self.methods[name][0]
        return (f"{title} ({readable(params)})" if params else title) + label[len(entry) :]

    def method_references(self, label: str) -> str:
        entry = _entry(label)
        return self.variants.get(entry) or self.methods.get(method_of(entry), ("", ""))[1]

    def dataset_title(self, plugin: str, name: str) -> str:
        """A dataset row's heading: its published name where it has one of its own (BrainTumor),
        else the plugin's title (OCT2017 for ``oct``)."""
        return self.datasets.get(plugin, (name, ""))[0] if name == plugin else name

    def dataset_references(self, plugin: str) -> str:
        return self.datasets.get(plugin, ("", ""))[1]

    def bibliography(self, records: list[dict]) -> str:
        """The ``.bib`` of every method and dataset the records used, each entry once, in the
        order first cited."""
        entries: dict[str, str] = {}
        for r in records:
            for text in (self.method_references(r["label"]), self.dataset_references(r["dataset"])):
                for key, entry in bib_entries(text).items():
                    entries.setdefault(key, entry)
        return "\n\n".join(entries.values()) + ("\n" if entries else "")
