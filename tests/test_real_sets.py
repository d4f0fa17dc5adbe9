"""Diving48, EGTEA Gaze+, Volleyball, YUP++ and Weizmann in their published layouts; folders of frames as
videos."""
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import write_video
from real_fixtures import (MAKERS, make_ucf, write_frames, DIVING_NAMES, make_diving, EGTEA_ACTIONS, PASTA, BACON, egtea_clip, make_egtea, make_volleyball, make_yup, WEIZMANN_FILES, make_weizmann)
from fractalvid import open_dataset
from fractalvid.cli import main
from fractalvid.learning.splits import clip_groups, split_indices
from fractalvid.storage.real import (VOLLEYBALL_ACTIVITIES, VOLLEYBALL_TEST, VOLLEYBALL_TRAIN, VOLLEYBALL_VAL,
                                     WEIZMANN_ACTIONS, WEIZMANN_ACTORS, WEIZMANN_TEST_ACTORS, VideoError,
                                     list_videos, prepare, read_video)


def summary(records, root: Path):
    return [(r.path.relative_to(root).as_posix(), r.label, r.split) for r in records]


def check_prepared(records, names, out: Path, frames: int) -> None:
    card = prepare(records, out, short_side=16, class_names=names, workers=1, progress=False)
    assert card["clips"] == len(records) and card["skipped"] == 0 and card["class_names"] == names
    ds = open_dataset(out)
    assert ds.class_names == names and len(ds) == len(records)
    for i, rec in enumerate(records):
        clip, label = ds[i]
        assert (label, ds.rows[i]["split"], ds.rows[i]["path"]) == (rec.label, rec.split, str(rec.path))
        assert clip.shape == (frames, 16, 20, 3) and ds.rows[i]["class_name"] == names[rec.label]


# ------------------------------------------------------------------ Diving48

def test_diving48_official_layout_prefers_v2_and_prepares(tmp_path):
    make_diving(tmp_path)
    (tmp_path / "Diving48_train.json").write_text(json.dumps([{"vid_name": "_8Vy3dlHg2w_00000", "label": 1}]))
    records, names = list_videos("diving48", tmp_path)
    assert names == DIVING_NAMES
    assert summary(records, tmp_path) == [
        ("rgb/_8Vy3dlHg2w_00000.mp4", 2, "train"), ("rgb/_8Vy3dlHg2w_00001.mp4", 0, "train"),
        ("rgb/9jZYYtzYqwE_00045.mp4", 1, "train"), ("rgb/Le6xdQ2OO8w_00228.mp4", 0, "test"),
        ("rgb/OVzt2rsfMc0_00352.mp4", 2, "test")]
    check_prepared(records, names, tmp_path / "prepared", frames=3)


def test_diving48_v1_in_annotations_folder_with_videos_in_root(tmp_path):
    make_diving(tmp_path, annotations="annotations", videos=".", version="")
    records, names = list_videos("diving48", tmp_path, split=1)
    assert names == DIVING_NAMES and len(records) == 5 and all(r.path.parent == tmp_path for r in records)
    assert [r.split for r in records] == ["train"] * 3 + ["test"] * 2


def test_diving48_errors_name_the_file_and_what_is_accepted(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Diving48_V2_train\.json .*annotations, .*labels; expected layout"):
        list_videos("diving48", tmp_path)
    make_diving(tmp_path)
    with pytest.raises(ValueError, match=r"split=2 is not accepted for diving48: it publishes one split, use 1"):
        list_videos("diving48", tmp_path, split=2)
    train = tmp_path / "Diving48_V2_train.json"
    good = train.read_text()
    train.write_text(json.dumps([{"vid_name": "a", "label": 0}, {"vid_name": "b"}]))
    with pytest.raises(ValueError, match=r"Diving48_V2_train\.json entry 1: \{'vid_name': 'b'\} is not accepted"):
        list_videos("diving48", tmp_path)
    train.write_text(json.dumps([{"vid_name": "a", "label": 3}]))
    with pytest.raises(ValueError, match=r"entry 0 \(a\): label 3 is not accepted: .*\[0, 3\)"):
        list_videos("diving48", tmp_path)
    train.write_text(good.replace('"label": 0', '"label": 0,,', 1))
    with pytest.raises(ValueError, match=r"Diving48_V2_train\.json line \d+ column \d+: not valid JSON"):
        list_videos("diving48", tmp_path)
    train.write_text(good)
    (tmp_path / "Diving48_V2_test.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"Diving48_V2_test\.json does not exist"):
        list_videos("diving48", tmp_path)


# ------------------------------------------------------------------ EGTEA Gaze+

def test_egtea_official_layout_and_prepare(tmp_path):
    make_egtea(tmp_path)
    records, names = list_videos("egtea", tmp_path)
    assert names == EGTEA_ACTIONS
    assert summary(records, tmp_path) == [
        (f"cropped_clips/{PASTA}/{egtea_clip(PASTA, 1)}.mp4", 0, "train"),
        (f"cropped_clips/{PASTA}/{egtea_clip(PASTA, 2)}.mp4", 2, "train"),
        (f"cropped_clips/{BACON}/{egtea_clip(BACON, 3)}.mp4", 1, "train"),
        (f"cropped_clips/{BACON}/{egtea_clip(BACON, 4)}.mp4", 2, "test"),
        (f"cropped_clips/{egtea_clip(PASTA, 5)}.mp4", 0, "test")]
    check_prepared(records, names, tmp_path / "prepared", frames=4)


def test_egtea_lists_in_root_videos_folder_and_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"action_idx\.txt was looked for in .*action_annotation.*layout"):
        list_videos("egtea", tmp_path)
    make_egtea(tmp_path, lists=".", videos="videos")
    records, _ = list_videos("egtea", tmp_path)
    assert len(records) == 5 and all(r.path.is_file() for r in records)
    with pytest.raises(FileNotFoundError, match=r"train_split2\.txt does not exist: split 2 needs"):
        list_videos("egtea", tmp_path, split=2)  # EGTEA publishes three splits; only split 1 is here
    with pytest.raises(ValueError, match=r"split=4 is not accepted for egtea: expected one of \(1, 2, 3\)"):
        list_videos("egtea", tmp_path, split=4)
    train = tmp_path / "train_split1.txt"
    good = train.read_text()
    train.write_text(good + "OP01-R01-PastaSalad-1-2-F1-F2 23\n")
    with pytest.raises(ValueError, match=r"train_split1\.txt line 4: 'OP01-R01-PastaSalad-1-2-F1-F2 23' is not "
                                         r"accepted: expected '<clip> <action id> <verb id> <noun id>'"):
        list_videos("egtea", tmp_path)
    train.write_text(good + "OP01-R01-PastaSalad-1-2-F1-F2 4 4 4\n")
    with pytest.raises(ValueError, match=r"train_split1\.txt line 4: .* gives action 4: expected 1\.\.3"):
        list_videos("egtea", tmp_path)
    train.write_text(good)
    (tmp_path / "action_idx.txt").write_text("Open fridge 1\nClose fridge\n")
    with pytest.raises(ValueError, match=r"action_idx\.txt line 2: 'Close fridge' is not accepted"):
        list_videos("egtea", tmp_path)


# ------------------------------------------------------------------ Volleyball

def test_volleyball_official_layout_split_by_video_and_frame_folders(tmp_path):
    assert sorted(VOLLEYBALL_TRAIN + VOLLEYBALL_VAL + VOLLEYBALL_TEST) == list(range(55))
    make_volleyball(tmp_path)
    with pytest.warns(UserWarning, match=r"52 of the 55 Volleyball videos .* left out: ids \[2, 3, 5,"):
        records, names = list_videos("volleyball", tmp_path)
    assert names == list(VOLLEYBALL_ACTIVITIES) == ["r_set", "r_spike", "r-pass", "r_winpoint", "l_set", "l-spike",
                                                    "l-pass", "l_winpoint"]
    assert summary(records, tmp_path) == [("videos/0/50", 2, "train"), ("videos/1/1000", 0, "train"),
                                          ("videos/1/1040", 6, "train"), ("videos/4/2000", 7, "test")]
    check_prepared(records, names, tmp_path / "prepared", frames=41)
    row = open_dataset(tmp_path / "prepared").rows[0]
    assert (row["source_frames"], row["fps"], row["source_height"], row["source_width"]) == (41, 25.0, 32, 40)


def test_volleyball_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"<video id>/annotations\.txt was looked for in .*videos"):
        list_videos("volleyball", tmp_path)
    make_volleyball(tmp_path, base=".")  # root/<video id>/ is accepted too
    with pytest.warns(UserWarning):
        assert len(list_videos("volleyball", tmp_path)[0]) == 4
    with pytest.raises(ValueError, match=r"split=2 is not accepted for volleyball: it publishes one split"):
        list_videos("volleyball", tmp_path, split=2)
    annotations = tmp_path / "1" / "annotations.txt"
    good = annotations.read_text()
    annotations.write_text(good + "1080.jpg r_smash 1 2 3 4 standing\n")
    with pytest.raises(ValueError, match=r"1/annotations\.txt line 3: '1080\.jpg r_smash .*' names the group "
                                         r"activity 'r_smash': expected one of \('r_set'"), pytest.warns(UserWarning):
        list_videos("volleyball", tmp_path)
    annotations.write_text(good + "frame1080.png r_set\n")
    with pytest.raises(ValueError, match=r"line 3: 'frame1080\.png r_set' is not accepted: expected "
                                         r"'<frame id>\.jpg <group activity>"), pytest.warns(UserWarning):
        list_videos("volleyball", tmp_path)


# ------------------------------------------------------------------ YUP++

def test_yup_official_layout_and_prepare(tmp_path):
    make_yup(tmp_path)
    records, names = list_videos("yup", tmp_path)
    assert names == ["Beach", "Elevator", "Fireworks"]
    assert summary(records, tmp_path) == [
        ("camera_moving/Fireworks/Fireworks_id17.mp4", 2, "train"),
        ("camera_stationary/Beach/Beach_id01.mp4", 0, "train"), ("camera_moving/Beach/Beach_id02.mp4", 0, "test"),
        ("camera_stationary/Elevator/Elevator_id03.mp4", 1, "test"),
        ("camera_stationary/Fireworks/Fireworks_id04.mp4", 2, "test")]
    check_prepared(records, names, tmp_path / "prepared", frames=5)


def test_yup_split_folder_errors_and_the_command_line(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=r"10_90_randsplit_1\.txt was looked for in .*splits; expected"):
        list_videos("yup", tmp_path)
    make_yup(tmp_path, lists="splits")
    assert len(list_videos("yup", tmp_path)[0]) == 5
    with pytest.raises(ValueError, match=r"split=2 is not accepted for yup: it publishes one split, use 1"):
        list_videos("yup", tmp_path, split=2)
    split = tmp_path / "splits" / "10_90_randsplit_1.txt"
    good = split.read_text()
    split.write_text(good + "Beach_id05 panning_train\n")
    with pytest.raises(ValueError, match=r"10_90_randsplit_1\.txt line 6: 'Beach_id05 panning_train' is not "
                                         r"accepted: expected '<Class>_<id> <static\|moving>_<train\|test>'"):
        list_videos("yup", tmp_path)
    split.write_text(good)
    assert main(["data", "prepare", "yup", str(tmp_path), str(tmp_path / "out"), "--short-side", "16",
                 "--workers", "1", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["splits"] == {"test": 3, "train": 2}


# ------------------------------------------------------------------ Weizmann

WEIZMANN6 = Path(__file__).resolve().parents[2] / "shared" / "data" / "weizmann6"  # beside the checkout
# (file, label, split, actor) in listing order: bend, run, wave1, wave2 present; Lena's two runs are one actor
def weizmann_summary(records, root: Path):
    return [(r.path.relative_to(root).as_posix(), r.label, r.split, r.group) for r in records]


def test_weizmann_action_folders_and_flat_layout_give_actions_and_actors(tmp_path):
    assert WEIZMANN_ACTIONS[-2:] == ("wave1", "wave2") and set(WEIZMANN_TEST_ACTORS) < set(WEIZMANN_ACTORS)
    for layout, flat in (("folders", False), ("flat", True)):
        root = tmp_path / layout
        expected = make_weizmann(root, flat=flat)
        (root / "walk.zip").write_bytes(b"an archive left beside the videos")  # not a video: not listed
        (root / "other").mkdir()
        write_video(root / "other" / "clip.avi", n=3)  # not an action folder: not looked in
        records, names = list_videos("weizmann", root)
        assert names == ["bend", "run", "wave1", "wave2"]  # the official order, only the actions present
        assert weizmann_summary(records, root) == expected
        assert sorted({r.group for r in records}) == ["daria", "ido", "lena", "moshe"]


def test_weizmann_prepares_with_actors_as_groups_and_folds_of_whole_actors(tmp_path):
    make_weizmann(tmp_path / "root")
    records, names = list_videos("weizmann", tmp_path / "root")
    check_prepared(records, names, tmp_path / "prepared", frames=3)
    ds = open_dataset(tmp_path / "prepared")
    assert [r["group"] for r in ds.rows] == [a for *_, a in WEIZMANN_FILES]
    assert ds.card["groups"] == 4 and ds.card["fields"][-1] == "group" and ds.card["splits"] == {"test": 2, "train": 6}
    groups = clip_groups(ds.card, ds.rows)
    assert groups.tolist() == [a for *_, a in WEIZMANN_FILES]
    tested = []
    for fold in range(2):
        s = split_indices(ds.labels, [r["split"] for r in ds.rows], groups, folds=2, fold=fold)
        assert not set(groups[s["train"]]) & set(groups[s["test"]])  # lena's two runs stay together
        tested += s["test"].tolist()
    assert sorted(tested) == list(range(8))
    s = split_indices(ds.labels, [r["split"] for r in ds.rows], groups, folds=2, fold=0, holdout=0.3)
    assert not set(groups[s["holdout"]]) & set(groups[s["train"]])


def test_weizmann_section_of_params_and_the_command_line(tmp_path, capsys):
    import yaml

    from fractalvid.learning.data import make_dataset

    params = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())
    section = params["downstream"]["weizmann"]
    assert section == {"source": "weizmann", "root": "data/real/Weizmann", "short_side": 128, "classes": None,
                       "folds": 3, "split_by": "identity"}
    make_weizmann(tmp_path / "root", flat=True)
    card = make_dataset("weizmann", {**section, "root": str(tmp_path / "root"), "short_side": 16}, tmp_path / "made")
    assert card["source"] == {"dataset": "weizmann", "root": str(tmp_path / "root"), "split": 1}
    assert card["class_names"] == ["bend", "run", "wave1", "wave2"] and card["clips"] == 8 and card["groups"] == 4
    assert main(["data", "prepare", "weizmann", str(tmp_path / "root"), str(tmp_path / "out"), "--short-side", "16",
                 "--workers", "1", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["splits"] == {"test": 2, "train": 6}


def test_weizmann_errors_name_the_file_and_what_is_accepted(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=r"weizmann root .*nothing is not a folder"):
        list_videos("weizmann", tmp_path / "nothing")
    (tmp_path / "run").mkdir()  # an action folder, but empty
    with pytest.raises(FileNotFoundError, match=r"no Weizmann videos \(\.avi\) under .*: looked in the action "
                                                r"folders .*\{bend,jack,jump,pjump,run,side,skip,walk,wave1,wave2\} "
                                                r"and in .* itself; expected layout: root/<action>/<actor>_<action>"):
        list_videos("weizmann", tmp_path)
    make_weizmann(tmp_path)
    with pytest.raises(ValueError, match=r"split=2 is not accepted for weizmann"):
        list_videos("weizmann", tmp_path, split=2)
    for bad in ("wave1/daria_wave.avi", "run/bob_run.avi", "run/lena_run3.avi", "run/lena-run.avi"):
        write_video(tmp_path / bad, n=3)
        name = bad.split("/")[1]
        with pytest.raises(ValueError, match=rf"{name}: the file name '{name}' is not accepted: expected "
                                             r"<actor>_<action>\.avi, or <actor>_<action>1\.avi / 2\.avi for a second "
                                             r"take, with actor one of \('daria', .*'shahar'\) and action one of "
                                             r"\('bend', .*'wave2'\)"):
            list_videos("weizmann", tmp_path)
        assert main(["data", "prepare", "weizmann", str(tmp_path), str(tmp_path / "out")]) == 2  # before any work
        assert name in capsys.readouterr().err and not (tmp_path / "out").exists()
        (tmp_path / bad).unlink()
    write_video(tmp_path / "run" / "daria_walk.avi", n=3)
    with pytest.raises(ValueError, match=r"daria_walk\.avi is in the folder of action 'run' but its name says 'walk'"):
        list_videos("weizmann", tmp_path)
    (tmp_path / "run" / "daria_walk.avi").unlink()
    write_video(tmp_path / "daria_run.avi", n=3)  # the flat layout beside the folders: the same video twice
    with pytest.raises(ValueError, match=r"run/daria_run\.avi and .*daria_run\.avi are the same video twice"):
        list_videos("weizmann", tmp_path)


@pytest.mark.skipif(not WEIZMANN6.is_dir(), reason="the weizmann6 clips are not on this machine")
def test_weizmann6_lists_six_actions_of_nine_actors(tmp_path):
    records, names = list_videos("weizmann", WEIZMANN6)
    assert names == ["jump", "pjump", "run", "side", "skip", "walk"] and len(records) == 54
    assert sorted({r.group for r in records}) == sorted(WEIZMANN_ACTORS)
    assert all(sum(r.label == i for r in records) == 9 for i in range(6))
    assert {r.group for r in records if r.split == "test"} == set(WEIZMANN_TEST_ACTORS)
    assert sum(r.split == "test" for r in records) == 18
    frames, info = read_video(records[0].path, max_frames=2)
    assert frames.shape == (2, 144, 180, 3) and info["fps"] == 25.0
    card = prepare(records, tmp_path / "prepared", short_side=32, max_frames=4, class_names=names, workers=1,
                   progress=False, source={"dataset": "weizmann"})
    assert card["clips"] == 54 and card["skipped"] == 0 and card["groups"] == 9
    ds = open_dataset(tmp_path / "prepared")
    groups = clip_groups(ds.card, ds.rows)
    for fold in range(3):  # the protocol's three folds: three whole actors each
        test = split_indices(ds.labels, [r["split"] for r in ds.rows], groups, folds=3, fold=fold)["test"]
        assert len(test) == 18 and len(set(groups[test])) == 3


# ------------------------------------------------------------------ folders of frames

def test_a_folder_of_frames_reads_exactly_as_the_same_frames_in_a_video(tmp_path):
    names = range(8, 20)  # 10.png sorts before 8.png by name: the order must be the numbers'
    frames = write_frames(tmp_path / "clip", names, ext=".png")
    write_video(tmp_path / "clip.avi", codec="png", frames=frames)  # lossless rgb24, as the images
    (tmp_path / "clip" / "notes.txt").write_text("not a frame")
    for short_side in (16, None, 48):
        from_folder, info = read_video(tmp_path / "clip", short_side=short_side)
        from_video, _ = read_video(tmp_path / "clip.avi", short_side=short_side)
        assert np.array_equal(from_folder, from_video)  # one resize path for both
    assert from_folder.shape == (12, 48, 60, 3)
    assert np.array_equal(read_video(tmp_path / "clip")[0], frames)
    assert info == {"fps": 25.0, "source_frames": 12, "source_height": 32, "source_width": 40, "note": ""}
    assert read_video(tmp_path / "clip", 16, max_frames=5)[0].shape == (5, 16, 20, 3)


def test_a_folder_of_frames_skips_unreadable_images_and_refuses_an_empty_folder(tmp_path):
    write_frames(tmp_path / "clip", ["1", "2", "3", "cover"])
    (tmp_path / "clip" / "4.jpg").write_bytes(b"not a jpeg")
    frames, info = read_video(tmp_path / "clip", short_side=16)
    assert frames.shape == (4, 16, 20, 3) and info["source_frames"] == 5
    assert info["note"].startswith("1 image(s) could not be read (4.jpg: ")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoError, match="no image frames in folder"):
        read_video(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "0.png").write_bytes(b"")
    with pytest.raises(VideoError, match="none of the 1 image frames could be read"):
        read_video(tmp_path / "bad")


# ------------------------------------------------------------------ identities and folds

def test_each_official_set_names_the_identity_its_clips_share():
    from fractalvid.storage.real.official import diving48_group, hmdb51_group, ucf101_group
    assert ucf101_group("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi") == "g08"
    assert ucf101_group("Archery/v_Archery_g8_c2.avi") == "g08"
    assert hmdb51_group("April_09_brush_hair_u_nm_np1_ba_goo_0", "brush_hair") == "April_09"
    assert hmdb51_group("Aerial_Cartwheel_Tutorial_By_Jujimufu_cartwheel_f_nm_np1_ri_med_0", "cartwheel") == \
        "Aerial_Cartwheel_Tutorial_By_Jujimufu"
    assert hmdb51_group("brush_hair_a", "brush_hair") == "brush_hair_a"        # not the pattern: its own identity
    assert diving48_group("_8Vy3dlHg2w_00001") == "_8Vy3dlHg2w" and diving48_group("odd") == "odd"


@pytest.mark.parametrize("source", sorted(MAKERS))
def test_every_source_folds_by_its_identity_or_refuses_and_keeps_its_official_split(source, tmp_path):
    """With folds, whole identities are dealt out (an actor, a UCF101 group, an HMDB51 or Diving48 source video,
    an EGTEA recording, a Volleyball video, a YUP++ file), never a class-stratified cut across an identity; a set
    with fewer identities than folds is refused, naming the count. Without folds the official split is kept."""
    MAKERS[source](tmp_path / "root")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # Volleyball's fixture leaves most of the 55 videos out
        records, _ = list_videos(source, tmp_path / "root")
    labels = np.array([r.label for r in records])
    groups = np.array([r.group for r in records])
    official = [r.split for r in records]
    assert all(groups)                       # every record has an identity
    s = split_indices(labels, official, groups, folds=None)
    assert {k: sorted(v) for k, v in s.items()} == {part: [i for i, p in enumerate(official) if p == part]
                                                    for part in sorted(set(official))}
    if len(set(groups)) < 3:
        with pytest.raises(ValueError, match=rf"folds=3 .*identities \({len(set(groups))}\)"):
            split_indices(labels, official, groups, folds=3, fold=0)
        return
    tested = []
    for fold in range(3):
        s = split_indices(labels, official, groups, folds=3, fold=fold)
        assert not set(groups[s["train"]]) & set(groups[s["test"]])
        tested += s["test"].tolist()
    assert sorted(tested) == list(range(len(records)))   # every clip tested once


def test_a_prepared_official_set_carries_its_identities_into_the_folds(tmp_path):
    make_ucf(tmp_path / "root")
    records, names = list_videos("ucf101", tmp_path / "root")
    check_prepared(records, names, tmp_path / "prepared", frames=3)
    ds = open_dataset(tmp_path / "prepared")
    groups = clip_groups(ds.card, ds.rows)
    assert sorted(set(groups)) == ["g01", "g02", "g03"] and ds.card["groups"] == 3


# ------------------------------------------------------------------ a set's protocol, as the pipeline runs it

def _section(source: str, root: Path, **protocol) -> dict:
    return {"source": source, "root": str(root), "split": 1, "short_side": 16, **protocol}


@pytest.mark.parametrize("source", sorted(MAKERS))
def test_each_source_through_the_pipeline_folds_by_identity_or_keeps_its_official_split(source, tmp_path):
    """downstream.SET with folds: 3 -> the fine-tuning runs' train and test parts share no identity, and every
    clip is tested once (or, with fewer identities than folds, the run is refused, naming the count); with
    folds: null the run trains on the official train split and tests on the official test split."""
    from fractalvid.learning.data import make_dataset
    from fractalvid.learning.train import build_data, finetune_config

    MAKERS[source](tmp_path / "root")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # Volleyball's fixture leaves most of the 55 videos out
        make_dataset(source, _section(source, tmp_path / "root", folds=3, split_by="identity"), tmp_path / "data")
    ds = open_dataset(tmp_path / "data")
    groups = np.array([r["group"] for r in ds.rows])
    recipe = {"recipe": {"arch": "tsm_mnv2", "size": 16, "frames": 2, "epochs": 1, "warmup_epochs": 0,
                         "in_memory": False, "workers": 0}}

    def parts(protocol, fold=0):
        cfg = finetune_config(recipe, "set", "scratch", 0, "x.pt", {"source": source, **protocol})
        cfg = cfg.replace(data=str(tmp_path / "data"), fold=fold)
        train, val, _, _ = build_data(cfg)
        return [r["path"] for r in train.source.rows], [r["path"] for r in val.source.rows]

    train, test = parts({"folds": None, "split_by": "identity"})
    assert sorted(train) == sorted(r["path"] for r in ds.rows if r["split"] == "train")
    assert sorted(test) == sorted(r["path"] for r in ds.rows if r["split"] == "test")
    group_of = {r["path"]: r["group"] for r in ds.rows}
    if len(set(groups)) < 3:
        with pytest.raises(ValueError, match=rf"folds=3 .*identities \({len(set(groups))}\)"):
            parts({"folds": 3, "split_by": "identity"})
        return
    tested = []
    for fold in range(3):
        train, test = parts({"folds": 3, "split_by": "identity"}, fold)
        assert not {group_of[p] for p in train} & {group_of[p] for p in test}
        tested += test
    assert sorted(tested) == sorted(r["path"] for r in ds.rows)


def test_a_set_without_identities_is_refused_folds_before_any_work_unless_split_by_class(tmp_path):
    from fractalvid.learning.data import make_dataset
    from fractalvid.learning.splits import set_protocol

    for c in ("a", "b"):
        for i in range(3):
            write_video(tmp_path / "root" / c / f"{c}{i}.mp4", n=3, seed=i)
    with pytest.raises(ValueError, match=r"downstream.mine: folds=3 is refused: a generic set's clips carry no "
                                         r"identity .* split_by: class"):
        make_dataset("mine", _section("generic", tmp_path / "root", folds=3, split_by="identity"), tmp_path / "d")
    assert not (tmp_path / "d").exists()                      # refused before any decoding
    assert set_protocol("mine", {"source": "generic", "folds": 3, "split_by": "class"}) == \
        {"folds": 3, "split_by": "class"}
    assert set_protocol("mine", {"source": "generic", "folds": None, "split_by": "identity"})["folds"] is None
    with pytest.raises(ValueError, match=r"downstream.ucf101 has no split_by: every downstream set states"):
        set_protocol("ucf101", {"source": "ucf101", "folds": None})
    with pytest.raises(ValueError, match=r"downstream.x.folds=1 is not accepted: expected null .* or an integer"):
        set_protocol("x", {"source": "ucf101", "folds": 1, "split_by": "identity"})
    with pytest.raises(ValueError, match=r"downstream.x.split_by='actor' is not accepted: expected one of"):
        set_protocol("x", {"source": "ucf101", "folds": 3, "split_by": "actor"})


def test_weizmann_classes_are_a_setting_of_its_section(tmp_path):
    """weizmann6 is the official layout with classes set: the named actions only, relabelled in Weizmann's order;
    a class the set lacks is refused before any decoding, naming the classes it has."""
    from fractalvid.learning.data import make_dataset

    make_weizmann(tmp_path / "root")
    section = _section("weizmann", tmp_path / "root", classes=["wave2", "run"], folds=3, split_by="identity")
    card = make_dataset("weizmann", section, tmp_path / "made")
    assert card["class_names"] == ["run", "wave2"] and card["clips"] == 5
    assert card["source"]["classes"] == ["run", "wave2"]
    ds = open_dataset(tmp_path / "made")
    assert [(Path(r["path"]).name, int(r["label"])) for r in ds.rows] == [
        ("daria_run.avi", 0), ("lena_run1.avi", 0), ("lena_run2.avi", 0), ("moshe_run.avi", 0), ("moshe_wave2.avi", 1)]
    with pytest.raises(ValueError, match=r"classes=\['jump'\] is not accepted for weizmann: \['jump'\] are not "
                                         r"among its classes \['bend', 'run', 'wave1', 'wave2'\]"):
        make_dataset("weizmann", {**section, "classes": ["jump"]}, tmp_path / "other")
    assert not (tmp_path / "other").exists()
