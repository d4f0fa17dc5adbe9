"""The project a notebook runs in: its root and its ``params.yaml``.

Notebooks take their parameters from ``params.yaml``, so that one opened in Jupyter computes what the
pipeline computes (and resumes or leaves alone what ``dvc repro`` made, rather than replacing it with
other settings). Under papermill the stage's values are injected after the parameters cell: the same ones.
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from .config import parse_assignments


def find_root(start: str | os.PathLike = ".") -> Path:
    """The nearest folder at or above ``start`` that holds ``params.yaml``."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / "params.yaml").is_file():
            return folder
    raise FileNotFoundError(f"no params.yaml in {start} or any folder above it: run from inside the project "
                            "(its root holds params.yaml)")


def enter_project(start: str | os.PathLike = ".") -> dict:
    """Make the project's root the working folder (params.yaml's paths start there; Jupyter starts a
    notebook in ``notebooks/``) and return its params.yaml."""
    root = find_root(start)
    os.chdir(root)
    with open(root / "params.yaml") as f:
        return yaml.safe_load(f)


# ------------------------------------------------------------ another profile, as a DVC experiment

def _hydra_value(value) -> str:
    """A value in the syntax of DVC's --set-param (Hydra's override grammar): strings quoted, lists and
    mappings in flow style, null, true and false as YAML has them."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_hydra_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_hydra_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def profile_overrides(base: dict, profile: dict, prefix: str = "", overlay: bool = False) -> list[str]:
    """The ``--set-param`` values that turn the params ``base`` into ``profile``: ``++key=value`` for each
    value that differs (mappings key by key, lists and numbers whole). Sections the profile leaves out keep
    their ``base`` values; inside a section it has, it must set every key ``base`` has, so that no value
    of the embedded default leaks into the profile's run. An ``overlay`` (the quick profile) is the
    opposite: it names only what it changes, and every other value is ``base``'s."""
    missing = [f"{prefix}{k}" for k in base if k not in profile] if prefix and not overlay else []
    if missing:
        raise ValueError(f"the profile does not set {missing}: every key of params.yaml in a section it has "
                         "must be spelled out there (else params.yaml's value would be used)")
    out = []
    for key, value in profile.items():
        old = base.get(key, _ABSENT)
        if isinstance(value, dict) and isinstance(old, dict):
            out += profile_overrides(old, value, f"{prefix}{key}.", overlay)
        elif value != old or type(value) is not type(old):
            out.append(f"++{prefix}{key}={_hydra_value(value)}")
    return out


_ABSENT = object()


def experiment_command(profile: str | os.PathLike, name: str, params: str | os.PathLike = "params.yaml",
                       copy_paths: tuple[str, ...] = (), overlay: bool = False,
                       changes: tuple[str, ...] = ()) -> list[str]:
    """``dvc exp run`` of the whole pipeline with every value of ``profile`` (a params file; an ``overlay``
    names only what it changes), in a temporary copy of the project (``--temp``): the workspace and its
    params.yaml are left as they are, and the run is kept as experiment ``name`` (``dvc exp show``,
    ``dvc exp apply NAME``). ``changes`` (``key=value``) are set on top of the profile, as ``dvc exp run -S``
    sets them. ``copy_paths`` are untracked folders the run needs in its copy, e.g. the unpacked real
    datasets under data/real."""
    parse_assignments(changes, "--set")   # refused here, naming the item, before DVC starts
    with open(params) as f:
        base = yaml.safe_load(f)
    with open(profile) as f:
        wanted = yaml.safe_load(f)
    if not isinstance(wanted, dict):
        raise ValueError(f"profile={str(profile)!r} is not accepted: expected a params file (a YAML mapping)")
    command = ["dvc", "exp", "run", "--temp", "--name", name]
    for path in copy_paths:
        command += ["--copy-paths", str(path)]
    for override in profile_overrides(base, wanted, overlay=overlay):
        command += ["--set-param", override]
    for change in changes:
        command += ["--set-param", change]
    return command + ["dvc.yaml"]
