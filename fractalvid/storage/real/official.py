"""The official layouts of seven real sets, read into :class:`~fractalvid.storage.real.layout.VideoRecord` s:
UCF101, HMDB51, Diving48, EGTEA Gaze+, Volleyball, YUP++ and Weizmann (:func:`fractalvid.storage.real.list_videos`
says where each looks). Each lister finds its folders with :func:`~.layout.find_dir`, reads its split
lists with :func:`~.layout.lines`, and raises an error naming the file, the line and the layout expected."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

from .layout import VIDEO_EXTS, Resolver, VideoRecord, find_dir, lines, looked_in, read_json, show


# The identity each set's clips share (the group of a VideoRecord): clips of one identity must never be split
# between training and test, so the protocol's folds deal out whole identities. Each is read from the file names
# the official archive uses; a name that does not follow its pattern is an identity of its own.

def ucf101_group(relative: str) -> str:
    """UCF101's group, ``gNN`` of ``v_<Class>_gNN_cMM.avi``: the clips of one group share an actor and a scene
    (the official splits keep each group on one side)."""
    found = re.search(r"_g(\d+)_c\d+", relative)
    return f"g{int(found.group(1)):02d}" if found else Path(relative).stem


def hmdb51_group(stem: str, class_name: str) -> str:
    """HMDB51's source video: the clip name is ``<source video>_<class>_<body>_<camera>_<people>_<view>_<quality>
    _<n>``, so several clips of a class come from one film or upload."""
    head = stem.rsplit("_", 6)[0]
    return head[: -len(class_name) - 1] if stem.count("_") >= 7 and head.endswith("_" + class_name) else stem


def diving48_group(vid_name: str) -> str:
    """Diving48's source video, the YouTube id of ``<id>_<nnnnn>`` (many dives come from one competition video)."""
    head, _, number = vid_name.rpartition("_")
    return head if head and number.isdigit() else vid_name


_UCF_LAYOUT = ("root/UCF-101/<Class>/v_<Class>_gXX_cYY.avi and root/ucfTrainTestlist/{classInd.txt, "
               "trainlist0N.txt, testlist0N.txt} (UCF101.rar and UCF101TrainTestSplits-RecognitionTask.zip "
               "unpacked side by side)")
_UCF_LIST_DIRS = ("ucfTrainTestlist", "UCF101TrainTestSplits-RecognitionTask/ucfTrainTestlist",
                  "UCF-101/ucfTrainTestlist", "splits", ".")
_UCF_VIDEO_DIRS = ("UCF-101", "UCF101", "videos", ".")


def _list_ucf101(root: Path, split: int) -> tuple[list[VideoRecord], list[str]]:
    lists = find_dir(root, _UCF_LIST_DIRS, lambda d: (d / "classInd.txt").is_file(),
                     "no UCF101 split lists", _UCF_LAYOUT, sought="classInd.txt")
    numbered = {}
    for lineno, line, fields in lines(lists / "classInd.txt"):
        if len(fields) != 2 or not fields[0].isdigit():
            raise ValueError(f"{lists / 'classInd.txt'} line {lineno}: {line!r} is not accepted: "
                             "expected '<number> <ClassName>', e.g. '1 ApplyEyeMakeup'")
        numbered[int(fields[0])] = fields[1]
    if sorted(numbered) != list(range(1, len(numbered) + 1)):
        raise ValueError(f"{lists / 'classInd.txt'} numbers its classes {sorted(numbered)}: expected 1..N")
    names = [numbered[k] for k in sorted(numbered)]
    by_name = {n.lower(): i for i, n in enumerate(names)}
    videos = find_dir(root, _UCF_VIDEO_DIRS, lambda d: any((d / n).is_dir() for n in names),
                      f"no UCF101 class folders (e.g. {names[0]}/)", _UCF_LAYOUT)
    resolve = Resolver(videos)
    records = []
    for part, name in (("train", f"trainlist0{split}.txt"), ("test", f"testlist0{split}.txt")):
        path = lists / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: split {split} needs {name} beside classInd.txt")
        for lineno, line, fields in lines(path):
            relative = fields[0].replace("\\", "/")
            label = by_name.get(relative.split("/")[0].lower())
            if label is None or "/" not in relative:
                raise ValueError(f"{path} line {lineno}: {line!r} does not start with a class of classInd.txt "
                                 "followed by '/', e.g. 'ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi'")
            if len(fields) > 1 and fields[1] != str(label + 1):
                raise ValueError(f"{path} line {lineno}: {line!r} gives class number {fields[1]}, but "
                                 f"classInd.txt numbers {names[label]} {label + 1}")
            records.append(VideoRecord(resolve(relative), label, part, ucf101_group(relative)))
    return records, names


_HMDB_LAYOUT = ("root/hmdb51/<class>/<video>.avi (each class's .rar unpacked) and "
                "root/testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt with lines '<video>.avi <0|1|2>'")
_HMDB_SPLIT_DIRS = ("testTrainMulti_7030_splits", "test_train_splits/testTrainMulti_7030_splits",
                    "test_train_splits", "splits", ".")
_HMDB_VIDEO_DIRS = ("hmdb51", "hmdb51_org", "HMDB51", "videos", ".")


def _list_hmdb51(root: Path, split: int) -> tuple[list[VideoRecord], list[str]]:
    suffix = f"_test_split{split}.txt"
    splits = find_dir(root, _HMDB_SPLIT_DIRS, lambda d: any(d.glob("*" + suffix)),
                      f"no HMDB51 split files *{suffix}", _HMDB_LAYOUT)
    files = sorted(splits.glob("*" + suffix))
    names = [f.name[: -len(suffix)] for f in files]
    videos = find_dir(root, _HMDB_VIDEO_DIRS, lambda d: any((d / n).is_dir() for n in names),
                      f"no HMDB51 class folders (e.g. {names[0]}/)", _HMDB_LAYOUT)
    resolve = Resolver(videos)
    records = []
    for label, (name, path) in enumerate(zip(names, files)):
        for lineno, line, fields in lines(path):
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                raise ValueError(f"{path} line {lineno}: {line!r} is not accepted: expected '<video>.avi <0|1|2>'")
            if fields[1] != "0":  # 0: in neither part of this split
                records.append(VideoRecord(resolve(f"{name}/{fields[0]}"), label,
                                           "train" if fields[1] == "1" else "test",
                                           hmdb51_group(Path(fields[0]).stem, name)))
    return records, names


_DIVING_LAYOUT = ("root/rgb/<vid_name>.mp4 (Diving48_rgb.tar.gz unpacked) with Diving48_V2_train.json, "
                  "Diving48_V2_test.json (or V1's Diving48_train.json, Diving48_test.json) and Diving48_vocab.json "
                  "in root, root/annotations or root/labels")
_DIVING_ANNOTATION_DIRS = (".", "annotations", "labels")
_DIVING_VIDEO_DIRS = ("rgb", "videos", ".")
_DIVING_VERSIONS = (("Diving48_V2_train.json", "Diving48_V2_test.json"), ("Diving48_train.json", "Diving48_test.json"))
_DIVING_VOCAB = "Diving48_vocab.json"


def _list_diving48(root: Path, split: int) -> tuple[list[VideoRecord], list[str]]:
    found = [(d, files) for files in _DIVING_VERSIONS for d in _DIVING_ANNOTATION_DIRS
             if (root / d / files[0]).is_file()]  # V2 first, wherever it is
    if not found:
        raise FileNotFoundError(f"no Diving48 annotations under {root}: {_DIVING_VERSIONS[0][0]} (or V1's "
                                f"{_DIVING_VERSIONS[1][0]}) was looked for in "
                                f"{looked_in(root, _DIVING_ANNOTATION_DIRS)}; expected layout: {_DIVING_LAYOUT}")
    folder, files = found[0]
    folder = root / folder
    vocab_dirs = (folder,) + tuple(root / d for d in _DIVING_ANNOTATION_DIRS)
    vocab = next((d / _DIVING_VOCAB for d in vocab_dirs if (d / _DIVING_VOCAB).is_file()), None)
    if vocab is None:
        raise FileNotFoundError(f"no {_DIVING_VOCAB} under {root}: looked in {folder} and "
                                f"{looked_in(root, _DIVING_ANNOTATION_DIRS)}; expected layout: {_DIVING_LAYOUT}")
    entries = read_json(vocab)
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
    videos = find_dir(root, _DIVING_VIDEO_DIRS,
                      lambda d: any(p.suffix.lower() == ".mp4" and p.is_file() for p in d.iterdir()),
                      "no Diving48 videos (<vid_name>.mp4)", _DIVING_LAYOUT)
    resolve = Resolver(videos)
    records = []
    for part, name in zip(("train", "test"), files):
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: the {part} annotations belong beside {files[0]}")
        items = read_json(path)
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
            records.append(VideoRecord(resolve(item["vid_name"] + ".mp4"), item["label"], part,
                                       diving48_group(item["vid_name"])))
    return records, names


_EGTEA_LAYOUT = ("root/cropped_clips/<session>/<clip>.mp4 (e.g. cropped_clips/OP01-R01-PastaSalad/"
                 "OP01-R01-PastaSalad-1002316-1004005-F024051-F024101.mp4) and root/action_annotation/"
                 "{action_idx.txt, train_splitN.txt, test_splitN.txt}")
_EGTEA_LIST_DIRS = ("action_annotation", ".")
_EGTEA_VIDEO_DIRS = ("cropped_clips", "videos")


def _list_egtea(root: Path, split: int) -> tuple[list[VideoRecord], list[str]]:
    lists = find_dir(root, _EGTEA_LIST_DIRS, lambda d: (d / "action_idx.txt").is_file(),
                     "no EGTEA Gaze+ annotations", _EGTEA_LAYOUT, sought="action_idx.txt")
    index = lists / "action_idx.txt"
    numbered = {}
    for lineno, line, fields in lines(index):
        if len(fields) < 2 or not fields[-1].isdigit():
            raise ValueError(f"{index} line {lineno}: {line!r} is not accepted: expected '<action name> <id>', "
                             "e.g. 'Open fridge 1'")
        numbered[int(fields[-1])] = " ".join(fields[:-1])
    if not numbered or sorted(numbered) != list(range(1, len(numbered) + 1)):
        raise ValueError(f"{index} numbers its actions {sorted(numbered)}: expected 1..N")
    names = [numbered[k] for k in sorted(numbered)]
    videos = find_dir(root, _EGTEA_VIDEO_DIRS, lambda d: any(d.iterdir()),
                      "no EGTEA Gaze+ clips", _EGTEA_LAYOUT)
    resolve = Resolver(videos)
    records = []
    for part in ("train", "test"):
        path = lists / f"{part}_split{split}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: split {split} needs {path.name} beside action_idx.txt")
        for lineno, line, fields in lines(path):
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
            records.append(VideoRecord(path_in_session, action - 1, part, session))   # a recording
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
    videos = find_dir(root, _VOLLEYBALL_VIDEO_DIRS, lambda d: any((d / str(v) / "annotations.txt").is_file() for v in ids),
                      "no Volleyball annotations", _VOLLEYBALL_LAYOUT, sought="<video id>/annotations.txt")
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
        for lineno, line, fields in lines(path):
            frame = fields[0][:-4] if fields[0].lower().endswith(".jpg") else ""
            if len(fields) < 2 or not frame.isdigit():
                raise ValueError(f"{path} line {lineno}: {show(line)} is not accepted: expected '<frame id>.jpg "
                                 "<group activity> <players...>', e.g. '48075.jpg r_set 1234 451 55 145 standing ...'")
            if fields[1].lower() not in label:
                raise ValueError(f"{path} line {lineno}: {show(line)} names the group activity {fields[1]!r}: "
                                 f"expected one of {VOLLEYBALL_ACTIVITIES} (or the same with _ and - swapped)")
            records.append(VideoRecord(path.parent / frame, label[fields[1].lower()], part, str(video)))
    return records, list(VOLLEYBALL_ACTIVITIES)


_YUP_LAYOUT = ("root/camera_stationary/<Class>/<Class>_idNN.mp4 and root/camera_moving/<Class>/<Class>_idNN.mp4 "
               "with root/10_90_randsplit_1.txt (lines '<file> <static|moving>_<train|test>', "
               "e.g. 'Beach_id01 static_train')")
_YUP_LIST_DIRS = (".", "splits")
_YUP_VIDEO_DIRS = (".", "videos")
_YUP_MOTIONS = {"static": "camera_stationary", "moving": "camera_moving"}


def _list_yup(root: Path, split: int) -> tuple[list[VideoRecord], list[str]]:
    name = f"10_90_randsplit_{split}.txt"
    lists = find_dir(root, _YUP_LIST_DIRS, lambda d: (d / name).is_file(),
                     "no YUP++ split file", _YUP_LAYOUT, sought=f"{name}")
    videos = find_dir(root, _YUP_VIDEO_DIRS, lambda d: any((d / m).is_dir() for m in _YUP_MOTIONS.values()),
                      "no YUP++ videos", _YUP_LAYOUT, sought="camera_stationary/ or camera_moving/")
    resolve = Resolver(videos)
    path = lists / name
    found = []  # (class, path, part)
    for lineno, line, fields in lines(path):
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
    return [VideoRecord(p, label[c], part, p.stem) for c, p, part in found], names   # each file its own scene


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
# protocol's folds (downstream.weizmann.folds) use whole actors instead, from the manifest's ``group`` column.
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
                             ": expected <actor>_<action>.avi, or <actor>_<action>1.avi / 2.avi for a second "
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
