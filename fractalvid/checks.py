"""The package's one message for a bad setting: the value given, and what would be accepted.

Every module validates its settings with :func:`check` before any expensive work, so a user always reads
``name=value is not accepted: expected ...``.
"""
from __future__ import annotations


def check(ok: bool, name: str, value, accepted: str) -> None:
    """Raise ValueError("{name}={value!r} is not accepted: expected {accepted}") unless ``ok``."""
    if not ok:
        raise ValueError(f"{name}={value!r} is not accepted: expected {accepted}")


def check_int(name: str, value, low: int, accepted: str) -> None:
    """Raise the same ValueError unless ``value`` is an integer (not a bool) >= ``low``."""
    check(isinstance(value, int) and not isinstance(value, bool) and value >= low, name, value, accepted)
