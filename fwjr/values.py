"""Coercion of the values real FWJRs carry into numbers and strings.

Real documents put null where a number is due, write exit codes as strings, use -1,
"nan", "inf" and "" for "no value", and Mongo exports wrap numbers as
{"$numberLong": "..."}. Every path reads values through these functions, so a drift
handled once is handled everywhere.
"""

from __future__ import annotations

import math
from typing import Any, Final

_MONGO_NUMBER_KEYS: Final = ("$numberLong", "$numberInt", "$numberDouble", "$numberDecimal")


def unwrap(value: Any) -> Any:
    """Strip a Mongo extended-JSON number wrapper; anything else is returned as is."""
    if type(value) is dict and len(value) == 1:
        for key in _MONGO_NUMBER_KEYS:
            if key in value:
                return value[key]
    return value


def as_float(value: Any) -> float | None:
    """A finite number, or None for anything that means "no value".

    bool is not a number here: `true` in a metric is drift, not 1.0.
    """
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        return float(value)
    if kind is str:
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    if kind is dict:
        inner = unwrap(value)
        return None if type(inner) is dict else as_float(inner)  # one wrapper: no recursion
    return None


# No counter of one job comes near this; above it a value is corrupt, and a stored
# micro-unit sum (Int64, max ~9.2e12 units) could not hold it anyway.
MAX_METRIC: Final = 1e12


def as_metric(value: Any) -> float | None:
    """A metric value; negative values (-1, -2) are the reports' "no value" markers, absurd ones are corrupt."""
    kind = type(value)
    if kind is float:  # the common cases first; nan fails both comparisons
        return value if 0.0 <= value <= MAX_METRIC else None
    if kind is int:
        return float(value) if 0 <= value <= MAX_METRIC else None
    number = as_float(value)
    if number is None or number < 0 or number > MAX_METRIC:
        return None
    return number


def as_int(value: Any) -> int | None:
    """An integer (exit codes, timestamps), or None when the value carries none."""
    if type(value) is int:
        return value
    number = as_float(value)
    if number is None or number != int(number):
        return None
    return int(number)


def as_str(value: Any) -> str:
    """A string field; null, {} and non-strings become "" (numbers keep their digits)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is int:
        return str(value)
    return ""
