"""What every settings dataclass shares: ``replace``, ``to_dict`` and ``from_dict``; and :func:`differing`,
which names the settings two runs disagree on.

Settings travel through JSON (dataset cards, checkpoints) and YAML (params.yaml), where tuples become
lists; ``from_dict`` turns them back and refuses unknown names, listing the accepted ones. Each class
validates its values itself, in ``__post_init__``.
"""
from __future__ import annotations

import dataclasses


def differing(old: dict, new: dict) -> list[str]:
    """The sorted keys whose values differ between two settings dicts (a key missing from one counts as None)."""
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


class Settings:
    """Mixed into a (frozen) dataclass; ``kind`` names the settings in messages ("unknown fractal setting")."""

    kind = "settings"

    def replace(self, **changes):
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain, JSON-able values: tuples as lists."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def check_names(cls, d) -> dict:
        """``d`` as a dict, after checking that it is a mapping of this class's setting names."""
        if not isinstance(d, dict):
            raise ValueError(f"{cls.kind} settings={d!r} are not accepted: expected a mapping of setting names")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown {cls.kind} setting(s) {unknown}; accepted: {sorted(names)}")
        return dict(d)

    @classmethod
    def from_dict(cls, d: dict | None):
        """Settings from a dict (None: the defaults); lists become tuples again."""
        d = cls.check_names({} if d is None else d)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
