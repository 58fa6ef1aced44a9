"""Parameters: declared with defaults on a class, coerced from strings given on the CLI.

Methods and datasets declare ``params = {"key": default, ...}`` and optionally
``choices = {"key": ("a", "b")}`` and ``ranges = {"key": "> 0"}`` (``">= 1"``, ``"(0, 1]"``,
``"any"``); the type of the default is the type of the parameter. A value outside its choices
or range is refused when the class is built, which the planner does before anything trains.
"""

from __future__ import annotations

import math
import re

from .errors import ParamError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def declared_params(cls) -> dict:
    """Defaults declared by ``cls`` and its bases (subclasses override)."""
    merged: dict = {}
    for klass in reversed(cls.__mro__):
        merged.update(klass.__dict__.get("params", {}))
    return merged


def _declared(cls, attribute: str) -> dict:
    merged: dict = {}
    for klass in reversed(cls.__mro__):
        merged.update(klass.__dict__.get(attribute, {}))
    return merged


def declared_choices(cls) -> dict:
    return _declared(cls, "choices")


def declared_ranges(cls) -> dict:
    return _declared(cls, "ranges")


def declared_invalid_examples(cls) -> dict:
    return _declared(cls, "invalid_examples")


_BOUND = re.compile(r"^\s*(>=|<=|>|<)\s*(\S+)\s*$")
_INTERVAL = re.compile(r"^\s*([\[(])\s*(\S+)\s*,\s*(\S+)\s*([\])])\s*$")


def parse_range(spec: str) -> tuple[float, bool, float, bool]:
    """``"> 0"``, ``">= 1"``, ``"(0, 1]"``, ``"any"`` -> (low, low included, high, high included)."""
    if spec.strip() == "any":
        return -math.inf, False, math.inf, False
    if found := _BOUND.match(spec):
        op, value = found.group(1), float(found.group(2))
        if op.startswith(">"):
            return value, op == ">=", math.inf, False
        return -math.inf, False, value, op == "<="
    if found := _INTERVAL.match(spec):
        return float(found.group(2)), found.group(1) == "[", float(found.group(3)), found.group(4) == "]"
    raise ValueError(f"not a range: {spec!r} (expected e.g. '> 0', '>= 1', '(0, 1]' or 'any')")


def in_range(value, spec: str) -> bool:
    low, low_in, high, high_in = parse_range(spec)
    if isinstance(value, float) and math.isnan(value):
        return False
    return (value > low or (low_in and value == low)) and (value < high or (high_in and value == high))


def outside(spec: str, kind: type):
    """A value of type ``kind`` just outside the range (None for ``any``): for conformance."""
    low, low_in, high, high_in = parse_range(spec)
    if low > -math.inf:
        return kind(low - 1 if low_in else low)
    if high < math.inf:
        return kind(high + 1 if high_in else high)
    return None


def coerce(owner: str, key: str, value, default, choices=None):
    """Convert ``value`` (often a string from the CLI) to the type of ``default``."""
    kind = type(default)
    where = f"{owner}: parameter '{key}'"
    try:
        if isinstance(value, str) and kind is not str and default is not None:
            text = value.strip()
            if kind is bool:
                if text.lower() in _TRUE:
                    value = True
                elif text.lower() in _FALSE:
                    value = False
                else:
                    raise ValueError
            elif kind is int:
                value = int(text)
            elif kind is float:
                value = float(text)
        elif kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
    except ValueError:
        raise ParamError(f"{where} expects {kind.__name__}, got {value!r}") from None
    if default is not None and not isinstance(value, kind):
        raise ParamError(f"{where} expects {kind.__name__}, got {value!r}")
    if choices and value not in choices:
        raise ParamError(f"{where} must be one of {', '.join(map(str, choices))}; got {value!r}")
    if isinstance(value, float) and math.isnan(value):
        raise ParamError(f"{where} must be a number, got nan")
    return value


def resolve(owner: str, cls, given: dict) -> dict:
    """Defaults of ``cls`` updated with ``given`` (old names of ``cls.renamed`` parameters
    accepted); unknown keys and bad values raise ParamError."""
    defaults = declared_params(cls)
    choices = declared_choices(cls)
    shadowing = sorted(k for k in defaults if callable(getattr(cls, k, None)))
    if shadowing:  # a parameter is also an attribute: it would hide the method of that name
        raise ParamError(
            f"{owner}: parameter {', '.join(map(repr, shadowing))} is named like a method "
            f"of {cls.__name__}; rename it (old spellings: the class's `renamed`)"
        )
    renamed = getattr(cls, "renamed", {})
    for old, new in renamed.items():
        if old in given:
            if new in given:
                raise ParamError(f"{owner}: give {new!r} or its old name {old!r}, not both")
            given = {(new if k == old else k): v for k, v in given.items()}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ParamError(
            f"{owner}: unknown parameter {', '.join(repr(k) for k in unknown)}; "
            f"valid keys: {', '.join(sorted(defaults)) or '(none)'}"
        )
    resolved = dict(defaults)
    for key, value in given.items():
        resolved[key] = coerce(owner, key, value, defaults[key], choices.get(key))
    for key, spec in declared_ranges(cls).items():
        if key in given and not in_range(resolved[key], spec):
            where = f"in {spec.strip()}" if spec.strip()[0] in "[(" else spec.strip()
            raise ParamError(f"{owner}: parameter '{key}' must be {where}, got {resolved[key]!r}")
    return resolved


_ENTRY = re.compile(r"^\s*([A-Za-z_][\w\-]*)\s*(?:\[(.*)\])?\s*$", re.S)


def parse_entry(entry: str) -> tuple[str, dict]:
    """``"salad[score=image,ssl=none]"`` -> ``("salad", {"score": "image", "ssl": "none"})``."""
    match = _ENTRY.match(entry)
    if not match or entry.count("[") != entry.count("]") or entry.count("[") > 1:
        raise ParamError(f"malformed method entry {entry!r}: expected NAME or NAME[key=value,...]")
    name, inner = match.group(1), match.group(2)
    params: dict = {}
    if inner is not None:
        if not inner.strip():
            raise ParamError(f"malformed method entry {entry!r}: empty brackets")
        for part in inner.split(","):
            key, sep, value = part.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not key or not value:
                raise ParamError(f"malformed parameter {part.strip()!r} in {entry!r}: expected key=value")
            if key in params:
                raise ParamError(f"parameter {key!r} given twice in {entry!r}")
            params[key] = value
    return name, params


def split_entries(text: str) -> list[str]:
    """Split a comma list at top level only: ``"ae,salad[a=1,b=2]"`` -> two entries."""
    entries, depth, current = [], 0, []
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "," and depth == 0:
            entries.append("".join(current))
            current = []
        else:
            current.append(char)
    entries.append("".join(current))
    entries = [e.strip() for e in entries]
    if any(not e for e in entries):
        raise ParamError(f"empty entry in list {text!r}")
    return entries


def parse_assignment(text: str) -> tuple[str, str, str]:
    """``"salad.ssl=none"`` -> ``("salad", "ssl", "none")`` for ``--param``."""
    target, sep, value = text.partition("=")
    name, dot, key = target.strip().partition(".")
    if not sep or not dot or not name or not key or not value.strip():
        raise ParamError(f"malformed --param {text!r}: expected NAME.KEY=VALUE")
    return name, key.strip(), value.strip()


def label(name: str, params: dict) -> str:
    """Canonical row label: parameters sorted, so equal entries give equal labels."""
    if not params:
        return name
    inner = ",".join(f"{k}={params[k]}" for k in sorted(params))
    return f"{name}[{inner}]"
