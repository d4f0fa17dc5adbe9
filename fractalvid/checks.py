"""The package's one message for a bad setting: the value given, and what would be accepted.

Every module validates its settings with :func:`check` before any expensive work, so a user always reads
``name=value is not accepted: expected ...``.
"""
from __future__ import annotations

import math
import numbers


def check(ok: bool, name: str, value, accepted: str) -> None:
    """Raise ValueError("{name}={value!r} is not accepted: expected {accepted}") unless ``ok``."""
    if not ok:
        raise ValueError(f"{name}={value!r} is not accepted: expected {accepted}")


def check_int(name: str, value, low: int, accepted: str) -> None:
    """Raise the same ValueError unless ``value`` is an integer (not a bool) >= ``low``."""
    check(is_int(value) and value >= low, name, value, accepted)


def is_int(value) -> bool:
    """An integer (Python's or numpy's), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """A real number (Python's or numpy's), not a bool and not NaN; infinity passes (a range check bounds it)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)
