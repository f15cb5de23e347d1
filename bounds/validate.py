"""Checks every spec and settings field runs on construction: a bad value raises `SpecError` (a ValueError) naming
the field and the allowed range."""
from __future__ import annotations

import math
from typing import Any


class SpecError(ValueError):
    """A spec field holds a value outside its allowed range."""


def invalid(name: str, value: Any, allowed: str) -> None:
    raise SpecError(f"{name}={value!r} is invalid: {allowed}")


def finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
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
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and math.isfinite(value):
            value = int(value)
        else:
            invalid(name, value, f"must be an integer >= {minimum}")
    if value < minimum:
        invalid(name, value, f"must be an integer >= {minimum}")
    return value


def choice(name: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        invalid(name, value, f"must be one of {', '.join(options)}")
