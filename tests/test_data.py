"""Real datasets (listing, preparing), clip sampling, fractals on the fly, colour storage."""
import csv
import io
import itertools
import json
import subprocess
import sys
from operator import itemgetter
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from conftest import pattern, write_video
from real_fixtures import HMDB_CLASSES, UCF_CLASSES, make_hmdb, make_ucf
from fractalvid import DatasetSpec, generate, make_clip, open_dataset
from fractalvid.learning.data import VideoClips, eval_indices, train_indices
from fractalvid.learning.presets import eval_transform, eval_views, luminance, resize_center_crop
from fractalvid.learning.stream import FractalStream
from fractalvid.storage.real import VideoRecord, hash_split, list_videos, prepare, prepare_dataset, read_video
from fractalvid.storage.store import MANIFEST_FIELDS, decode_clip, encode_clip

BASKETBALL = Path(__file__).resolve().parents[2] / "shared" / "data" / "basketball5"  # beside the checkout


# ------------------------------------------------------------------ listing

def test_ucf101_official_layout_gives_labels_and_splits(tmp_path):
    make_ucf(tmp_path)
    records, names = list_videos("ucf101", tmp_path, split=1)
    assert names == UCF_CLASSES and len(records) == 6
    assert [(r.path.name, r.label, r.split) for r in records if r.split == "test"] == [
        ("v_ApplyEyeMakeup_g03_c01.avi", 0, "test"), ("v_Archery_g03_c01.avi", 1, "test")]
    assert all(r.path.is_file() and r.path.parent.name == names[r.label] for r in records)
    records2, _ = list_videos("ucf101", tmp_path, split=2)
    assert {r.path.name for r in records2 if r.split == "test"} == {f"v_{c}_g01_c01.avi" for c in UCF_CLASSES}

    card = prepare_dataset("ucf101", tmp_path, tmp_path / "prepared", split=2, short_side=16, workers=1,
                           progress=False)
    assert card["source"] == {"dataset": "ucf101", "root": str(tmp_path), "split": 2}
    assert card["class_names"] == UCF_CLASSES and card["splits"] == {"test": 2, "train": 4}
    test = open_dataset(tmp_path / "prepared", split="test")
    assert [Path(r["path"]).name for r in test.rows] == [f"v_{c}_g01_c01.avi" for c in UCF_CLASSES]
    assert test[1][0].shape == (3, 16, 20, 3) and test[1][1] == 1


def test_ucf101_variant_layout_and_clear_errors(tmp_path):
    make_ucf(tmp_path, videos_in=".", lists_in=".")  # videos in root/<Class>, lists in root
    records, _ = list_videos("ucf101", tmp_path, split=3)
    assert len(records) == 6 and all(r.path.is_file() for r in records)
    with pytest.raises(ValueError, match=r"split=4 .*\(1, 2, 3\)"):
        list_videos("ucf101", tmp_path, split=4)
    with pytest.raises(ValueError, match="dataset='kinetics'"):
        list_videos("kinetics", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"classInd\.txt.*ucfTrainTestlist.*expected layout"):
        list_videos("ucf101", tmp_path / "Archery")  # a class folder is not a dataset root
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        list_videos("hmdb51", tmp_path / "nowhere")


def test_hmdb51_official_layout_skips_unused_videos(tmp_path):
    make_hmdb(tmp_path)
    classes = HMDB_CLASSES
    records, names = list_videos("hmdb51", tmp_path, split=1)
    assert names == classes
    assert [(r.path.name, r.label, r.split) for r in records] == [
        ("brush_hair_a.avi", 0, "train"), ("brush_hair_b.avi", 0, "test"),
        ("cartwheel_a.avi", 1, "train"), ("cartwheel_b.avi", 1, "test")]
    assert sum(r.split == "train" for r in list_videos("hmdb51", tmp_path, split=2)[0]) == 4
    with pytest.raises(FileNotFoundError, match=r"_test_split3\.txt.*testTrainMulti_7030_splits"):
        list_videos("hmdb51", tmp_path, split=3)
    (tmp_path / "hmdb51" / "cartwheel" / "cartwheel_b.avi").unlink()
    with pytest.warns(UserWarning, match="1 of the 4 hmdb51 videos"):
        assert len(list_videos("hmdb51", tmp_path)[0]) == 4  # kept: prepare reports it


def test_generic_folders_csv_and_hash_split(tmp_path):
    for c in ("jump", "run"):
        for i in range(3):
            write_video(tmp_path / "flat" / c / f"{c}{i}.mp4", n=2)
    records, names = list_videos("generic", tmp_path / "flat")
    assert names == ["jump", "run"] and len(records) == 6
    assert all(r.split == hash_split(f"{names[r.label]}/{r.path.name}") for r in records)
    splits = [hash_split(f"x/{i}.mp4") for i in range(2000)]
    assert 0.17 < splits.count("test") / 2000 < 0.23 and hash_split("x/1.mp4") == splits[1]

    for part in ("train", "val"):
        write_video(tmp_path / "parts" / part / "swim" / f"{part}.mkv", n=2)
    records, names = list_videos("generic", tmp_path / "parts")
    assert names == ["swim"] and sorted(r.split for r in records) == ["test", "train"]
    (tmp_path / "parts" / "test").mkdir()
    with pytest.raises(ValueError, match="both test/ and val/"):
        list_videos("generic", tmp_path / "parts")

    rows = [["path", "label", "split"], ["flat/jump/jump0.mp4", "10", "train"],
            ["flat/run/run0.mp4", "2", "val"], ["flat/run/run1.mp4", "2", ""]]
    with open(tmp_path / "list.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    records, names = list_videos("generic", tmp_path / "list.csv")
    assert names == ["2", "10"]  # integer class names sort as numbers
    assert [(r.label, r.split) for r in records] == [(1, "train"), (0, "test"), (0, hash_split(rows[3][0]))]
    assert records[0].path == tmp_path / "flat/jump/jump0.mp4"
    with pytest.raises(ValueError, match="split=2 is not accepted for a generic dataset"):
        list_videos("generic", tmp_path / "list.csv", split=2)
    (tmp_path / "bad.csv").write_text("path,label,split\nflat/run/run0.mp4,run,holdout\n")
    with pytest.raises(ValueError, match="split='holdout'"):
        list_videos("generic", tmp_path / "bad.csv")
    (tmp_path / "bad.csv").write_text("file,class\nx.mp4,run\n")
    with pytest.raises(ValueError, match="expected path,label"):
        list_videos("generic", tmp_path / "bad.csv")
    with pytest.raises(FileNotFoundError, match="class folders"):
        list_videos("generic", tmp_path / "parts" / "test")


# ---------------------------------------------------------------- preparing

@pytest.fixture(scope="module")
def damaged_set(tmp_path_factory):
    """A generic set of 5 good videos (12 frames, 32 x 40) and 5 bad ones, with the good frames."""
    root = tmp_path_factory.mktemp("videos")
    good = {}
    for i, (c, ext) in enumerate([("a", ".avi"), ("a", ".mp4"), ("a", ".avi"), ("b", ".mp4"), ("b", ".avi")]):
        good[f"{c}/good{i}{ext}"] = write_video(root / c / f"good{i}{ext}", seed=i)
    write_video(root / "b" / "cut.avi", n=30, seed=7)
    data = (root / "b" / "cut.avi").read_bytes()
    movi = data.index(b"movi")  # avi: the frames before the cut decode (cut 60 % into them, past the header)
    (root / "b" / "cut.avi").write_bytes(data[: movi + (len(data) - movi) * 6 // 10])
    write_video(root / "b" / "cutfast.mp4", n=30, seed=8, faststart=True)
    data = (root / "b" / "cutfast.mp4").read_bytes()
    (root / "b" / "cutfast.mp4").write_bytes(data[: len(data) * 6 // 10])
    write_video(root / "a" / "cutmoov.mp4", n=30, seed=9)  # moov at the end: cut, it cannot be opened
    data = (root / "a" / "cutmoov.mp4").read_bytes()
    (root / "a" / "cutmoov.mp4").write_bytes(data[: len(data) // 2])
    (root / "a" / "empty.mp4").write_bytes(b"")
    (root / "b" / "garbage.avi").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    records, names = list_videos("generic", root)
    records = [VideoRecord(r.path, r.label, "train") for r in records]  # all of them, whatever the hash says
    return root, records, names, good


@pytest.fixture(scope="module")
def prepared(damaged_set, tmp_path_factory):
    root, records, names, good = damaged_set
    out = tmp_path_factory.mktemp("prep") / "ds"
    card = prepare(records, out, short_side=16, class_names=names, chunk_size=3, workers=1, progress=False)
    return out, card


def test_prepare_reports_bad_files_and_keeps_the_rest(damaged_set, prepared):
    root, records, names, good = damaged_set
    out, card = prepared
    report = json.loads((out / "prepare_report.json").read_text())
    skipped = {Path(p["path"]).name: p["reason"] for p in report["skipped"]}
    assert set(skipped) == {"cutmoov.mp4", "empty.mp4", "garbage.avi"}
    assert skipped["empty.mp4"] == "empty file (0 bytes)"
    assert skipped["garbage.avi"].startswith("cannot open") and skipped["cutmoov.mp4"].startswith("cannot open")
    noted = {Path(p["path"]).name: p["reason"] for p in report["kept_with_notes"]}
    assert set(noted) == {"cut.avi", "cutfast.mp4"}
    assert "of the 30 frames the container declares" in noted["cut.avi"]
    assert noted["cutfast.mp4"].startswith("truncated") or "failed to decode" in noted["cutfast.mp4"]
    with open(out / "prepare_report.csv", newline="") as f:
        assert sorted((Path(r["path"]).name, r["status"]) for r in csv.DictReader(f)) == sorted(
            [(n, "skipped") for n in skipped] + [(n, "kept") for n in noted])
    assert card["videos"] == 10 and card["clips"] == 7 and card["skipped"] == 3 and card["channels"] == 3
    assert card["class_names"] == ["a", "b"] and card["per_class"] == {"a": 3, "b": 4}

    ds = open_dataset(out)
    assert ds.channels == 3 and ds.class_names == ["a", "b"] and len(ds) == 7
    by_name = {Path(r["path"]).name: i for i, r in enumerate(ds.rows)}
    for name in ("cut.avi", "cutfast.mp4"):
        frames, _ = ds[by_name[name]]
        assert 0 < frames.shape[0] < 30 and ds.rows[by_name[name]]["source_frames"] == 30
    for rel, source in good.items():
        i = by_name[Path(rel).name]
        frames, label = ds[i]
        row = ds.rows[i]
        assert frames.shape == (12, 16, 20, 3) and frames.dtype == np.uint8  # short side 16, aspect 40/32 kept
        assert (row["height"], row["width"], row["source_height"], row["source_width"]) == (16, 20, 32, 40)
        assert label == names.index(rel.split("/")[0]) and row["class_name"] == rel.split("/")[0]
        assert row["fps"] == 25.0 and row["note"] == ""
        shrunk = torch.nn.functional.interpolate(torch.from_numpy(source).permute(0, 3, 1, 2).float(), (16, 20),
                                                 mode="area").permute(0, 2, 3, 1).numpy()
        assert np.abs(frames - shrunk).mean() < 12  # the right picture, after two lossy codecs
    header = (out / "manifest.csv").read_text().splitlines()[0]
    assert header.startswith("index,split,label,class_name,path,frames")


def test_prepared_colours_match_the_source(damaged_set, tmp_path):
    root, records, names, good = damaged_set
    rec = next(r for r in records if r.path.name == "good1.mp4")
    prepare([rec], tmp_path / "ds", short_side=32, crf=0, workers=1, progress=False)
    stored, _ = open_dataset(tmp_path / "ds")[0]
    direct, info = read_video(rec.path)
    assert stored.shape == direct.shape == (12, 32, 40, 3) and info["source_frames"] == 12
    assert np.abs(stored.astype(int) - direct).mean() < 3  # only the 4:2:0 chroma of the store differs


def test_square_keeps_the_whole_portrait_frame(tmp_path):
    """square=True: a portrait video becomes short_side x short_side, squeezed, its top and bottom kept
    (a centre square of the short-side resize would cut them off)."""
    frames = np.zeros((6, 64, 32, 3), np.uint8)
    frames[:, :16] = (250, 20, 20)    # a red head
    frames[:, -16:] = (20, 20, 250)   # blue feet
    frames[:, 16:-16] = 128
    path = tmp_path / "tall.avi"
    write_video(path, frames=frames, codec="png")
    square, info = read_video(path, short_side=16, square=True)
    kept, _ = read_video(path, short_side=16)
    assert square.shape == (6, 16, 16, 3) and kept.shape == (6, 32, 16, 3)
    assert square[:, :3, :, 0].mean() > 200 and square[:, -3:, :, 2].mean() > 200   # head and feet, whole
    assert (info["source_height"], info["source_width"]) == (64, 32)
    rec = VideoRecord(path, 0, "train")
    card = prepare([rec], tmp_path / "ds", short_side=16, square=True, crf=0, workers=1, progress=False)
    stored, _ = open_dataset(tmp_path / "ds")[0]
    assert stored.shape == (6, 16, 16, 3) and card["settings"]["square"] is True
    with pytest.raises(FileExistsError):   # the same folder with the aspect kept is another dataset
        prepare([rec], tmp_path / "ds", short_side=16, crf=0, workers=1, progress=False)
    with pytest.raises(ValueError, match="square='yes' is not accepted"):
        prepare([rec], tmp_path / "other", short_side=16, square="yes")


def test_prepare_resumes_and_is_the_same_with_more_workers(damaged_set, prepared, tmp_path):
    root, records, names, _ = damaged_set
    out, _ = prepared

    def files(path):   # every file of the folder: no wall time or other run-to-run value in any of them
        return {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file()}

    again = tmp_path / "again"
    prepare(records, again, short_side=16, class_names=names, chunk_size=3, workers=2, progress=False)
    assert files(again) == files(out)
    (again / "chunks" / "chunk-00001.csv").unlink()  # as if killed before the chunk was finished
    (again / "chunks" / "chunk-00002.bin.tmp").write_bytes(b"half")
    kept = {p.name: p.stat().st_mtime_ns for p in (again / "chunks").glob("chunk-*.csv")}
    prepare(records, again, short_side=16, class_names=names, chunk_size=3, workers=1, progress=False)
    assert files(again) == files(out)
    redone = {p.name for p in (again / "chunks").glob("chunk-*.csv") if p.stat().st_mtime_ns != kept.get(p.name)}
    assert redone == {"chunk-00001.csv"}  # the second run redid one chunk only
    with pytest.raises(FileExistsError, match="short_side"):
        prepare(records, again, short_side=32, class_names=names, chunk_size=3, workers=1, progress=False)
    assert files(again) == files(out)   # the refusal touched nothing
    # overwrite replaces what the old settings made: a folder of the new settings alone
    card = prepare(records, again, short_side=32, class_names=names, chunk_size=3, workers=1, overwrite=True,
                   progress=False)
    assert json.loads((again / "settings.json").read_text())["short_side"] == 32
    assert len(json.loads((again / "prepare_report.json").read_text())["skipped"]) == 3
    assert not (again / "runs.jsonl").exists()   # no wall-time log in a dataset folder
    assert open_dataset(again)[0][0].shape[1:] == (32, 40, 3)
    assert (card["clips"], card["splits"]) == itemgetter("clips", "splits")(json.loads((out / "card.json").read_text()))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="is not a fractalvid dataset; pass overwrite=True"):
        prepare(records, tmp_path / "other", short_side=16, class_names=names, workers=1, progress=False)
    assert [f.name for f in (tmp_path / "other").iterdir()] == ["notes.txt"]
    with pytest.raises(ValueError, match="short_side=15"):
        prepare(records, tmp_path / "never", short_side=15)
    with pytest.raises(ValueError, match="records is empty"):
        prepare([], tmp_path / "never")
    assert not (tmp_path / "never").exists()


@pytest.mark.skipif(not BASKETBALL.is_dir(), reason="the basketball5 clips are not on this machine")
def test_basketball5_prepares_and_loads_as_generic(tmp_path):
    records, names = list_videos("generic", BASKETBALL)
    assert len(records) == 283 and names == ["defense", "dribbling", "nothing", "passing", "shooting"]
    assert {r.split for r in records} == {"train", "test"}
    subset = [r for r in records if r.label in (0, 4)][::12]  # h264 and hevc both among them
    card = prepare(subset, tmp_path / "bb", class_names=names, workers=2, progress=False)
    assert card["skipped"] == 0 and card["clips"] == len(subset)
    ds = open_dataset(tmp_path / "bb")
    for i in range(len(ds)):
        frames, label = ds[i]
        assert min(frames.shape[1:3]) == 128 and frames.shape[3] == 3 and 5 <= frames.shape[0] <= 10
        assert label == subset[i].label
    clip, label = VideoClips(tmp_path / "bb", frames=8, stride=2, load_size=128)[0]
    assert clip.shape == (3, 8, 128, 128) and clip.dtype == torch.uint8
    full, _ = ds[0]
    if full.shape[0] < 8:  # shorter than 8 frames: stride 1, the last frame repeated
        assert torch.equal(clip[:, -1], clip[:, -2])
    clips, _ = VideoClips(tmp_path / "bb", train=False, num_clips=2, size=112)[0]
    assert clips.shape == (2, 3, 8, 112, 112)


@pytest.mark.skipif(not BASKETBALL.is_dir(), reason="the basketball5 clips are not on this machine")
def test_real_clips_prepare_to_the_same_bytes_in_separate_processes(tmp_path):
    """x264's macroblock tree had given the same real clips different bytes in each process (6 of 6); a
    fresh process per preparation, as two machines or two runs of the pipeline would be."""
    code = ("import sys; from fractalvid.storage.real import list_videos, prepare; r, n = list_videos('generic', sys.argv[1]); "
            "prepare(r[::4], sys.argv[2], short_side=64, class_names=n, workers=2, progress=False)")
    for name in ("a", "b"):
        subprocess.run([sys.executable, "-c", code, str(BASKETBALL), str(tmp_path / name)], check=True, timeout=300)
    a, b = ((tmp_path / name / "chunks" / "chunk-00000.bin").read_bytes() for name in ("a", "b"))
    assert len(a) > 100_000 and a == b
    assert (tmp_path / "a" / "manifest.csv").read_bytes() == (tmp_path / "b" / "manifest.csv").read_bytes()


# ----------------------------------------------------------------- sampling

def counting_source(lengths):
    """Videos whose frame t is filled with the value t: a clip shows which frames it took."""
    return [(np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None], (n, 6, 8)).copy(), k)
            for k, n in enumerate(lengths)]


def taken(clip: torch.Tensor) -> list[int]:
    return clip[0, :, 0, 0].tolist()


def test_train_and_eval_clips_take_the_right_frames():
    vc = VideoClips(counting_source([40, 7, 5]), frames=8, stride=2, seed=3)
    clip, label = vc[0]
    assert clip.shape == (1, 8, 6, 8) and clip.dtype == torch.uint8 and label == 0
    t = taken(clip)
    assert np.all(np.diff(t) == 2) and 0 <= t[0] <= 40 - 15
    assert taken(vc[1][0]) == [0, 1, 2, 3, 4, 5, 6, 6]  # 7 frames: stride 1, the last frame repeated
    assert taken(vc[2][0]) == [0, 1, 2, 3, 4, 4, 4, 4]
    loop = VideoClips(counting_source([5]), frames=8, stride=2, pad="loop")
    assert taken(loop[0][0]) == [0, 1, 2, 3, 4, 0, 1, 2]
    starts = set()
    for epoch in range(30):
        vc.set_epoch(epoch)
        starts.add(taken(vc[0][0])[0])
    assert len(starts) > 10  # the start moves with the epoch

    ev = VideoClips(counting_source([40, 7]), frames=8, stride=2, train=False, num_clips=4)
    clips, label = ev[0]
    assert clips.shape == (4, 1, 8, 6, 8) and label == 0
    firsts = [taken(c)[0] for c in clips]
    assert firsts == [3, 9, 16, 22]  # centres of 4 equal parts of the 26 possible starts
    assert all(taken(c)[-1] <= 39 for c in clips)
    assert all(taken(c) == [0, 1, 2, 3, 4, 5, 6, 6] for c in ev[1][0])
    assert eval_indices(100, 8, 2, 1)[0, 0] == 42  # one clip: the middle
    with pytest.raises(ValueError, match="pad='wrap'"):
        VideoClips(counting_source([5]), pad="wrap")
    with pytest.raises(ValueError, match="frames=0"):
        VideoClips(counting_source([5]), frames=0)


def test_same_seed_epoch_index_same_clip():
    a = train_indices(50, 8, 2, np.random.default_rng([0, 1, 2]))
    assert np.array_equal(a, train_indices(50, 8, 2, np.random.default_rng([0, 1, 2])))
    vc = VideoClips(counting_source([60] * 3), seed=1)
    first = [taken(vc[i][0]) for i in range(3)]
    vc.set_epoch(1)
    assert [taken(vc[i][0]) for i in range(3)] != first
    vc.set_epoch(0)
    assert [taken(vc[i][0]) for i in (2, 1, 0)] == first[::-1]  # order of asking does not matter


def test_batches_do_not_depend_on_worker_count(prepared):
    out, _ = prepared
    vc = VideoClips(out, frames=4, stride=2, seed=5, load_size=16)

    def batches(workers, epoch):
        vc.set_epoch(epoch)
        loader = DataLoader(vc, batch_size=3, num_workers=workers)
        return [(x.clone(), y.clone()) for x, y in loader]

    zero, two = batches(0, 1), batches(2, 1)
    assert len(zero) == 3 and zero[0][0].shape == (3, 3, 4, 16, 16)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(zero, two))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(zero, batches(0, 2)))


def test_partial_decoding_equals_full_decoding(prepared):
    out, _ = prepared
    ds = open_dataset(out)
    vc = VideoClips(ds, frames=4, stride=3, train=False, num_clips=2)
    full, label = ds[0]
    clips, y = vc[0]
    idx = eval_indices(full.shape[0], 4, 3, 2)
    assert y == label and torch.equal(clips, torch.from_numpy(full[idx]).permute(0, 4, 1, 2, 3))


def test_generated_grey_datasets_give_one_channel(tiny_spec, tmp_path):
    generate(tmp_path / "g", tiny_spec, workers=1, progress=False)
    vc = VideoClips(tmp_path / "g", split="val", frames=8, stride=2)
    assert len(vc) == 3 and open_dataset(tmp_path / "g").channels == 1
    clip, label = vc[1]
    assert clip.shape == (1, 8, 64, 64) and label == 1
    header = (tmp_path / "g" / "manifest.csv").read_text().splitlines()[0]
    assert header == ",".join(MANIFEST_FIELDS)


def test_eval_transform_resizes_short_side_then_centre_crops():
    x = torch.arange(2 * 3 * 4 * 40 * 56, dtype=torch.float32).reshape(2, 3, 4, 40, 56) % 251
    y = eval_transform(x, size=32)  # short side 40 -> round(32 * 256 / 224) = 37, then 32 x 32
    assert y.shape == (2, 3, 4, 32, 32) and y.dtype == torch.float32
    u8 = eval_transform(x.to(torch.uint8), size=32)
    assert u8.dtype == torch.uint8 and (u8.float() - y).abs().max() <= 1
    same = resize_center_crop(x, 40, 20)  # the short side already fits: a pure crop
    assert torch.equal(same, x[..., 10:30, 18:38])
    with pytest.raises(ValueError, match="crop=50"):
        resize_center_crop(x, 40, 50)


# --------------------------------------------------------- fractals on the fly

def assert_stream_renders_the_spec(stream, items):
    """Each item is its clip of the spec, rendered afresh, at the frames the position's generator picks."""
    for p, (clip, label) in enumerate(items):
        index = stream.index_at(p)
        assert stream.spec.label_split(index) == (label, stream.split)
        frames, _ = make_clip(stream.spec, index)
        idx = train_indices(len(frames), stream.frames, stream.stride,
                            np.random.default_rng([stream.seed, stream.epoch, 1, p]))
        assert torch.equal(clip[0], torch.from_numpy(frames[idx]))


def test_fractal_stream_is_reproducible_per_seed_and_epoch_and_worker_count(tiny_spec):
    stream = FractalStream(tiny_spec, frames=8, stride=2, seed=4, block=3)
    first = [stream.item(p) for p in range(6)]
    assert all(c.shape == (1, 8, 64, 64) and c.dtype == torch.uint8 for c, _ in first)
    assert_stream_renders_the_spec(stream, first)
    assert sorted(stream.index_at(p) for p in range(9)) == [i for i in range(12) if i % 4 != 3]  # a permutation

    loader = DataLoader(FractalStream(tiny_spec, frames=8, stride=2, seed=4, block=3), batch_size=3, num_workers=2)
    batches = list(itertools.islice(loader, 2))
    assert all(torch.equal(x, torch.stack([c for c, _ in first[3 * b: 3 * b + 3]])) and
               y.tolist() == [lab for _, lab in first[3 * b: 3 * b + 3]] for b, (x, y) in enumerate(batches))
    stream.set_epoch(1)
    assert [stream.index_at(p) for p in range(9)] != [FractalStream(tiny_spec, seed=4).index_at(p) for p in range(9)]
    assert [FractalStream(tiny_spec, seed=5).index_at(p) for p in range(9)] != \
        [FractalStream(tiny_spec, seed=4).index_at(p) for p in range(9)]
    leaves = DatasetSpec(family="dead_leaves", classes=2, per_class=3, val_per_class=1, options={"res": 32})
    stream = FractalStream(leaves, frames=4, stride=2, seed=1)
    stream.set_epoch(3)
    assert_stream_renders_the_spec(stream, [stream.item(p) for p in range(5)])  # classes cached right
    val = FractalStream(tiny_spec, split="val")
    assert sorted(val.index_at(p) for p in range(3)) == [3, 7, 11]
    with pytest.raises(ValueError, match="split='test'"):
        FractalStream(tiny_spec, split="test")


# ------------------------------------------------------------ colour storage

def old_grey_encode(frames, crf=20, preset="superfast", fps=12):
    """The grey encoder as it was before colour clips existed: stored datasets must not change."""
    n_frames, height, width = frames.shape
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        stream.thread_count = 1
        stream.codec_context.color_range = 2
        yuv = np.full((height * 3 // 2, width), 128, np.uint8)
        for frame in frames:
            yuv[:height] = frame
            vf = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            vf.color_range = 2
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def test_grey_clips_keep_their_bytes(rng):
    for shape, crf, preset in (((9, 32, 48), 0, "superfast"), ((6, 64, 64), 20, "medium")):
        frames = rng.integers(0, 256, shape, dtype=np.uint8)
        data = encode_clip(frames, crf, preset)
        assert data == old_grey_encode(frames, crf, preset)
        if crf == 0:
            assert np.array_equal(decode_clip(data), frames)
            rgb = decode_clip(data, channels=3)
            assert rgb.shape == shape + (3,) and np.array_equal(rgb[..., 1], frames)  # grey: R = G = B = Y


@pytest.mark.parametrize("crf,limit", [(0, 1.0), (20, 3.0)])
def test_colour_clips_round_trip(crf, limit):
    frames = pattern(6, 48, 64)
    data = encode_clip(frames, crf=crf)
    back = decode_clip(data, channels=3)
    assert back.shape == frames.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - frames).mean() < limit
    flat = np.full((2, 16, 16, 3), (200, 30, 90), np.uint8)
    assert np.abs(decode_clip(encode_clip(flat, crf=0), 3).astype(int) - flat).max() <= 1
    grey = decode_clip(data)  # a colour clip read as grey: its luma
    luma = frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    assert grey.shape == frames.shape[:3] and np.abs(grey - luma).mean() < limit
    assert np.array_equal(decode_clip(data, 3, indices=[4, 1, 1]), back[[4, 1, 1]])
    with pytest.raises(IndexError, match="frame 6"):
        decode_clip(data, 3, indices=[6])
    with pytest.raises(ValueError, match="channels=2"):
        decode_clip(data, channels=2)
    with pytest.raises(ValueError, match="even H and W"):
        encode_clip(np.zeros((2, 15, 16, 3), np.uint8))


def test_luminance_is_the_bt601_luma_and_leaves_grey_clips_alone():
    x = torch.zeros(2, 3, 4, 5, 6)
    x[0, 0], x[0, 1], x[0, 2] = 1.0, 0.5, 0.25        # one colour clip: R, G, B planes
    x[1] = 0.4                                         # a grey clip written in colour
    y = luminance(x)
    assert y.shape == (2, 1, 4, 5, 6)
    assert torch.allclose(y[0], torch.full((1, 4, 5, 6), 0.299 + 0.587 * 0.5 + 0.114 * 0.25))
    assert torch.allclose(y[1], torch.full((1, 4, 5, 6), 0.4))  # the weights sum to 1
    grey = torch.rand(2, 1, 4, 5, 6)
    assert luminance(grey) is grey


def test_eval_views_one_centre_crop_or_crops_across_the_frame():
    x = torch.arange(60, dtype=torch.float32).expand(2, 3, 4, 40, 60).clone()  # value = column index
    assert torch.equal(eval_views(x, 32, crops=1), eval_transform(x, 32))
    views = eval_views(x, 40, crops=3)  # the short side is already 40: crops at columns 0, 10, 20
    assert views.shape == (6, 3, 4, 40, 40)
    assert [int(v[0, 0, 0, 0]) for v in views[:3]] == [0, 10, 20] and int(views[2, 0, 0, 0, -1]) == 59
    assert torch.equal(views[3:], views[:3])  # clip by clip, the crops of a clip together
    tall = eval_views(x.transpose(-1, -2), 40, crops=3)  # portrait: the crops go down the frame
    assert tall.shape == (6, 3, 4, 40, 40) and [int(v[0, 0, 0, 0]) for v in tall[:3]] == [0, 10, 20]
    assert int(tall[1, 0, 0, 0, 39]) == 10  # a row of the frame, whole: the crop moved down, not across
    with pytest.raises(ValueError, match="crops=0 is not accepted"):
        eval_views(x, 40, crops=0)
