"""What every lister of a real set shares: the record of one video, and the helpers that find a set's folders,
read its split lists line by line and say what is missing and which layout was expected."""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

VIDEO_EXTS = (".mp4", ".avi", ".mkv", ".webm", ".mov")
IMAGE_EXTS = (".jpg", ".jpeg", ".png")  # the frames of a video stored as a folder of images


@dataclass(frozen=True)
class VideoRecord:
    """One video of a real dataset: its file, its class index, its split ("train" or "test") and its group.

    ``group`` is the identity that the dataset's clips share and that must not straddle train and test
    (Weizmann's actor, UCF101's group, a source video: :mod:`.official`), or "" where the dataset records none
    (a generic set); :func:`prepare` writes it into the manifest,
    and :func:`fractalvid.learning.splits.clip_groups` makes folds of whole groups from it.
    """

    path: Path
    label: int
    split: str
    group: str = ""


def find_dir(root: Path, candidates: tuple[str, ...], ok, what: str, layout: str, sought: str | None = None) -> Path:
    """The first folder ``root/<candidate>`` for which ``ok(folder)`` holds; else FileNotFoundError saying
    ``what`` is missing, where it was looked for (``sought``, when a file named it) and the ``layout`` expected."""
    for c in candidates:
        d = root / c
        if d.is_dir() and ok(d):
            return d
    raise FileNotFoundError(f"{what} under {root}: " + (f"{sought} was looked for in " if sought else "looked in ")
                            + f"{looked_in(root, candidates)}; expected layout: {layout}")


def looked_in(root: Path, candidates: tuple[str, ...]) -> str:
    return ", ".join(str(root / c) for c in candidates)


def lines(path: Path):
    """(line number, line, its whitespace-separated fields) of each non-empty line of a text file: the loop of
    every split-list parser, whose errors name the file and line."""
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if fields:
            yield lineno, line, fields


def show(line: str, limit: int = 120) -> str:
    """A line for an error message: repr'd, cut to ``limit`` characters (Volleyball's lines are long)."""
    return repr(line if len(line) <= limit else line[:limit] + "...")


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} line {e.lineno} column {e.colno}: not valid JSON ({e.msg})") from None


class Resolver:
    """Finds ``folder/relative`` even when the file's case differs from the list's (case-insensitive fallback)."""

    def __init__(self, folder: Path):
        self.folder, self._index = folder, None

    def __call__(self, relative: str) -> Path:
        path = self.folder / relative
        if path.exists():
            return path
        if self._index is None:
            self._index = {str(p.relative_to(self.folder)).lower(): p for p in self.folder.rglob("*") if p.is_file()}
        return self._index.get(str(Path(relative)).lower(), path)


def check_found(records: list[VideoRecord], dataset: str, root: Path) -> None:
    missing = [r.path for r in records if not (r.path.is_file() or r.path.is_dir())]  # a dir: frame images
    if records and len(missing) == len(records):
        raise FileNotFoundError(f"none of the {len(records)} videos that the {dataset} split lists name exists "
                                f"under {root} (the first was looked for at {missing[0]})")
    if missing:
        warnings.warn(f"{len(missing)} of the {len(records)} {dataset} videos listed are missing "
                      f"(e.g. {missing[0]}); they stay in the list and prepare() reports them", stacklevel=3)
