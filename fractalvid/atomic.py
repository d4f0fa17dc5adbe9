"""Writing a file so that no reader sees half of it: under a temporary name beside it, then renamed.

``os.replace`` within one folder is atomic, so a run killed mid-write leaves the last complete file (or
none), never a torn one; the next run or ``dvc repro`` finds either what was there or what was meant.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path beside ``path`` (its name + ``.tmp`` + ``suffix``, for writers that go by the
    extension); when the block ends, rename it to ``path``; on an error, remove it and re-raise."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp" + suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj) -> None:
    """``obj`` as indented JSON with sorted keys (so the same object is the same bytes)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def remove_leftovers(folder: str | os.PathLike) -> None:
    """Remove what a run killed mid-write left in ``folder`` (a killed process skips the clean-up above)."""
    for stale in Path(folder).glob("*.tmp*"):
        stale.unlink()
