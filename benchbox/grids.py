"""Named grids and presets, read from a small TOML file (``grids.toml`` by default)."""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import ParamError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_FILE = Path(__file__).with_name("grids.toml")
PRESET_KEYS = {"description", "image_size", "epochs", "batch_size", "seeds"}


def load(path=None) -> dict:
    path = Path(path) if path else DEFAULT_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ParamError(f"--grid-file {path}: cannot read it ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ParamError(f"--grid-file {path}: not valid TOML ({error})") from None
    return {"grids": data.get("grids", {}), "presets": data.get("presets", {}), "path": str(path)}


def grid(config: dict, name: str) -> list[str]:
    grids = config["grids"]
    if name not in grids:
        raise ParamError(f"unknown grid {name!r} in {config['path']}; grids: {', '.join(sorted(grids))}")
    methods = grids[name].get("methods")
    if not isinstance(methods, list) or not methods or not all(isinstance(m, str) for m in methods):
        raise ParamError(f"grid {name!r} in {config['path']}: 'methods' must be a list of method entries")
    return methods


def row_names(config: dict, name: str) -> list[str]:
    """How a table names the grid's rows: its ``rows`` (the paper's row names, one per method
    entry), else the entries themselves."""
    methods = grid(config, name)
    names = config["grids"][name].get("rows", methods)
    if not isinstance(names, list) or len(names) != len(methods) or not all(isinstance(n, str) for n in names):
        raise ParamError(f"grid {name!r} in {config['path']}: 'rows' must name each of its {len(methods)} "
                         "method entries")
    return names


def preset(config: dict, name: str) -> dict:
    presets = config["presets"]
    if name not in presets:
        raise ParamError(f"unknown preset {name!r} in {config['path']}; presets: {', '.join(sorted(presets))}")
    values = presets[name]
    unknown = set(values) - PRESET_KEYS
    if unknown:
        raise ParamError(f"preset {name!r} in {config['path']}: unknown keys {', '.join(sorted(unknown))}; "
                         f"valid: {', '.join(sorted(PRESET_KEYS))}")
    return {k: v for k, v in values.items() if k != "description"}
