"""Real video datasets: list them, decode them, prepare them for training.

:func:`list_videos` reads the official layouts and split files of UCF101, HMDB51, Diving48, EGTEA Gaze+,
Volleyball, YUP++ and Weizmann, or a "generic" folder of class folders or a CSV, into :class:`VideoRecord` s.
:func:`prepare` decodes them with PyAV (:func:`read_video`; a folder of frame images counts as a video),
resizes the short side, and stores them as colour clips in the chunk store of
:mod:`fractalvid.store` (the format of generated datasets), so ``open_dataset`` reads both. Files that
cannot be read are skipped and listed in ``prepare_report.json`` / ``.csv``; nothing is dropped silently.
"""
from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing as mp
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from . import __version__
from .checks import check_int as _check_int
from .generate import PRESETS
from .progress import progress_bar
from .store import (PREPARED_FIELDS, chunk_done, chunk_paths, encode_clip, prepare_folder, read_rows, write_chunk,
                    write_json, write_rows)

DATASETS = ("ucf101", "hmdb51", "diving48", "egtea", "volleyball", "yup", "weizmann", "generic")
VIDEO_EXTS = (".mp4", ".avi", ".mkv", ".webm", ".mov")
IMAGE_EXTS = (".jpg", ".jpeg", ".png")  # the frames of a video stored as a folder of images
SPLITS = (1, 2, 3)
# the official splits each dataset publishes (ucf101, hmdb51 and egtea: three; the others: one; weizmann
# publishes none: its one split is WEIZMANN_TEST_ACTORS, stored here)
DATASET_SPLITS = {"ucf101": SPLITS, "hmdb51": SPLITS, "egtea": SPLITS, "diving48": (1,), "volleyball": (1,),
                  "yup": (1,), "weizmann": (1,), "generic": (1,)}
IMAGE_FOLDER_FPS = 25.0  # the rate given to a folder of frames (Volleyball's clips are 25 fps video frames)
# generic sets without a split of their own: a file is a test file when the hash of its name falls below this
GENERIC_TEST_FRACTION = 0.2
# what prepare writes into its folder (removed when overwriting a dataset of other settings; runs.jsonl: the
# wall-time log of older versions, see fractalvid.generate.PRODUCTS)
PREPARED_PRODUCTS = ("chunks", "manifest.csv", "card.json", "runs.jsonl", "settings.json", "prepare_report.json",
                     "prepare_report.csv")


@dataclass(frozen=True)
class VideoRecord:
    """One video of a real dataset: its file, its class index, its split ("train" or "test") and its group.

    ``group`` is the identity that the dataset's clips share and that must not straddle train and test
    (Weizmann's actor), or "" where the dataset records none; :func:`prepare` writes it into the manifest,
    and :func:`fractalvid.protocol.clip_groups` makes folds of whole groups from it.
    """

    path: Path
    label: int
    split: str
    group: str = ""


# ======================================================================= listing

def list_videos(dataset: str, root: str | os.PathLike, split: int = 1) -> tuple[list[VideoRecord], list[str]]:
    """The videos of a real dataset and its class names: ``(records, class_names)``.

    ``dataset`` is one of:

    - ``"ucf101"``: ``root/UCF-101/<Class>/v_*.avi`` and
      ``root/ucfTrainTestlist/{classInd.txt, trainlist0N.txt, testlist0N.txt}``
      (also accepted: the videos in ``root/UCF101``, ``root/videos`` or directly
      in ``root/<Class>``; the lists in ``root``, ``root/splits`` or
      ``root/UCF101TrainTestSplits-RecognitionTask/ucfTrainTestlist``).
      Labels are classInd's numbers minus 1.
    - ``"hmdb51"``: ``root/hmdb51/<class>/*.avi`` (each class's rar unpacked)
      and ``root/testTrainMulti_7030_splits/<class>_test_splitN.txt`` with lines
      ``<video>.avi <0|1|2>`` (1 train, 2 test, 0 unused and left out)
      (also accepted: videos in ``root/hmdb51_org``, ``root/HMDB51``,
      ``root/videos`` or ``root/<class>``; split files in ``root``,
      ``root/splits`` or ``root/test_train_splits[/testTrainMulti_7030_splits]``).
      Labels are the classes' places in alphabetical order.
    - ``"diving48"``: ``root/rgb/<vid_name>.mp4`` (``Diving48_rgb.tar.gz``
      unpacked; also ``root/videos`` or ``root``) and the annotation files
      ``Diving48_V2_train.json``, ``Diving48_V2_test.json`` (V1's
      ``Diving48_train.json``, ``Diving48_test.json`` when V2's are absent)
      with ``Diving48_vocab.json``, in ``root``, ``root/annotations`` or
      ``root/labels``. Labels are the annotations' ``label``; class i is
      vocabulary entry i joined with "_" (e.g. ``Back_35som_NoTwis_PIKE``).
    - ``"egtea"``: ``root/cropped_clips/<session>/<clip>.mp4`` (also
      ``root/cropped_clips/<clip>.mp4`` or ``root/videos/...``) and
      ``root/action_annotation/{action_idx.txt, train_splitN.txt,
      test_splitN.txt}`` (or in ``root``), lines ``<clip> <action> <verb>
      <noun>`` with 1-based ids. Labels are action ids minus 1, class names
      action_idx.txt's (``Open fridge 1``: the id is the last word).
    - ``"volleyball"``: ``root/videos/<video id>/annotations.txt`` (or
      ``root/<video id>/``), lines ``<frame id>.jpg <group activity> <players...>``;
      each line's clip is the folder ``root/videos/<video id>/<frame id>/`` of
      41 frames. Classes: ``VOLLEYBALL_ACTIVITIES``; videos split by
      ``VOLLEYBALL_TRAIN`` (+ ``VOLLEYBALL_VAL``, also training) and
      ``VOLLEYBALL_TEST``.
    - ``"yup"``: ``root/{camera_stationary,camera_moving}/<Class>/<file>.mp4``
      and ``10_90_randsplit_1.txt`` (in ``root`` or ``root/splits``), lines
      ``<file> <static|moving>_<train|test>``; classes sorted by name.
    - ``"weizmann"``: ``root/<action>/<actor>_<action>.avi`` (each action's
      zip of the classification database unpacked into a folder of its
      name) or ``root/<actor>_<action>.avi`` (every zip unpacked into one
      folder); Lena's second takes ``lena_run1.avi``, ``lena_run2.avi``, ...
      are action ``run`` (``wave1``/``wave2`` are actions of their own).
      Classes: the actions present, in ``WEIZMANN_ACTIONS``' order; each
      record's ``group`` is its actor. No official split: the actors
      ``WEIZMANN_TEST_ACTORS`` are the test split.
    - ``"generic"``: see :func:`list_generic` (split must be 1).

    ``split`` picks the official split: 1, 2 or 3 for UCF101, HMDB51 and
    EGTEA; the other sets publish one split, 1. Listed videos whose files are
    missing are kept (``prepare`` reports them) after a warning; when none is
    found, or the layout is not there, FileNotFoundError says where it looked.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset={dataset!r} is not accepted: expected one of {DATASETS}")
    splits = DATASET_SPLITS[dataset]
    if dataset == "generic":
        if split != 1 or isinstance(split, bool):
            raise ValueError(f"split={split!r} is not accepted for a generic dataset: it has one split, use 1")
        return list_generic(root)
    if split not in splits or isinstance(split, bool):
        raise ValueError(f"split={split!r} is not accepted for {dataset}: " + (
            f"expected one of {splits}" if len(splits) > 1 else "it publishes one split, use 1"))
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{dataset} root {root} is not a folder")
    lister = {"ucf101": _list_ucf101, "hmdb51": _list_hmdb51, "diving48": _list_diving48, "egtea": _list_egtea,
              "volleyball": _list_volleyball, "yup": _list_yup, "weizmann": _list_weizmann}[dataset]
    records, names = lister(root, split)
    _check_found(records, dataset, root)
    return records, names


def _first_dir(root: Path, candidates: tuple[str, ...], ok) -> Path | None:
    for c in candidates:
        d = root / c
        if d.is_dir() and ok(d):
            return d
    return None


def _looked_in(root: Path, candidates: tuple[str, ...]) -> str:
    return ", ".join(str(root / c) for c in candidates)


class _Resolver:
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


def _check_found(records: list[VideoRecord], dataset: str, root: Path) -> None:
    missing = [r.path for r in records if not (r.path.is_file() or r.path.is_dir())]  # a dir: frame images
    if records and len(missing) == len(records):
        raise FileNotFoundError(f"none of the {len(records)} videos that the {dataset} split lists name exists "
                                f"under {root} (the first was looked for at {missing[0]})")
    if missing:
        warnings.warn(f"{len(missing)} of the {len(records)} {dataset} videos listed are missing "
                      f"(e.g. {missing[0]}); they stay in the list and prepare() reports them", stacklevel=3)


_UCF_LAYOUT = ("root/UCF-101/<Class>/v_<Class>_gXX_cYY.avi and root/ucfTrainTestlist/{classInd.txt, "
               "trainlist0N.txt, testlist0N.txt} (UCF101.rar and UCF101TrainTestSplits-RecognitionTask.zip "
               "unpacked side by side)")
_UCF_LIST_DIRS = ("ucfTrainTestlist", "UCF101TrainTestSplits-RecognitionTask/ucfTrainTestlist",
                  "UCF-101/ucfTrainTestlist", "splits", ".")
_UCF_VIDEO_DIRS = ("UCF-101", "UCF101", "videos", ".")


def _list_ucf101(root: Path, split: int) -> tuple[list[VideoRecord], list[str]]:
    lists = _first_dir(root, _UCF_LIST_DIRS, lambda d: (d / "classInd.txt").is_file())
    if lists is None:
        raise FileNotFoundError(f"no UCF101 split lists under {root}: classInd.txt was looked for in "
                                f"{_looked_in(root, _UCF_LIST_DIRS)}; expected layout: {_UCF_LAYOUT}")
    numbered = {}
    for lineno, line in enumerate((lists / "classInd.txt").read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or not fields[0].isdigit():
            raise ValueError(f"{lists / 'classInd.txt'} line {lineno}: {line!r} is not accepted: "
                             "expected '<number> <ClassName>', e.g. '1 ApplyEyeMakeup'")
        numbered[int(fields[0])] = fields[1]
    if sorted(numbered) != list(range(1, len(numbered) + 1)):
        raise ValueError(f"{lists / 'classInd.txt'} numbers its classes {sorted(numbered)}: expected 1..N")
    names = [numbered[k] for k in sorted(numbered)]
    by_name = {n.lower(): i for i, n in enumerate(names)}
    videos = _first_dir(root, _UCF_VIDEO_DIRS, lambda d: any((d / n).is_dir() for n in names))
    if videos is None:
        raise FileNotFoundError(f"no UCF101 class folders (e.g. {names[0]}/) under {root}: looked in "
                                f"{_looked_in(root, _UCF_VIDEO_DIRS)}; expected layout: {_UCF_LAYOUT}")
    resolve = _Resolver(videos)
    records = []
    for part, name in (("train", f"trainlist0{split}.txt"), ("test", f"testlist0{split}.txt")):
        path = lists / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: split {split} needs {name} beside classInd.txt")
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            relative = fields[0].replace("\\", "/")
            label = by_name.get(relative.split("/")[0].lower())
            if label is None or "/" not in relative:
                raise ValueError(f"{path} line {lineno}: {line!r} does not start with a class of classInd.txt "
                                 "followed by '/', e.g. 'ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi'")
            if len(fields) > 1 and fields[1] != str(label + 1):
                raise ValueError(f"{path} line {lineno}: {line!r} gives class number {fields[1]}, but "
                                 f"classInd.txt numbers {names[label]} {label + 1}")
            records.append(VideoRecord(resolve(relative), label, part))
    return records, names


_HMDB_LAYOUT = ("root/hmdb51/<class>/<video>.avi (each class's .rar unpacked) and "
                "root/testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt with lines '<video>.avi <0|1|2>'")
_HMDB_SPLIT_DIRS = ("testTrainMulti_7030_splits", "test_train_splits/testTrainMulti_7030_splits",
                    "test_train_splits", "splits", ".")
_HMDB_VIDEO_DIRS = ("hmdb51", "hmdb51_org", "HMDB51", "videos", ".")


def _list_hmdb51(root: Path, split: int) -> tuple[list[VideoRecord], list[str]]:
    suffix = f"_test_split{split}.txt"
    splits = _first_dir(root, _HMDB_SPLIT_DIRS, lambda d: any(d.glob("*" + suffix)))
    if splits is None:
        raise FileNotFoundError(f"no HMDB51 split files *{suffix} under {root}: looked in "
                                f"{_looked_in(root, _HMDB_SPLIT_DIRS)}; expected layout: {_HMDB_LAYOUT}")
    files = sorted(splits.glob("*" + suffix))
    names = [f.name[: -len(suffix)] for f in files]
    videos = _first_dir(root, _HMDB_VIDEO_DIRS, lambda d: any((d / n).is_dir() for n in names))
    if videos is None:
        raise FileNotFoundError(f"no HMDB51 class folders (e.g. {names[0]}/) under {root}: looked in "
                                f"{_looked_in(root, _HMDB_VIDEO_DIRS)}; expected layout: {_HMDB_LAYOUT}")
    resolve = _Resolver(videos)
    records = []
    for label, (name, path) in enumerate(zip(names, files)):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                raise ValueError(f"{path} line {lineno}: {line!r} is not accepted: expected '<video>.avi <0|1|2>'")
            if fields[1] != "0":  # 0: in neither part of this split
                records.append(VideoRecord(resolve(f"{name}/{fields[0]}"), label,
                                           "train" if fields[1] == "1" else "test"))
    return records, names


def _show(line: str, limit: int = 120) -> str:
    """A line for an error message: repr'd, cut to ``limit`` characters (Volleyball's lines are long)."""
    return repr(line if len(line) <= limit else line[:limit] + "...")


_DIVING_LAYOUT = ("root/rgb/<vid_name>.mp4 (Diving48_rgb.tar.gz unpacked) with Diving48_V2_train.json, "
                  "Diving48_V2_test.json (or V1's Diving48_train.json, Diving48_test.json) and Diving48_vocab.json "
                  "in root, root/annotations or root/labels")
_DIVING_ANNOTATION_DIRS = (".", "annotations", "labels")
_DIVING_VIDEO_DIRS = ("rgb", "videos", ".")
_DIVING_VERSIONS = (("Diving48_V2_train.json", "Diving48_V2_test.json"), ("Diving48_train.json", "Diving48_test.json"))
_DIVING_VOCAB = "Diving48_vocab.json"


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} line {e.lineno} column {e.colno}: not valid JSON ({e.msg})") from None


def _list_diving48(root: Path, split: int) -> tuple[list[VideoRecord], list[str]]:
    found = [(d, files) for files in _DIVING_VERSIONS for d in _DIVING_ANNOTATION_DIRS
             if (root / d / files[0]).is_file()]  # V2 first, wherever it is
    if not found:
        raise FileNotFoundError(f"no Diving48 annotations under {root}: {_DIVING_VERSIONS[0][0]} (or V1's "
                                f"{_DIVING_VERSIONS[1][0]}) was looked for in "
                                f"{_looked_in(root, _DIVING_ANNOTATION_DIRS)}; expected layout: {_DIVING_LAYOUT}")
    folder, files = found[0]
    folder = root / folder
    vocab_dirs = (folder,) + tuple(root / d for d in _DIVING_ANNOTATION_DIRS)
    vocab = next((d / _DIVING_VOCAB for d in vocab_dirs if (d / _DIVING_VOCAB).is_file()), None)
    if vocab is None:
        raise FileNotFoundError(f"no {_DIVING_VOCAB} under {root}: looked in {folder} and "
                                f"{_looked_in(root, _DIVING_ANNOTATION_DIRS)}; expected layout: {_DIVING_LAYOUT}")
    entries = _read_json(vocab)
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{vocab} holds a {type(entries).__name__}: expected a non-empty JSON list of "
                         "[takeoff, somersault, twist, flight] entries, entry i naming label i")
    names = []
    for i, entry in enumerate(entries):
        if isinstance(entry, str):
            entry = [entry]
        if not isinstance(entry, list) or not entry or not all(isinstance(w, str) and w for w in entry):
            raise ValueError(f"{vocab} entry {i}: {entries[i]!r} is not accepted: expected a list of strings "
                             "such as ['Back', '35som', 'NoTwis', 'PIKE']")
        names.append("_".join(entry))
    videos = _first_dir(root, _DIVING_VIDEO_DIRS,
                        lambda d: any(p.suffix.lower() == ".mp4" and p.is_file() for p in d.iterdir()))
    if videos is None:
        raise FileNotFoundError(f"no Diving48 videos (<vid_name>.mp4) under {root}: looked in "
                                f"{_looked_in(root, _DIVING_VIDEO_DIRS)}; expected layout: {_DIVING_LAYOUT}")
    resolve = _Resolver(videos)
    records = []
    for part, name in zip(("train", "test"), files):
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: the {part} annotations belong beside {files[0]}")
        items = _read_json(path)
        if not isinstance(items, list):
            raise ValueError(f"{path} holds a {type(items).__name__}: expected a JSON list of "
                             '{"vid_name": ..., "label": ...} objects')
        for i, item in enumerate(items):
            ok = (isinstance(item, dict) and isinstance(item.get("vid_name"), str) and item["vid_name"]
                  and type(item.get("label")) is int)
            if not ok:
                raise ValueError(f"{path} entry {i}: {item!r} is not accepted: expected an object such as "
                                 '{"vid_name": "_8Vy3dlHg2w_00000", "label": 12, "start_frame": 0, "end_frame": 52}')
            if not 0 <= item["label"] < len(names):
                raise ValueError(f"{path} entry {i} ({item['vid_name']}): label {item['label']} is not accepted: "
                                 f"expected an integer in [0, {len(names)}) ({vocab} has {len(names)} classes)")
            records.append(VideoRecord(resolve(item["vid_name"] + ".mp4"), item["label"], part))
    return records, names


_EGTEA_LAYOUT = ("root/cropped_clips/<session>/<clip>.mp4 (e.g. cropped_clips/OP01-R01-PastaSalad/"
                 "OP01-R01-PastaSalad-1002316-1004005-F024051-F024101.mp4) and root/action_annotation/"
                 "{action_idx.txt, train_splitN.txt, test_splitN.txt}")
_EGTEA_LIST_DIRS = ("action_annotation", ".")
_EGTEA_VIDEO_DIRS = ("cropped_clips", "videos")


def _list_egtea(root: Path, split: int) -> tuple[list[VideoRecord], list[str]]:
    lists = _first_dir(root, _EGTEA_LIST_DIRS, lambda d: (d / "action_idx.txt").is_file())
    if lists is None:
        raise FileNotFoundError(f"no EGTEA Gaze+ annotations under {root}: action_idx.txt was looked for in "
                                f"{_looked_in(root, _EGTEA_LIST_DIRS)}; expected layout: {_EGTEA_LAYOUT}")
    index = lists / "action_idx.txt"
    numbered = {}
    for lineno, line in enumerate(index.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2 or not fields[-1].isdigit():
            raise ValueError(f"{index} line {lineno}: {line!r} is not accepted: expected '<action name> <id>', "
                             "e.g. 'Open fridge 1'")
        numbered[int(fields[-1])] = " ".join(fields[:-1])
    if not numbered or sorted(numbered) != list(range(1, len(numbered) + 1)):
        raise ValueError(f"{index} numbers its actions {sorted(numbered)}: expected 1..N")
    names = [numbered[k] for k in sorted(numbered)]
    videos = _first_dir(root, _EGTEA_VIDEO_DIRS, lambda d: any(d.iterdir()))
    if videos is None:
        raise FileNotFoundError(f"no EGTEA Gaze+ clips under {root}: looked in "
                                f"{_looked_in(root, _EGTEA_VIDEO_DIRS)}; expected layout: {_EGTEA_LAYOUT}")
    resolve = _Resolver(videos)
    records = []
    for part in ("train", "test"):
        path = lists / f"{part}_split{split}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: split {split} needs {path.name} beside action_idx.txt")
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 4 or not all(f.isdigit() for f in fields[1:]):
                raise ValueError(f"{path} line {lineno}: {line!r} is not accepted: expected '<clip> <action id> "
                                 "<verb id> <noun id>', e.g. 'OP01-R01-PastaSalad-1002316-1004005-F024051-F024101 "
                                 "23 23 3'")
            action = int(fields[1])
            if not 1 <= action <= len(names):
                raise ValueError(f"{path} line {lineno}: {line!r} gives action {action}: expected 1..{len(names)} "
                                 f"(the ids of {index})")
            clip = fields[0]
            session = clip.rsplit("-", 4)[0]  # OP01-R01-PastaSalad-<start>-<end>-F<first>-F<last>
            path_in_session = resolve(f"{session}/{clip}.mp4")
            if not path_in_session.is_file():
                flat = resolve(f"{clip}.mp4")
                path_in_session = flat if flat.is_file() else path_in_session
            records.append(VideoRecord(path_in_session, action - 1, part))
    return records, names


_VOLLEYBALL_LAYOUT = ("root/videos/<video id>/annotations.txt (ids 0..54) with lines '<frame id>.jpg "
                      "<group activity> <players...>' and each clip's frames in root/videos/<video id>/<frame id>/"
                      "<n>.jpg")
_VOLLEYBALL_VIDEO_DIRS = ("videos", ".")
# the group activities in label order, spelled as the annotations spell them (the other spelling is accepted too)
VOLLEYBALL_ACTIVITIES = ("r_set", "r_spike", "r-pass", "r_winpoint", "l_set", "l-spike", "l-pass", "l_winpoint")
VOLLEYBALL_TRAIN = (1, 3, 6, 7, 10, 13, 15, 16, 18, 22, 23, 31, 32, 36, 38, 39, 40, 41, 42, 48, 50, 52, 53, 54)
VOLLEYBALL_VAL = (0, 2, 8, 12, 17, 19, 24, 26, 27, 28, 30, 33, 46, 49, 51)  # trained on, with VOLLEYBALL_TRAIN
VOLLEYBALL_TEST = (4, 5, 9, 11, 14, 20, 21, 25, 29, 34, 35, 37, 43, 44, 45, 47)


def _list_volleyball(root: Path, split: int) -> tuple[list[VideoRecord], list[str]]:
    ids = sorted(VOLLEYBALL_TRAIN + VOLLEYBALL_VAL + VOLLEYBALL_TEST)
    videos = _first_dir(root, _VOLLEYBALL_VIDEO_DIRS,
                        lambda d: any((d / str(v) / "annotations.txt").is_file() for v in ids))
    if videos is None:
        raise FileNotFoundError(f"no Volleyball annotations under {root}: <video id>/annotations.txt was looked for "
                                f"in {_looked_in(root, _VOLLEYBALL_VIDEO_DIRS)}; expected layout: {_VOLLEYBALL_LAYOUT}")
    label = {}
    for i, name in enumerate(VOLLEYBALL_ACTIVITIES):
        for spelling in (name, name.replace("-", "_"), name.replace("_", "-")):
            label[spelling] = i
    absent = [v for v in ids if not (videos / str(v) / "annotations.txt").is_file()]
    if absent:
        warnings.warn(f"{len(absent)} of the 55 Volleyball videos have no {videos}/<id>/annotations.txt and are left "
                      f"out: ids {absent}", stacklevel=3)
    records = []
    for video in (v for v in ids if v not in absent):
        path = videos / str(video) / "annotations.txt"
        part = "test" if video in VOLLEYBALL_TEST else "train"
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            frame = fields[0][:-4] if fields[0].lower().endswith(".jpg") else ""
            if len(fields) < 2 or not frame.isdigit():
                raise ValueError(f"{path} line {lineno}: {_show(line)} is not accepted: expected '<frame id>.jpg "
                                 "<group activity> <players...>', e.g. '48075.jpg r_set 1234 451 55 145 standing ...'")
            if fields[1].lower() not in label:
                raise ValueError(f"{path} line {lineno}: {_show(line)} names the group activity {fields[1]!r}: "
                                 f"expected one of {VOLLEYBALL_ACTIVITIES} (or the same with _ and - swapped)")
            records.append(VideoRecord(path.parent / frame, label[fields[1].lower()], part))
    return records, list(VOLLEYBALL_ACTIVITIES)


_YUP_LAYOUT = ("root/camera_stationary/<Class>/<Class>_idNN.mp4 and root/camera_moving/<Class>/<Class>_idNN.mp4 "
               "with root/10_90_randsplit_1.txt (lines '<file> <static|moving>_<train|test>', "
               "e.g. 'Beach_id01 static_train')")
_YUP_LIST_DIRS = (".", "splits")
_YUP_VIDEO_DIRS = (".", "videos")
_YUP_MOTIONS = {"static": "camera_stationary", "moving": "camera_moving"}


def _list_yup(root: Path, split: int) -> tuple[list[VideoRecord], list[str]]:
    name = f"10_90_randsplit_{split}.txt"
    lists = _first_dir(root, _YUP_LIST_DIRS, lambda d: (d / name).is_file())
    if lists is None:
        raise FileNotFoundError(f"no YUP++ split file under {root}: {name} was looked for in "
                                f"{_looked_in(root, _YUP_LIST_DIRS)}; expected layout: {_YUP_LAYOUT}")
    videos = _first_dir(root, _YUP_VIDEO_DIRS, lambda d: any((d / m).is_dir() for m in _YUP_MOTIONS.values()))
    if videos is None:
        raise FileNotFoundError(f"no YUP++ videos under {root}: camera_stationary/ or camera_moving/ was looked for "
                                f"in {_looked_in(root, _YUP_VIDEO_DIRS)}; expected layout: {_YUP_LAYOUT}")
    resolve = _Resolver(videos)
    path = lists / name
    found = []  # (class, path, part)
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        motion, _, part = fields[1].partition("_") if len(fields) == 2 else ("", "", "")
        cls = fields[0].split("_")[0]
        if motion not in _YUP_MOTIONS or part not in ("train", "test") or not cls:
            raise ValueError(f"{path} line {lineno}: {line!r} is not accepted: expected '<Class>_<id> "
                             "<static|moving>_<train|test>', e.g. 'Beach_id01 static_train'")
        file = fields[0] if Path(fields[0]).suffix.lower() in VIDEO_EXTS else fields[0] + ".mp4"
        found.append((cls, resolve(f"{_YUP_MOTIONS[motion]}/{cls}/{file}"), part))
    if not found:
        raise FileNotFoundError(f"{path} lists no videos: expected layout: {_YUP_LAYOUT}")
    names = sorted({c for c, _, _ in found})
    label = {n: i for i, n in enumerate(names)}
    return [VideoRecord(p, label[c], part) for c, p, part in found], names


_WEIZMANN_LAYOUT = ("root/<action>/<actor>_<action>.avi (each action's zip of the classification database unpacked "
                    "into a folder of its name, e.g. root/bend/daria_bend.avi) or root/<actor>_<action>.avi (every "
                    "zip unpacked into root); Lena's second takes are <actor>_<action>1.avi and <actor>_<action>2.avi, "
                    "e.g. lena_run1.avi")
# "Actions as Space-Time Shapes" (Gorelick et al., 2007), classification database: 9 actors x 10 actions (93
# videos: Lena runs, skips and walks twice). The actions in label order (those present), as the files spell them.
WEIZMANN_ACTIONS = ("bend", "jack", "jump", "pjump", "run", "side", "skip", "walk", "wave1", "wave2")
WEIZMANN_ACTORS = ("daria", "denis", "eli", "ido", "ira", "lena", "lyova", "moshe", "shahar")
# Weizmann publishes no train/test split (papers use leave-one-actor-out). The stored split tests on these three
# actors and trains on the other six (as the built-in actions benchmark's test_actors (6, 7, 8) of nine); the
# protocol's folds (finetune.recipe.folds) use whole actors instead, from the manifest's ``group`` column.
WEIZMANN_TEST_ACTORS = ("lyova", "moshe", "shahar")


def _weizmann_name(name: str) -> tuple[str, str] | None:
    """(actor, action) of a file name ``<actor>_<action>[12].avi``, or None when it is not one."""
    stem, _, ext = name.lower().rpartition(".")
    actor, _, action = stem.partition("_")
    if ext != "avi" or actor not in WEIZMANN_ACTORS:
        return None
    if action in WEIZMANN_ACTIONS:  # wave1 and wave2 first: their digit is part of the action
        return actor, action
    if action[-1:] in ("1", "2") and action[:-1] in WEIZMANN_ACTIONS:  # a second take: lena_run1, lena_run2
        return actor, action[:-1]
    return None


def _list_weizmann(root: Path, split: int) -> tuple[list[VideoRecord], list[str]]:
    folders = {d.name.lower(): d for d in sorted(root.iterdir()) if d.is_dir() and d.name.lower() in WEIZMANN_ACTIONS}
    files = [(None, p) for p in sorted(root.iterdir()) if p.suffix.lower() == ".avi" and p.is_file()]
    files += [(a, p) for a, d in sorted(folders.items()) for p in sorted(d.iterdir())
              if p.suffix.lower() == ".avi" and p.is_file()]
    if not files:
        raise FileNotFoundError(f"no Weizmann videos (.avi) under {root}: looked in the action folders "
                                f"{root / ('{' + ','.join(WEIZMANN_ACTIONS) + '}')} and in {root} itself; "
                                f"expected layout: {_WEIZMANN_LAYOUT}")
    found, seen = [], {}  # (action, actor, path)
    for folder, path in files:
        parsed = _weizmann_name(path.name)
        if parsed is None:
            others = len([p for _, p in files if _weizmann_name(p.name) is None]) - 1
            raise ValueError(f"{path}: the file name {path.name!r} is not accepted" +
                             (f" (nor are {others} other .avi files under {root})" if others else "") +
                             f": expected <actor>_<action>.avi, or <actor>_<action>1.avi / 2.avi for a second "
                             f"take, with actor one of {WEIZMANN_ACTORS} and action one of {WEIZMANN_ACTIONS}, "
                             "e.g. daria_bend.avi or lena_run1.avi")
        actor, action = parsed
        if folder is not None and folder != action:
            raise ValueError(f"{path} is in the folder of action {folder!r} but its name says {action!r}: "
                             f"expected layout: {_WEIZMANN_LAYOUT}")
        if path.name.lower() in seen:
            raise ValueError(f"{path} and {seen[path.name.lower()]} are the same video twice: keep one layout, "
                             f"expected {_WEIZMANN_LAYOUT}")
        seen[path.name.lower()] = path
        found.append((action, actor, path))
    names = [a for a in WEIZMANN_ACTIONS if a in {a for a, _, _ in found}]
    label = {n: i for i, n in enumerate(names)}
    found.sort(key=lambda f: (label[f[0]], f[2].name.lower()))
    return [VideoRecord(p, label[a], "test" if actor in WEIZMANN_TEST_ACTORS else "train", actor)
            for a, actor, p in found], names


_GENERIC_LAYOUT = (f"class folders root/<class>/**/*{{{','.join(VIDEO_EXTS)}}} (split by file-name hash), or "
                   "root/train/<class>/... with root/test/<class>/... (or root/val/...), or a CSV file with "
                   "columns path,label[,split] (paths relative to the CSV's folder)")


def hash_split(name: str, test_fraction: float = GENERIC_TEST_FRACTION) -> str:
    """"test" for about ``test_fraction`` of names, "train" for the rest; fixed by the name alone (SHA-1)."""
    h = int.from_bytes(hashlib.sha1(name.encode("utf-8")).digest()[:8], "big") / 2.0 ** 64
    return "test" if h < test_fraction else "train"


def _label_order(names) -> list[str]:
    """Class names sorted, numerically when every name is an integer (so labels '0'..'9' keep their numbers)."""
    names = set(names)
    if all(n.lstrip("-").isdigit() for n in names):
        return sorted(names, key=int)
    return sorted(names)


def list_generic(root: str | os.PathLike) -> tuple[list[VideoRecord], list[str]]:
    """A generic labelled video set (one's own, or any set without a lister here): ``(records, class_names)``.

    ``root`` is either

    - a folder of class folders, ``root/<class>/**/*.{mp4,avi,mkv,webm,mov}``;
      a file is in "test" when :func:`hash_split` of its path relative to
      ``root`` (``"<class>/<file>"``) says so, i.e. about
      ``GENERIC_TEST_FRACTION`` = 20 % of files, chosen by name so the split
      never changes when files are added or the folder is moved;
    - a folder with ``train/<class>/...`` and ``test/<class>/...`` (or
      ``val/``, treated as the test split; both at once is refused);
    - a CSV file with columns ``path,label`` and optionally ``split``: paths
      relative to the CSV's folder (or absolute), labels class names, splits
      ``train``, ``test`` or ``val`` (= test); a row with an empty split is
      split by the hash of its path as written.

    Class names are sorted (numerically when all are integers); a label is the
    place of its class in that order.
    """
    root = Path(root)
    if root.is_file():
        if root.suffix.lower() != ".csv":
            raise ValueError(f"generic root {root} is a file but not a .csv: expected {_GENERIC_LAYOUT}")
        return _list_csv(root)
    if not root.is_dir():
        raise FileNotFoundError(f"generic root {root} does not exist: expected {_GENERIC_LAYOUT}")
    held_out = [root / n for n in ("test", "val") if (root / n).is_dir()]
    if (root / "train").is_dir():
        if len(held_out) != 1:
            raise ValueError(f"{root} has train/ and {'both test/ and val/' if held_out else 'neither test/ nor val/'}"
                             f": expected exactly one of them (or write a CSV with a split column)")
        parts = [("train", root / "train"), ("test", held_out[0])]
    else:
        parts = [(None, root)]
    found = []  # (class name, path, split)
    for split, folder in parts:
        for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            for path in sorted(class_dir.rglob("*")):
                if path.suffix.lower() in VIDEO_EXTS and path.is_file():
                    found.append((class_dir.name, path,
                                  split or hash_split(path.relative_to(root).as_posix())))
    if not found:
        raise FileNotFoundError(f"no videos found under {root}: expected {_GENERIC_LAYOUT}")
    names = _label_order(c for c, _, _ in found)
    label = {n: i for i, n in enumerate(names)}
    return [VideoRecord(p, label[c], s) for c, p, s in found], names


def _list_csv(path: Path) -> tuple[list[VideoRecord], list[str]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = [c.strip() for c in reader.fieldnames or ()]
        if not {"path", "label"} <= set(columns):
            raise ValueError(f"{path} has columns {columns}: expected path,label and optionally split")
        rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k is not None} for r in reader]
    found = []
    for lineno, row in enumerate(rows, 2):
        if not row["path"] or not row["label"]:
            raise ValueError(f"{path} line {lineno}: path and label must not be empty, got {row}")
        split = row.get("split", "").lower()
        split = {"": hash_split(row["path"]), "train": "train", "test": "test", "val": "test",
                 "validation": "test"}.get(split)
        if split is None:
            raise ValueError(f"{path} line {lineno}: split={row['split']!r} is not accepted: "
                             "expected train, test, val or empty (split by hash)")
        found.append((row["label"], path.parent / row["path"], split))
    if not found:
        raise FileNotFoundError(f"{path} lists no videos: expected rows of path,label[,split]")
    if {"val", "validation"} & {r.get("split", "").lower() for r in rows} and \
            "test" in {r.get("split", "").lower() for r in rows}:
        raise ValueError(f"{path} has both test and val rows: expected one held-out split (val counts as test)")
    names = _label_order(c for c, _, _ in found)
    label = {n: i for i, n in enumerate(names)}
    records = [VideoRecord(p, label[c], s) for c, p, s in found]
    _check_found(records, "generic", path.parent)
    return records, names


# ====================================================================== reading

class VideoError(Exception):
    """A video file that yields no frames; the message is the reason reported."""


def _target_size(height: int, width: int, short_side: int | None, square: bool = False) -> tuple[int, int]:
    """(H, W) with the short side ``short_side`` (both even, aspect kept); None: the size made even;
    ``square``: (short_side, short_side), the whole frame squeezed along its long side."""
    if short_side is None:
        return max(2, height // 2 * 2), max(2, width // 2 * 2)
    if square:
        return short_side, short_side
    scale = short_side / min(height, width)
    return max(2, round(height * scale / 2) * 2), max(2, round(width * scale / 2) * 2)


class _Resizer:
    """Resizes frames to the size the first one fixes: one path for decoded video frames and image files."""

    def __init__(self, short_side: int | None, square: bool = False):
        self.short_side, self.square, self.size = short_side, square, None

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        if self.size is None:
            self.size = (frame.height, frame.width)
            self.out_h, self.out_w = _target_size(*self.size, self.short_side, self.square)
            self.shrink = self.out_h * self.out_w < self.size[0] * self.size[1]
        # threads=1: swscale's slice threads change the output bytes from run to run
        # and, left alive in a garbage frame, hang a forked prepare() worker that frees it
        return frame.reformat(width=self.out_w, height=self.out_h, format="rgb24", threads=1,
                              interpolation="AREA" if self.shrink else "BILINEAR").to_ndarray()


def _image_order(path: Path) -> tuple:
    """Frame images by the integer of their name (2.jpg before 10.jpg); names that are not integers after them."""
    return (0, int(path.stem), path.name) if path.stem.isdigit() else (1, 0, path.name)


def _read_image_folder(folder: Path, short_side: int | None, max_frames: int | None,
                       square: bool = False) -> tuple[np.ndarray, dict]:
    """:func:`read_video` for a folder of frame images (``IMAGE_EXTS``), read with PIL in name order."""
    from PIL import Image

    images = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file()),
                    key=_image_order)
    if not images:
        raise VideoError("no image frames in folder")
    resize, frames, bad, last_error = _Resizer(short_side, square), [], 0, None
    for image in images:
        if max_frames is not None and len(frames) >= max_frames:
            break
        try:
            with Image.open(image) as im:
                rgb = np.asarray(im.convert("RGB"))
        except Exception as e:  # PIL's many errors on a cut or foreign file: skipped like a bad packet
            bad, last_error = bad + 1, f"{image.name}: {type(e).__name__}: {e}"
            continue
        frames.append(resize(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
    if not frames:
        raise VideoError(f"none of the {len(images)} image frames could be read ({last_error})")
    notes = [f"{bad} image(s) could not be read ({last_error})"] if bad else []
    info = {"fps": IMAGE_FOLDER_FPS, "source_frames": len(images), "source_height": resize.size[0],
            "source_width": resize.size[1], "note": "; ".join(notes)}
    return np.stack(frames), info


def read_video(path: str | os.PathLike, short_side: int | None = None,
               max_frames: int | None = None, square: bool = False) -> tuple[np.ndarray, dict]:
    """Decode a video file with PyAV: RGB uint8 frames (T, H, W, 3) and facts about it.

    Frames are resized (area averaging when shrinking, bilinear when
    enlarging) so that the short side is ``short_side`` with both sides even;
    with None the size is kept (trimmed by resizing to even sizes). With
    ``square`` the frames become ``short_side`` x ``short_side``: the whole
    picture, squeezed along its long side, so that a centre crop later cuts
    nothing off (a portrait clip's head and feet, a wide clip's sides). Only the
    first ``max_frames`` frames are read when given. The first video stream
    is read; packets that fail to decode are skipped and counted.

    The dict holds ``fps``, ``source_frames`` (what the container declares;
    0 if unknown), ``source_height``, ``source_width`` and ``note``: empty, or
    what was wrong but still gave frames (a truncated file, bad packets).
    Raises :class:`VideoError` with the reason when no frame comes out.

    ``path`` may also be a folder of frame images (``IMAGE_EXTS``, e.g.
    Volleyball's clips): they are read with PIL in the order of the integers
    of their names (other names after them, by name) and resized exactly as
    decoded frames are; ``fps`` is ``IMAGE_FOLDER_FPS`` (25), ``source_frames``
    the number of images, and images that cannot be read are skipped and
    counted in ``note``.
    """
    path = Path(path)
    if path.is_dir():
        return _read_image_folder(path, short_side, max_frames, square)
    if not path.is_file():
        raise VideoError("missing file")
    if path.stat().st_size == 0:
        raise VideoError("empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except Exception as e:  # FFmpeg's many errors, and PyAV's own on streams it cannot describe
        raise VideoError(f"cannot open: {type(e).__name__}: {e}") from None
    frames, bad_packets, last_error, stopped, resize = [], 0, None, None, _Resizer(short_side, square)
    with container:
        if not container.streams.video:
            raise VideoError("no video stream")
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1  # prepare() runs one process per core already
        declared = stream.frames or 0
        rate = stream.average_rate or stream.guessed_rate
        try:
            for packet in container.demux(stream):
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError as e:  # a damaged packet: the next key frame may recover
                    bad_packets, last_error = bad_packets + 1, e
                    continue
                frames.extend(resize(frame) for frame in decoded)
                if max_frames is not None and len(frames) >= max_frames:
                    break
        except av.error.FFmpegError as e:  # the container itself is cut or damaged: keep what came out
            stopped = e
    if not frames:
        why = stopped or last_error
        raise VideoError("no frames decoded" + (f": {type(why).__name__}: {why}" if why else ""))
    frames = frames[:max_frames] if max_frames is not None else frames
    notes = []
    if stopped is not None:
        notes.append(f"truncated: reading stopped after {len(frames)} frames ({stopped})")
    if bad_packets:
        notes.append(f"{bad_packets} packet(s) failed to decode ({last_error})")
    if max_frames is None and stopped is None and declared > len(frames):
        notes.append(f"decoded {len(frames)} of the {declared} frames the container declares")
    info = {"fps": round(float(rate), 4) if rate else 0.0, "source_frames": declared,
            "source_height": resize.size[0], "source_width": resize.size[1], "note": "; ".join(notes)}
    return np.stack(frames), info


# ==================================================================== preparing

_prep: dict = {}  # a prepare() worker's settings


def _init_prep(opts: dict) -> None:
    _prep.clear()
    _prep.update(opts)


def _prepare_one(job: tuple[int, VideoRecord]) -> tuple[int, dict | None, bytes | None, str | None]:
    """(index, manifest row, clip bytes, None) for a readable video, (index, None, None, reason) otherwise."""
    index, rec = job
    try:
        frames, info = read_video(rec.path, _prep["short_side"], _prep["max_frames"], _prep["square"])
        # the stored rate only matters for playback; the source's exact rate is in the manifest
        data = encode_clip(frames, _prep["crf"], _prep["preset"], fps=round(info["fps"]) or 12, mbtree=False)
    except VideoError as e:
        return index, None, None, str(e)
    except Exception as e:  # anything else one file does must not stop the run: it is reported instead
        return index, None, None, f"{type(e).__name__}: {e}"
    names = _prep["class_names"]
    row = {"index": index, "split": rec.split, "label": rec.label, "class_name": names[rec.label],
           "path": str(rec.path), "frames": frames.shape[0], "height": frames.shape[1], "width": frames.shape[2],
           **info}
    if rec.group:
        row["group"] = rec.group
    return index, row, data, None


def _prepared_fields(settings: dict) -> tuple[str, ...]:
    """The manifest's columns: ``PREPARED_FIELDS``, plus ``group`` when the records carry one (Weizmann's actor)."""
    return PREPARED_FIELDS + ("group",) if settings.get("groups") else PREPARED_FIELDS


def _problems_path(out: Path, chunk: int) -> Path:
    return chunk_paths(out, chunk)[1].with_suffix(".problems.json")


def prepare(records: list[VideoRecord], out: str | os.PathLike, short_side: int = 128,
            max_frames: int | None = None, workers: int | None = None, progress: bool = True,
            class_names: list[str] | None = None, chunk_size: int = 200, crf: int = 18,
            preset: str = "veryfast", overwrite: bool = False, source: dict | None = None,
            square: bool = False) -> dict:
    """Decode, resize and store real videos in folder ``out``; returns the dataset card.

    Each video is read with :func:`read_video` (short side ``short_side``,
    even, aspect kept, or with ``square`` the whole frame at ``short_side`` x
    ``short_side``; at most ``max_frames`` frames, the first ones) and
    stored as a colour H.264 clip (``crf``, ``preset``, x264's macroblock
    tree off, so that the same videos always give the same bytes) in chunks of
    ``chunk_size`` videos, the store of generated datasets, so
    ``open_dataset(out)`` reads it (``ds[i]`` -> RGB (T, H, W, 3), label).
    Record i is manifest index i; the manifest has ``PREPARED_FIELDS``, and
    a ``group`` column when the records carry groups (:class:`VideoRecord`;
    all of them or none), which the protocol's folds keep whole.

    Videos that give no frame (missing, empty, garbage, cut before the first
    frame) are skipped; ones that give some frames despite damage are kept
    with a note. Both are listed with their reason in
    ``prepare_report.json`` and ``prepare_report.csv`` (path, status, reason).

    Rerunning resumes: finished chunks are kept (each is written under a
    temporary name, then renamed, its .csv last). Other settings or records
    in an existing folder raise FileExistsError unless ``overwrite``.
    ``workers`` processes (default: every core) decode in parallel.
    ``class_names`` names the labels (default "0", "1", ...); ``source``
    (e.g. dataset, root, split) is copied into the card.
    """
    records = list(records)
    if not records:
        raise ValueError("records is empty: there is nothing to prepare (see list_videos)")
    _check_int("short_side", short_side, 2, "an even integer >= 2")
    if short_side % 2:
        raise ValueError(f"short_side={short_side!r} is not accepted: expected an even integer (yuv420p)")
    if max_frames is not None:
        _check_int("max_frames", max_frames, 1, "None or an integer >= 1")
    if not isinstance(square, bool):
        raise ValueError(f"square={square!r} is not accepted: expected true or false")
    workers = os.cpu_count() if workers is None else workers
    _check_int("workers", workers, 1, "an integer >= 1")
    _check_int("chunk_size", chunk_size, 1, "an integer >= 1")
    _check_int("crf", crf, 0, "an integer in [0, 51]")
    if crf > 51:
        raise ValueError(f"crf={crf!r} is not accepted: expected an integer in [0, 51]")
    if preset not in PRESETS:
        raise ValueError(f"preset={preset!r} is not accepted: expected one of {PRESETS}")
    top = max(r.label for r in records)
    class_names = [str(i) for i in range(top + 1)] if class_names is None else list(class_names)
    bad = [r for r in records if not 0 <= r.label < len(class_names) or r.split not in ("train", "test")]
    if bad:
        raise ValueError(f"record {bad[0]} is not accepted: expected a label in [0, {len(class_names)}) "
                         "and split 'train' or 'test'")
    grouped = any(r.group for r in records)
    if grouped and not all(isinstance(r.group, str) and r.group for r in records):
        raise ValueError(f"record {next(r for r in records if not r.group)} is not accepted: other records have a "
                         "group, so every record needs one (a non-empty string), or none does")
    out = Path(out)
    listing = "\n".join(f"{r.path}\t{r.label}\t{r.split}" + (f"\t{r.group}" if grouped else "") for r in records)
    settings = {"kind": "prepared", "short_side": short_side, "max_frames": max_frames, "crf": crf,
                "preset": preset, "chunk_size": chunk_size, "records": len(records),
                "records_sha256": hashlib.sha256(listing.encode()).hexdigest(), "class_names": class_names,
                "source": source}
    if square:  # only when set: folders prepared before the option existed keep their settings
        settings["square"] = True
    if grouped:  # likewise: the manifest gets a group column
        settings["groups"] = True
    # no macroblock tree (encode_clip): the same videos give the same bytes; a folder prepared before, whose
    # bytes depended on the process that wrote them, is refused (or replaced with overwrite)
    settings["mbtree"] = False
    prepare_folder(out, settings, overwrite, PREPARED_PRODUCTS, hint="pass overwrite=True")

    n_chunks = -(-len(records) // chunk_size)
    todo = [c for c in range(n_chunks) if not chunk_done(out, c)]
    jobs = [(i, records[i]) for c in todo for i in range(c * chunk_size, min((c + 1) * chunk_size, len(records)))]
    if jobs:
        opts = {"short_side": short_side, "max_frames": max_frames, "crf": crf, "preset": preset,
                "class_names": class_names, "square": square}
        bar = progress_bar(len(jobs), f"prepare {out.name}", "video", enabled=progress)
        pending, problems = [], []

        def collect(results):
            for index, row, data, reason in results:
                if row is None:
                    problems.append({"path": str(records[index].path), "reason": reason})
                else:
                    pending.append((row, data))
                bar.update(1)
                chunk = index // chunk_size
                if index == min((chunk + 1) * chunk_size, len(records)) - 1:  # the chunk's last video
                    write_json(_problems_path(out, chunk), problems)  # before the .csv that marks it done
                    write_chunk(out, chunk, pending, _prepared_fields(settings))
                    pending.clear()
                    problems.clear()

        if workers == 1:
            _init_prep(opts)
            collect(map(_prepare_one, jobs))
        else:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            with ctx.Pool(min(workers, len(jobs)), initializer=_init_prep, initargs=(opts,)) as pool:
                collect(pool.imap(_prepare_one, jobs, chunksize=2))
        bar.close()
    return _finish_prepared(out, settings, n_chunks)


def _finish_prepared(out: Path, settings: dict, n_chunks: int) -> dict:
    """Write manifest.csv, the report and card.json from the finished chunks."""
    rows = [r for c in range(n_chunks) for r in read_rows(chunk_paths(out, c)[1])]
    skipped = [p for c in range(n_chunks) for p in json.loads(_problems_path(out, c).read_text())]
    noted = [{"path": r["path"], "reason": r["note"]} for r in rows if r["note"]]
    write_rows(out / "manifest.tmp", rows, _prepared_fields(settings))
    os.replace(out / "manifest.tmp", out / "manifest.csv")
    write_json(out / "prepare_report.json", {"skipped": skipped, "kept_with_notes": noted})
    with open(out / "prepare_report.tmp", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["path", "status", "reason"])
        writer.writerows([p["path"], "skipped", p["reason"]] for p in skipped)
        writer.writerows([p["path"], "kept", p["reason"]] for p in noted)
    os.replace(out / "prepare_report.tmp", out / "prepare_report.csv")
    names = settings["class_names"]
    nbytes = sum(r["nbytes"] for r in rows)
    card = {
        "kind": "prepared",
        "generator": f"fractalvid {__version__}",
        "source": settings["source"],
        "channels": 3,
        "classes": len(names),
        "class_names": names,
        "videos": settings["records"],
        "clips": len(rows),
        "skipped": len(skipped),
        "kept_with_notes": len(noted),
        "splits": {s: sum(r["split"] == s for r in rows) for s in sorted({r["split"] for r in rows})},
        "per_class": {n: sum(r["label"] == i for r in rows) for i, n in enumerate(names)},
        "frames": sum(r["frames"] for r in rows),
        "bytes": nbytes,
        "bytes_per_clip": round(nbytes / len(rows)) if rows else 0,
        "fields": list(_prepared_fields(settings)),
        "settings": settings,
    }
    if settings.get("groups"):  # the number of identities (Weizmann: actors) the folds are cut from
        card["groups"] = len({r["group"] for r in rows})
    write_json(out / "card.json", card)
    return card


def prepare_dataset(dataset: str, root: str | os.PathLike, out: str | os.PathLike, split: int = 1,
                    short_side: int = 128, **kwargs) -> dict:
    """:func:`list_videos` then :func:`prepare`: a real dataset's split, stored in ``out``; returns the card.

    Other keyword arguments go to :func:`prepare` (square, max_frames, workers, chunk_size, crf, preset,
    overwrite, progress).
    """
    records, names = list_videos(dataset, root, split)
    return prepare(records, out, short_side=short_side, class_names=names,
                   source={"dataset": dataset, "root": str(root), "split": split}, **kwargs)
