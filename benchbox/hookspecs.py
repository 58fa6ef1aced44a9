"""The hooks a benchbox plugin implements.

A plugin is a module (or object) with functions decorated by ``benchbox.hookimpl``; it is
found through the ``benchbox`` entry-point group. Each hook receives a ``register``
callback and calls it once per class it provides.
"""

import pluggy

hookspec = pluggy.HookspecMarker("benchbox")
hookimpl = pluggy.HookimplMarker("benchbox")


@hookspec
def benchbox_register_methods(register):
    """Call ``register(MethodClass)`` for each anomaly-detection method provided."""


@hookspec
def benchbox_register_datasets(register):
    """Call ``register(DatasetClass)`` for each dataset provided."""


@hookspec
def benchbox_register_grids(register):
    """Call ``register(path)`` with a TOML file of named grids and presets (see
    :mod:`benchbox.grids`)."""


@hookspec
def benchbox_register_published(register):
    """Call ``register(table)`` with each :class:`benchbox.published.PublishedTable` of published
    numbers provided (``benchbox table --published NAME``)."""
