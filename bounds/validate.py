"""Checks every spec and settings field runs on construction: a bad value raises `SpecError` (a ValueError) naming
the field and the allowed range."""
from __future__ import annotations

import math
import numbers
import copy
import dataclasses
from typing import Any, Mapping


class SpecError(ValueError):
    """A spec field holds a value outside its allowed range."""


def invalid(name: str, value: Any, allowed: str) -> None:
    raise SpecError(f"{name}={value!r} is invalid: {allowed}")


def finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy's scalars are numbers.Real too
        invalid(name, value, "must be a real number")
    if not math.isfinite(value):
        invalid(name, value, "must be a finite number (not NaN or infinity)")
    return float(value)


def positive(name: str, value: Any) -> float:
    v = finite(name, value)
    if v <= 0:
        invalid(name, value, "must be > 0")
    return v


def count(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
            value = int(value)
        else:
            invalid(name, value, f"must be an integer >= {minimum}")
    value = int(value)
    if value < minimum:
        invalid(name, value, f"must be an integer >= {minimum}")
    return value


def choice(name: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        invalid(name, value, f"must be one of {', '.join(options)}")


def instance(name: str, value: Any, kind: type, example: str) -> None:
    """A nested part of a spec must be its dataclass (a string or a dict there is a typo, not a shorthand)."""
    if not isinstance(value, kind):
        invalid(name, value, f"must be a {kind.__name__}, e.g. {example}")


def text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        invalid(name, value, "must be a non-empty string")
    return value


def table(name: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        invalid(name, value, "must be a table of fields (e.g. [spec.model] in TOML, {...} in JSON)")
    return value


def sequence(name: str, value: Any) -> tuple:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        invalid(name, value, "must be a list")
    return tuple(value)


def build(kind: type, name: str, fields: Any) -> Any:
    """kind(**fields), an unknown field named with the known ones."""
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(table(name, fields)) - known)
    if unknown:
        invalid(f"{name}.{unknown[0]}", fields[unknown[0]], f"is not a field of {name}: known are "
                + ", ".join(sorted(known)))
    return kind(**fields)


def set_path(tree: dict[str, Any], path: str, value: Any, where: str) -> None:
    """tree[a][b][c] = value for path 'a.b.c', where every part already exists (else a SpecError naming it)."""
    node = tree
    parts = path.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            raise SpecError(f"{where}: {path!r} is not a setting (no section {part!r})")
        node = node[part]
    if parts[-1] not in node:
        known = ", ".join(sorted(k for k in node if not isinstance(node[k], dict)))
        raise SpecError(f"{where}: {path!r} is not a setting ({parts[-1]!r} is unknown; known here: {known})")
    node[parts[-1]] = value


def merge_tree(base: dict[str, Any], changes: dict[str, Any], where: str) -> dict[str, Any]:
    """A copy of a spec's dict with the (nested) changes put in: a config or sweep file changes what it names and
    keeps the rest of its base."""
    out = copy.deepcopy(base)
    for k, v in changes.items():
        if isinstance(v, dict):
            if not isinstance(out.get(k), dict):
                raise SpecError(f"{where}: [{k}] is not a section of the spec")
            out[k] = merge_tree(out[k], v, f"{where}.{k}")
        else:
            set_path(out, k, v, where)
    return out
