"""Named grids (which method entries) and presets (which protocol), contributed by plugins.

A plugin implements ``benchbox_register_grids(register)`` and calls ``register(path)`` with a
TOML file of ``[grids.NAME]`` and ``[presets.NAME]`` tables (the built-in methods contribute
``methods/grids.toml``; SALAD its paper's ablations and protocol in ``methods/salad/grids.toml``).
Two plugins may not define the same name; a user's ``--grid-file`` is read last and its names
win (copy a plugin's file, edit it, pass it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import BenchboxError, ParamError
from .params import parse_entry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRESET_KEYS = {"description", "image_size", "epochs", "batch_size", "seeds"}


def read(path, what: str = "--grid-file") -> dict:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ParamError(f"{what} {path}: cannot read it ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ParamError(f"{what} {path}: not valid TOML ({error})") from None
    return {"grids": data.get("grids", {}), "presets": data.get("presets", {})}


def merge(files) -> dict:
    """The grids and presets of ``files`` (``(path, provider)`` pairs, in registration order:
    built-ins first), each entry with the file it came from; two files may not define one name."""
    merged = {"grids": {}, "presets": {}, "source": {}}
    for path, provider in files:
        for kind, entries in read(path, f"grids of {provider}").items():
            for name, spec in entries.items():
                if name in merged[kind]:
                    raise BenchboxError(
                        f"{kind[:-1]} {name!r} is defined by {merged['source'][kind, name]} and by {path}"
                    )
                merged[kind][name] = spec
                merged["source"][kind, name] = str(path)
    return merged


def load(path=None, base: dict | None = None) -> dict:
    """``base`` (the plugins' grids and presets: ``Plugins.grids``) with those of ``path`` (a
    user's file) over them."""
    base = base or {"grids": {}, "presets": {}, "source": {}}
    config = {
        "grids": dict(base["grids"]),
        "presets": dict(base["presets"]),
        "source": dict(base["source"]),
        "path": "the plugins' grids",
    }
    if path:
        extra = read(path)
        for kind, entries in extra.items():
            config[kind].update(entries)
            config["source"].update({(kind, name): str(path) for name in entries})
        config["path"] = f"{path} and the plugins' grids"
    return config


def grid(config: dict, name: str) -> list[str]:
    grids = config["grids"]
    if name not in grids:
        raise ParamError(f"unknown grid {name!r} in {config['path']}; grids: {', '.join(sorted(grids))}")
    methods = grids[name].get("methods")
    if not isinstance(methods, list) or not methods or not all(isinstance(m, str) for m in methods):
        raise ParamError(
            f"grid {name!r} in {config['source'][('grids', name)]}: 'methods' must be a list of method entries"
        )
    return methods


def row_names(config: dict, name: str) -> list[str]:
    """How a table names the grid's rows: its ``rows`` (a paper's row names, one per method
    entry), else the entries themselves."""
    methods = grid(config, name)
    names = config["grids"][name].get("rows", methods)
    if not isinstance(names, list) or len(names) != len(methods) or not all(isinstance(n, str) for n in names):
        raise ParamError(
            f"grid {name!r} in {config['source'][('grids', name)]}: 'rows' must name each of its "
            f"{len(methods)} method entries"
        )
    return names


def preset(config: dict, name: str) -> dict:
    presets = config["presets"]
    if name not in presets:
        raise ParamError(f"unknown preset {name!r} in {config['path']}; presets: {', '.join(sorted(presets))}")
    values = presets[name]
    unknown = set(values) - PRESET_KEYS
    if unknown:
        raise ParamError(
            f"preset {name!r} in {config['source'][('presets', name)]}: unknown keys "
            f"{', '.join(sorted(unknown))}; valid: {', '.join(sorted(PRESET_KEYS))}"
        )
    return {k: v for k, v in values.items() if k != "description"}


def row_order(config: dict) -> dict[str, int]:
    """Method -> rank: the order in which methods first appear in the grids (the built-in
    methods' file lists the SALAD paper's Table I first); others follow alphabetically."""
    order: dict[str, int] = {}
    for spec in config["grids"].values():
        for entry in spec.get("methods") or ():
            order.setdefault(parse_entry(entry)[0], len(order))
    return order
