"""Tiny real datasets in their official layouts: a few small videos (or frame folders) and the published list
files, as each archive unpacks. The listing and preparing tests use them, and so does the paper smoke run
(tests/test_paper_smoke.py), which puts each where params-paper-smoke.yaml's downstream roots say."""
import json
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import pattern, write_video


def write_frames(folder: Path, names, seed: int = 0, ext: str = ".jpg") -> np.ndarray:
    """One image per name, frame i of the pattern as ``<names[i]><ext>``."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = pattern(len(names), seed=seed)
    for name, f in zip(names, frames):
        Image.fromarray(f).save(folder / f"{name}{ext}")
    return frames


# ------------------------------------------------------------------ UCF101

UCF_CLASSES = ["ApplyEyeMakeup", "Archery"]


def make_ucf(root: Path, videos_in: str = "UCF-101", lists_in: str = "ucfTrainTestlist") -> None:
    for c in UCF_CLASSES:
        for g in (1, 2, 3):
            write_video(root / videos_in / c / f"v_{c}_g0{g}_c01.avi", n=3, seed=g)
    lists = root / lists_in
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\r\n" for i, c in enumerate(UCF_CLASSES)))
    for split, test_group in ((1, 3), (2, 1), (3, 2)):
        train = [f"{c}/v_{c}_g0{g}_c01.avi {i + 1}" for i, c in enumerate(UCF_CLASSES) for g in (1, 2, 3)
                 if g != test_group]
        test = [f"{c}/v_{c}_g0{test_group}_c01.avi" for c in UCF_CLASSES]
        (lists / f"trainlist0{split}.txt").write_text("\n".join(train) + "\n")
        (lists / f"testlist0{split}.txt").write_text("\n".join(test) + "\n")


# ------------------------------------------------------------------ HMDB51

HMDB_CLASSES = ["brush_hair", "cartwheel"]


def make_hmdb(root: Path) -> None:
    """Three videos per class; split 1 trains on _a and tests on _b, split 2 the other way round; _c is unused
    in split 1 (flag 0), as HMDB51's lists leave some videos out."""
    for c in HMDB_CLASSES:
        for v in ("a", "b", "c"):
            write_video(root / "hmdb51" / c / f"{c}_{v}.avi", n=3)
    splits = root / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True, exist_ok=True)
    for c in HMDB_CLASSES:
        (splits / f"{c}_test_split1.txt").write_text(f"{c}_a.avi 1 \n{c}_b.avi 2 \n{c}_c.avi 0 \n")
        (splits / f"{c}_test_split2.txt").write_text(f"{c}_a.avi 2 \n{c}_b.avi 1 \n{c}_c.avi 1 \n")


# ------------------------------------------------------------------ Diving48

DIVING_VOCAB = [["Back", "35som", "NoTwis", "PIKE"], ["Forward", "15som", "NoTwis", "PIKE"],
                ["Inward", "25som", "NoTwis", "TUCK"]]
DIVING_NAMES = ["Back_35som_NoTwis_PIKE", "Forward_15som_NoTwis_PIKE", "Inward_25som_NoTwis_TUCK"]


def make_diving(root: Path, annotations: str = ".", videos: str = "rgb", version: str = "V2_") -> None:
    train = [("_8Vy3dlHg2w_00000", 2), ("_8Vy3dlHg2w_00001", 0), ("9jZYYtzYqwE_00045", 1)]
    test = [("Le6xdQ2OO8w_00228", 0), ("OVzt2rsfMc0_00352", 2)]
    for i, (vid, _) in enumerate(train + test):
        write_video(root / videos / f"{vid}.mp4", n=3, seed=i)
    folder = root / annotations
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Diving48_vocab.json").write_text(json.dumps(DIVING_VOCAB))
    for part, items in (("train", train), ("test", test)):
        (folder / f"Diving48_{version}{part}.json").write_text(json.dumps(
            [{"vid_name": v, "label": lab, "start_frame": 0, "end_frame": 52} for v, lab in items], indent=1))


# ------------------------------------------------------------------ EGTEA Gaze+

EGTEA_ACTIONS = ["Open fridge", "Close fridge", "Cut tomato"]
PASTA, BACON = "OP01-R01-PastaSalad", "P02-R03-BaconAndEggs"


def egtea_clip(session: str, i: int) -> str:
    return f"{session}-{1000000 + i}-{1001000 + i}-F0{24000 + i}-F0{24050 + i}"


def make_egtea(root: Path, lists: str = "action_annotation", videos: str = "cropped_clips") -> None:
    train = [(egtea_clip(PASTA, 1), 1), (egtea_clip(PASTA, 2), 3), (egtea_clip(BACON, 3), 2)]
    test = [(egtea_clip(BACON, 4), 3), (egtea_clip(PASTA, 5), 1)]
    for i, (clip, _) in enumerate(train + test):
        session = clip.rsplit("-", 4)[0]
        write_video(root / videos / (f"{clip}.mp4" if i == 4 else f"{session}/{clip}.mp4"), n=4, seed=i)  # one flat
    folder = root / lists
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "action_idx.txt").write_text("".join(f"{a} {i + 1}\n" for i, a in enumerate(EGTEA_ACTIONS)))
    for part, items in (("train", train), ("test", test)):
        (folder / f"{part}_split1.txt").write_text("".join(f"{c} {a} {a} {a + 4}\n" for c, a in items))


# ------------------------------------------------------------------ Volleyball

def make_volleyball(root: Path, base: str = "videos") -> dict:
    """Videos 1 (train), 0 (validation: trained on) and 4 (test); each clip a folder of 41 jpg frames."""
    lines = {1: [(1000, "r_set"), (1040, "l-pass")], 0: [(50, "r_pass")], 4: [(2000, "l_winpoint")]}
    for video, clips in lines.items():
        folder = root / base / str(video)
        for i, (frame, _) in enumerate(clips):
            write_frames(folder / str(frame), range(frame - 20, frame + 21), seed=video * 10 + i)
        (folder / "annotations.txt").write_text("".join(
            f"{frame}.jpg {activity} 1136 512 58 143 standing 903 483 51 141 waiting\n" for frame, activity in clips))
    return lines


# ------------------------------------------------------------------ YUP++

def make_yup(root: Path, lists: str = ".") -> None:
    lines = ["Fireworks_id17 moving_train", "Beach_id01 static_train", "Beach_id02 moving_test",
             "Elevator_id03 static_test", "Fireworks_id04 static_test"]
    for i, line in enumerate(lines):
        name, kind = line.split()
        folder = {"static": "camera_stationary", "moving": "camera_moving"}[kind.split("_")[0]]
        write_video(root / folder / name.split("_")[0] / f"{name}.mp4", n=5, seed=i)
    (root / lists).mkdir(parents=True, exist_ok=True)
    (root / lists / "10_90_randsplit_1.txt").write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------ Weizmann

WEIZMANN_FILES = [("bend/ido_bend.avi", 0, "train", "ido"), ("run/daria_run.avi", 1, "train", "daria"),
                  ("run/lena_run1.avi", 1, "train", "lena"), ("run/lena_run2.avi", 1, "train", "lena"),
                  ("run/moshe_run.avi", 1, "test", "moshe"), ("wave1/daria_wave1.avi", 2, "train", "daria"),
                  ("wave1/lena_wave1.avi", 2, "train", "lena"), ("wave2/moshe_wave2.avi", 3, "test", "moshe")]


def make_weizmann(root: Path, flat: bool = False) -> list[tuple[str, int, str, str]]:
    """The official files (MPEG-4 .avi, as published) in action folders, or with ``flat`` all in ``root``."""
    expected = []
    for i, (file, label, split, actor) in enumerate(WEIZMANN_FILES):
        file = file.split("/")[1] if flat else file
        write_video(root / file, n=3, seed=i)
        expected.append((file, label, split, actor))
    return expected


# the maker of each set of params-paper.yaml's finetune.datasets (and weizmann), by its `source`
MAKERS = {"ucf101": make_ucf, "hmdb51": make_hmdb, "diving48": make_diving, "egtea": make_egtea,
          "volleyball": make_volleyball, "yup": make_yup, "weizmann": make_weizmann}
