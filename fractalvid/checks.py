"""The package's one message for a bad setting: the value given, and what would be accepted.

Every module validates its settings with :func:`check` before any expensive work, so a user always reads
``name=value is not accepted: expected ...``.
"""
from __future__ import annotations


def check(ok: bool, name: str, value, accepted: str) -> None:
    """Raise ValueError("{name}={value!r} is not accepted: expected {accepted}") unless ``ok``."""
    if not ok:
        raise ValueError(f"{name}={value!r} is not accepted: expected {accepted}")
