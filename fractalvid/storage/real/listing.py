"""Listing a real set: :func:`list_videos` reads one of the official layouts (:mod:`.official`) or a generic
folder of class folders or a CSV (:func:`list_generic`) into :class:`~.layout.VideoRecord` s."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
from pathlib import Path

from .layout import VIDEO_EXTS, VideoRecord, check_found
from .official import (_list_diving48, _list_egtea, _list_hmdb51, _list_ucf101, _list_volleyball, _list_weizmann,
                       _list_yup)

DATASETS = ("ucf101", "hmdb51", "diving48", "egtea", "volleyball", "yup", "weizmann", "generic")
SPLITS = (1, 2, 3)
# the official splits each dataset publishes (ucf101, hmdb51 and egtea: three; the others: one; weizmann
# publishes none: its one split is WEIZMANN_TEST_ACTORS, stored here)
DATASET_SPLITS = {"ucf101": SPLITS, "hmdb51": SPLITS, "egtea": SPLITS, "diving48": (1,), "volleyball": (1,),
                  "yup": (1,), "weizmann": (1,), "generic": (1,)}
# generic sets without a split of their own: a file is a test file when the hash of its name falls below this
GENERIC_TEST_FRACTION = 0.2
LISTERS = {"ucf101": _list_ucf101, "hmdb51": _list_hmdb51, "diving48": _list_diving48, "egtea": _list_egtea,
           "volleyball": _list_volleyball, "yup": _list_yup, "weizmann": _list_weizmann}


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
    records, names = LISTERS[dataset](root, split)
    check_found(records, dataset, root)
    return records, names


def select_classes(records: list[VideoRecord], names: list[str], classes, dataset: str
                   ) -> tuple[list[VideoRecord], list[str]]:
    """The records of the classes named in ``classes`` only (None: all), relabelled 0.. in the set's own class
    order, e.g. Weizmann's six actions that motion decides: ``[jump, pjump, run, side, skip, walk]``."""
    if classes is None:
        return records, names
    if not (isinstance(classes, (list, tuple)) and classes and all(isinstance(c, str) for c in classes)):
        raise ValueError(f"classes={classes!r} is not accepted for {dataset}: expected null (every class) or a "
                         f"non-empty list of its class names, from {names}")
    unknown = [c for c in classes if c not in names]
    if unknown or len(set(classes)) != len(classes):
        raise ValueError(f"classes={list(classes)} is not accepted for {dataset}: "
                         + (f"{unknown} are not among its classes {names}" if unknown else "a class is named twice"))
    kept = [n for n in names if n in set(classes)]
    new_label = {names.index(n): i for i, n in enumerate(kept)}
    return [dataclasses.replace(r, label=new_label[r.label]) for r in records if r.label in new_label], kept


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
    check_found(records, "generic", path.parent)
    return records, names
