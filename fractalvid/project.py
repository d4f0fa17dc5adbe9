"""The project a notebook runs in: its root and its ``params.yaml``.

Notebooks take their parameters from ``params.yaml``, so that one opened in Jupyter computes what the
pipeline computes (and resumes or leaves alone what ``dvc repro`` made, rather than replacing it with
other settings). Under papermill the stage's values are injected after the parameters cell: the same ones.
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml


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
