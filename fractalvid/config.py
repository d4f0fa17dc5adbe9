"""What every settings dataclass shares: ``replace``, ``to_dict`` and ``from_dict``; and :func:`differing`,
which names the settings two runs disagree on.

Settings travel through JSON (dataset cards, checkpoints) and YAML (params.yaml), where tuples become
lists; ``from_dict`` turns them back and refuses unknown names, listing the accepted ones. Each class
validates its values itself, in ``__post_init__``.

A setting changed on a command line is ``KEY=VALUE``, read by :func:`parse_assignments` alone: the syntax of
``dvc exp run -S`` (dotted keys, values as YAML flow, e.g. ``finetune.recipe.epochs=100`` or
``downstream.weizmann.classes=[jump,run]``), for the CLI's ``--set`` and ``fractalvid exp-run --set`` alike.
"""
from __future__ import annotations

import dataclasses

import yaml


def parse_assignments(items, flag: str = "--set") -> dict:
    """``["KEY=VALUE", ...]`` -> ``{KEY: value}``, each value read as YAML (``3``, ``1.0e-3``, ``true``, ``null``,
    ``[a,b]``, ``{epochs:150}``; anything else a string), as ``dvc exp run -S`` reads it; keys stay dotted.
    Hydra's ``+``/``++`` prefixes are accepted. A missing ``=``, an empty key or a value that is not YAML is
    refused, naming the item."""
    out = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        key = key.strip().lstrip("+")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ValueError(f"{flag} {item!r} is not accepted: expected KEY=VALUE, e.g. epochs=10 or "
                             "finetune.recipe.epochs=10")
        try:
            out[key] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            raise ValueError(f"{flag} {item!r} is not accepted: its value is not YAML (quote a string that "
                             "holds : or #)") from None
    return out


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
