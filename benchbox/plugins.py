"""Plugin discovery: built-ins and entry-point plugins register through the same hooks."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pluggy

from . import grids, hookspecs
from .errors import BenchboxError, UnknownName

ENTRY_POINT_GROUP = "benchbox"
BUILTIN_PLUGINS = ("benchbox.methods", "benchbox.datasets")


@dataclass(frozen=True)
class Provider:
    """Who provided a registered class: plugin name, distribution and version."""

    plugin: str
    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.plugin} ({self.distribution} {self.version})"


class Registry:
    """Name -> class, refusing a second class under a name already taken."""

    def __init__(self, kind: str, owner: Plugins | None = None):
        self.kind = kind
        self.owner = owner  # for the broken plugins an unknown name may belong to
        self._items: dict[str, tuple[type, Provider]] = {}

    def add(self, cls: type, provider: Provider) -> None:
        name = getattr(cls, "name", "")
        if not isinstance(name, str) or not name:
            raise BenchboxError(f"{provider} registered a {self.kind} class {cls.__qualname__} without a name")
        if name in self._items:
            _, first = self._items[name]
            raise BenchboxError(f"duplicate {self.kind} name {name!r}: provided by {first} and by {provider}")
        self._items[name] = (cls, provider)

    def get(self, name: str) -> type:
        if name not in self._items:
            broken = self.owner.broken if self.owner is not None else {}
            hint = "".join(
                f"; plugin {plugin} ({dist} {version}), which may provide it, failed to load: {error}"
                for plugin, (dist, version, error) in sorted(broken.items())
            )
            raise UnknownName(f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(self.names())}{hint}")
        return self._items[name][0]

    def provider(self, name: str) -> Provider:
        self.get(name)
        return self._items[name][1]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class Plugins:
    """The plugin manager and the two registries built from it."""

    def __init__(self, load_entry_points: bool = True):
        self.pm = pluggy.PluginManager("benchbox")
        self.pm.add_hookspecs(hookspecs)
        self._dists: dict[str, tuple[str, str]] = {}
        for module_name in BUILTIN_PLUGINS:
            module = importlib.import_module(module_name)
            self.pm.register(module, name=module_name)
            self._dists[module_name] = ("benchbox-ad", _version("benchbox-ad"))
        #: Installed plugins that failed to load: name -> (distribution, version, error). Each is
        #: left out, so that one broken plugin does not break every command.
        self.broken: dict[str, tuple[str, str, str]] = {}
        self._check_hooks()
        # Entry points can be switched off (BENCHBOX_NO_ENTRY_POINTS=1) to isolate a run.
        if load_entry_points and not os.environ.get("BENCHBOX_NO_ENTRY_POINTS"):
            self._load_entry_points()
        self._by_hand: dict[str, str] = {}  # plugin name -> module name, registered by hand
        self._methods: Registry | None = None
        self._datasets: Registry | None = None
        self._grids: dict | None = None
        self._published: Registry | None = None

    def _load_entry_points(self) -> None:
        for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if self.pm.get_plugin(entry.name) is not None or self.pm.is_blocked(entry.name):
                continue
            dist = (entry.dist.metadata["name"], entry.dist.version) if entry.dist else ("unknown", "unknown")
            try:
                plugin = entry.load()
                self.pm.register(plugin, name=entry.name)
            except Exception as error:  # a missing import, a syntax error...
                self.broken[entry.name] = (*dist, f"{type(error).__name__}: {error}")
                continue
            try:
                self._check_hooks()
            except BenchboxError as error:  # a misspelled hook
                self.pm.unregister(name=entry.name)
                self.broken[entry.name] = (*dist, str(error))
                continue
            self._dists[entry.name] = dist

    def broken_lines(self) -> list[str]:
        """One line per plugin that failed to load."""
        return [
            f"plugin {name} ({dist} {version}) failed to load and is left out: {error}"
            for name, (dist, version, error) in sorted(self.broken.items())
        ]

    def register(self, plugin, name: str, distribution: str = "(in-process)", version: str = "") -> None:
        """Register a plugin object by hand (tests, notebooks). A plugin module is also
        registered in every worker process of --jobs and Ray, by its import name."""
        self.pm.register(plugin, name=name)
        self._dists[name] = (distribution, version)
        if isinstance(plugin, types.ModuleType):
            self._by_hand[name] = plugin.__name__
        try:
            self._check_hooks()
        except BenchboxError:
            self.unregister(name)  # leaves no trace of the broken plugin
            raise
        self._methods = self._datasets = self._grids = self._published = None

    def _check_hooks(self) -> None:
        """A hook implementation that matches no benchbox hook (a misspelling) is an error: it
        would load silently and its methods would never appear."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as error:
            known = ", ".join(sorted(n for n in dir(hookspecs) if n.startswith("benchbox_")))
            raise BenchboxError(f"{error}; benchbox's hooks are: {known}") from None

    def registered_by_hand(self) -> list[tuple[str, str, str, str]]:
        """(name, module, distribution, version) of the plugin modules registered by hand,
        for workers to register too (:func:`worker_plugins`)."""
        return [(name, module, *self._dists[name]) for name, module in self._by_hand.items()]

    def unregister(self, name: str) -> None:
        self._by_hand.pop(name, None)
        self._dists.pop(name, None)
        self.pm.unregister(name=name)
        self._methods = self._datasets = self._grids = self._published = None

    def _build(self, hook, kind: str) -> Registry:
        registry = Registry(kind, self)
        for impl in hook.get_hookimpls():
            dist, version = self._dists.get(impl.plugin_name, ("unknown", "unknown"))
            provider = Provider(impl.plugin_name, dist, version)
            if impl.plugin_name in self.broken:
                continue
            classes = []
            try:
                impl.function(register=classes.append)
            except Exception as error:
                installed = impl.plugin_name not in BUILTIN_PLUGINS and impl.plugin_name not in self._by_hand
                if not installed:
                    raise
                # An installed plugin whose hook fails is left out, as one that does not import.
                self.broken[impl.plugin_name] = (dist, version, f"{type(error).__name__}: {error}")
                continue
            for cls in classes:
                registry.add(cls, provider)
        return registry

    @property
    def methods(self) -> Registry:
        if self._methods is None:
            self._methods = self._build(self.pm.hook.benchbox_register_methods, "method")
        return self._methods

    @property
    def datasets(self) -> Registry:
        if self._datasets is None:
            self._datasets = self._build(self.pm.hook.benchbox_register_datasets, "dataset")
        return self._datasets

    @property
    def published(self) -> Registry:
        """The published tables the plugins provide (:mod:`benchbox.published`)."""
        if self._published is None:
            self._published = self._build(self.pm.hook.benchbox_register_published, "published table")
        return self._published

    @property
    def grids(self) -> dict:
        """The grids and presets the plugins contribute (:func:`benchbox.grids.merge`), each
        plugin's ``benchbox_register_grids(register)`` calling ``register(path)``."""
        if self._grids is None:
            files = []
            for impl in self.pm.hook.benchbox_register_grids.get_hookimpls():  # as methods are registered
                impl.function(register=lambda path, name=impl.plugin_name: files.append((path, name)))
            self._grids = grids.merge(files)
        return self._grids

    def grid_config(self, path=None) -> dict:
        """The plugins' grids and presets with a user's ``--grid-file`` over them."""
        return grids.load(path, self.grids)

    def row_order(self) -> dict[str, int]:
        """Method -> its row in tables: the order of the plugins' grids (:func:`benchbox.grids.row_order`)."""
        return grids.row_order(self.grids)

    def make_dataset(self, name: str, params: dict, data_root=None, cache_dir=None):
        """An instance of dataset ``name`` with ``params``, reading from ``data_root``."""
        return self.datasets.get(name)(data_root=data_root, cache_dir=cache_dir, **params)

    def plugin_table(self) -> list[tuple[str, str, str, list[str], list[str]]]:
        """(plugin, distribution, version, methods, datasets) per plugin."""
        rows = []
        for name in sorted(self._dists):
            if self.pm.get_plugin(name) is None or name in self.broken:
                continue
            dist, version = self._dists[name]
            methods = [m for m in self.methods.names() if self.methods.provider(m).plugin == name]
            datasets = [d for d in self.datasets.names() if self.datasets.provider(d).plugin == name]
            rows.append((name, dist, version, methods, datasets))
        return rows


@functools.cache
def source_digest(cls: type) -> str | None:
    """A digest (16 hex digits) of the source ``cls`` runs: its module's file, and where that
    module is part of a package, the package folder's other ``.py`` files (a method's helpers).
    Recorded with each result, to say when finished results were made by other code; None
    where the class has no source file."""
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if not path:
        return None
    path = Path(path)
    files = sorted(path.parent.glob("*.py")) if "." in cls.__module__ else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


_plugins: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugin manager, loaded on first use."""
    global _plugins
    if _plugins is None:
        _plugins = Plugins()
    return _plugins


def worker_plugins(by_hand=()) -> Plugins:
    """A worker's plugins: what ``benchbox`` loads, plus the modules the driver registered by
    hand (``Plugins.registered_by_hand``); each must be importable in the worker."""
    plugins = get_plugins()
    for name, module, distribution, version in by_hand:
        if plugins.pm.get_plugin(name) is None:
            plugins.register(importlib.import_module(module), name, distribution, version)
    return plugins
