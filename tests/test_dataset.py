"""Datasets: same seed same bytes, workers, shards, resume, bad input, reading back."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fractalvid import DatasetSpec, generate, make_clip, merge, open_dataset
from fractalvid.cli import main as cli
from fractalvid.clips.generate import class_params
from fractalvid.storage.store import decode_clip, encode_clip


TINY_ARGS = ["--res", "64", "--set", "walkers=32", "--set", "steps=500", "--set", "discard=50",
             "--set", "framing_res=64", "--set", "framing_steps=400"]


def dataset_bytes(path: Path) -> dict:
    """Everything that must be identical between two makings of a dataset."""
    files = sorted((path / "chunks").glob("chunk-*")) + [path / "manifest.csv", path / "settings.json"]
    return {f.name: f.read_bytes() for f in files}


def test_supervised_dataset_reads_back_with_labels_splits_and_card(tiny_spec, tmp_path):
    card = generate(tmp_path / "ds", tiny_spec, workers=1, progress=False)
    ds = open_dataset(tmp_path / "ds")
    assert len(ds) == 12 and card["clips"] == 12 and card["splits"] == {"train": 9, "val": 3}
    assert list(ds.labels) == [0] * 4 + [1] * 4 + [2] * 4
    frames, label = ds[5]
    assert frames.dtype == np.uint8 and frames.shape[1:] == (64, 64) and 18 <= frames.shape[0] <= 20 and label == 1
    assert [r["split"] for r in ds.rows[:4]] == ["train"] * 3 + ["val"]
    assert len(open_dataset(tmp_path / "ds", split="val")) == 3
    assert card["generator"].startswith("fractalvid") and "wall_s" not in card   # no times in a dataset folder
    assert len(list((tmp_path / "ds" / "chunks").glob("*.bin"))) == 3  # 12 clips in chunks of 5
    with pytest.raises(IndexError):
        ds[12]


def test_instances_of_a_class_share_its_shape(tiny_spec, tmp_path):
    """Clips of one class correlate more, on average over every pair, than clips of different classes (one
    pair alone can go either way: each instance is framed on its own)."""
    generate(tmp_path / "ds", tiny_spec, workers=1, progress=False)
    ds = open_dataset(tmp_path / "ds")
    clips = [ds[i][0].astype(float) for i in range(len(ds))]
    labels = list(ds.labels)

    def corr(a, b):
        n = min(len(a), len(b))
        return np.corrcoef(a[:n].ravel(), b[:n].ravel())[0, 1]

    pairs = [(i, j) for i in range(len(clips)) for j in range(i + 1, len(clips))]
    same = np.mean([corr(clips[i], clips[j]) for i, j in pairs if labels[i] == labels[j]])
    other = np.mean([corr(clips[i], clips[j]) for i, j in pairs if labels[i] != labels[j]])
    assert same > other + 0.05, (same, other)


def test_one_fractal_classes_are_small_shifts_of_one_fractal_and_each_class_is_one_clip(tiny_spec, tmp_path):
    """1p-frac in video: class c is class 0's fractal (of the same seed, without one_fractal) with each map
    coefficient shifted by at most one_fractal, the same shift in every frame; a class's clips differ only in the
    chaos game's points, and the classes differ by more than that."""
    spec = tiny_spec.replace(options=tiny_spec.options.replace(one_fractal=0.1))
    base, _ = class_params(tiny_spec, 0)
    shifts = [class_params(spec, label)[0].coef - base.coef for label in range(3)]
    for shift in shifts:
        assert np.abs(shift).max() <= 0.1 and np.abs(shift).max() > 0.01
        assert np.allclose(shift, shift[:1])             # one shift for the whole clip: the motion stays
    assert not np.allclose(shifts[0], shifts[1])
    generate(tmp_path / "ds", spec, workers=1, progress=False)
    ds = open_dataset(tmp_path / "ds")
    assert list(ds.labels) == [0] * 4 + [1] * 4 + [2] * 4
    clips = [ds[i][0].astype(float) for i in (0, 1, 4, 8)]  # two of class 0, one each of 1 and 2
    assert all(c.shape == clips[0].shape for c in clips)    # one fractal: every class has its frame count
    within = np.abs(clips[0] - clips[1]).mean()
    assert 0 < within < min(np.abs(clips[0] - c).mean() for c in clips[2:])
    frames, _ = make_clip(spec, 5)
    assert encode_clip(frames, spec.crf, spec.preset) == ds.clip_bytes(5)   # same seed, same bytes


def test_any_clip_regenerates_alone_from_seed_and_index(tiny_spec, tmp_path):
    generate(tmp_path / "ds", tiny_spec, workers=1, progress=False)
    ds = open_dataset(tmp_path / "ds")
    for i in (0, 7, 11):
        frames, row = make_clip(tiny_spec, i)
        assert encode_clip(frames, tiny_spec.crf, tiny_spec.preset) == ds.clip_bytes(i)
        assert row["attempt"] == ds.rows[i]["attempt"]


def test_lossless_storage_round_trips_exactly(rng):
    frames = rng.integers(0, 256, (19, 64, 64), dtype=np.uint8)
    assert np.array_equal(decode_clip(encode_clip(frames, crf=0)), frames)


def test_same_bytes_across_runs_and_worker_counts(tiny_spec, tmp_path):
    generate(tmp_path / "a", tiny_spec, workers=1, progress=False)
    generate(tmp_path / "b", tiny_spec, workers=2, progress=False)
    assert dataset_bytes(tmp_path / "a") == dataset_bytes(tmp_path / "b")


def test_shards_merge_into_the_single_run(tiny_spec, tmp_path):
    generate(tmp_path / "whole", tiny_spec, workers=2, progress=False)
    assert generate(tmp_path / "p1", tiny_spec, workers=1, shard="1/2", progress=False) is None  # incomplete
    generate(tmp_path / "p2", tiny_spec, workers=1, shard="2/2", progress=False)
    card = merge(tmp_path / "merged", [tmp_path / "p1", tmp_path / "p2"])
    assert card["clips"] == 12
    assert dataset_bytes(tmp_path / "merged") == dataset_bytes(tmp_path / "whole")
    # parts may also be made into one shared folder
    generate(tmp_path / "shared", tiny_spec, workers=1, shard="2/2", progress=False)
    generate(tmp_path / "shared", tiny_spec, workers=1, shard="1/2", progress=False)
    assert dataset_bytes(tmp_path / "shared") == dataset_bytes(tmp_path / "whole")


def test_merge_refuses_parts_of_other_datasets(tiny_spec, tmp_path):
    generate(tmp_path / "p1", tiny_spec, workers=1, shard="1/2", progress=False)
    other = DatasetSpec(**{**tiny_spec.__dict__, "seed": 6})
    generate(tmp_path / "p2", other, workers=1, shard="2/2", progress=False)
    with pytest.raises(ValueError, match="other settings"):
        merge(tmp_path / "m", [tmp_path / "p1", tmp_path / "p2"])


def test_other_settings_are_refused_unless_overwrite(tiny_spec, tmp_path):
    generate(tmp_path / "ds", tiny_spec, workers=1, progress=False)
    other = DatasetSpec(**{**tiny_spec.__dict__, "seed": 6})
    with pytest.raises(FileExistsError, match="seed"):
        generate(tmp_path / "ds", other, workers=1, progress=False)
    before = dataset_bytes(tmp_path / "ds")
    assert dataset_bytes(tmp_path / "ds") == before  # the refusal touched nothing
    generate(tmp_path / "ds", other, workers=1, overwrite=True, progress=False)
    assert json.loads((tmp_path / "ds" / "settings.json").read_text())["seed"] == 6


def test_a_setting_missing_from_an_older_folder_counts_at_its_default(tiny_spec, tmp_path):
    """A folder made before a setting existed lacks its key: it was made at the default, so it is resumed
    (and, being finished, left as it is), not refused as made with other settings."""
    card = generate(tmp_path / "d", tiny_spec, workers=1, progress=False)
    settings = json.loads((tmp_path / "d" / "settings.json").read_text())
    del settings["options"]["p_nonlinear"], settings["crf"]   # as a version before these settings wrote them
    defaults = DatasetSpec(classes=1, per_class=2, val_per_class=0)
    assert (tiny_spec.options.p_nonlinear, tiny_spec.crf) == (defaults.options.p_nonlinear, defaults.crf)
    (tmp_path / "d" / "settings.json").write_text(json.dumps(settings))
    assert generate(tmp_path / "d", tiny_spec, workers=1, progress=False) == card
    settings["options"]["p_nonlinear"] = 0.3   # a value other than the default is still another dataset
    (tmp_path / "d" / "settings.json").write_text(json.dumps(settings))
    with pytest.raises(FileExistsError, match="other settings"):
        generate(tmp_path / "d", tiny_spec, workers=1, progress=False)


def test_a_folder_from_before_fractals_were_an_ordinary_family_is_resumed_as_it_is(tiny_spec, tmp_path):
    """Settings written when the fractal's own had a key of their own ("fractal", not "options") are the same
    dataset: resumed, nothing rewritten; that key beside another family's options is refused, named."""
    card = generate(tmp_path / "d", tiny_spec, workers=1, progress=False)
    path = tmp_path / "d" / "settings.json"
    settings = json.loads(path.read_text())
    settings["fractal"] = settings.pop("options")
    path.write_text(json.dumps(settings))
    before = dataset_bytes(tmp_path / "d")
    assert DatasetSpec.from_dict(settings) == tiny_spec
    assert generate(tmp_path / "d", tiny_spec, workers=1, progress=False) == card
    assert dataset_bytes(tmp_path / "d") == before
    with pytest.raises(ValueError, match="fractal=.*family 'perlin'.*under `options`"):
        DatasetSpec.from_dict({"family": "perlin", "samples": 2, "fractal": {"steps": 900}, "options": {"res": 32}})


def test_a_finished_set_is_not_rewritten_on_resume(tiny_spec, tmp_path):
    generate(tmp_path / "d", tiny_spec, workers=1, progress=False)
    files = [tmp_path / "d" / n for n in ("manifest.csv", "card.json", "settings.json")]
    before = [(f.read_bytes(), f.stat().st_mtime_ns) for f in files]
    time.sleep(0.01)
    generate(tmp_path / "d", tiny_spec, workers=1, progress=False)
    assert [(f.read_bytes(), f.stat().st_mtime_ns) for f in files] == before


def test_resume_after_a_killed_run_gives_identical_bytes(tmp_path):
    def command(out):
        return ["generate", str(out), "--samples", "16", "--chunk-size", "2", "--seed", "3", "--workers", "1",
                "--quiet", *TINY_ARGS]

    assert cli(command(tmp_path / "clean")) == 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "fractalvid", *command(tmp_path / "killed")], env=env)
    chunks = tmp_path / "killed" / "chunks"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(chunks.glob("*.csv"))) < 2:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(chunks.glob("*.csv")))
    assert 2 <= done < 8, "the run was to be killed part-way"
    (chunks / f"chunk-{done:05d}.bin").write_bytes(b"half a chunk")  # as if killed between the two renames
    (chunks / f"chunk-{done + 1:05d}.bin.tmp").write_bytes(b"half a chunk")
    assert cli(command(tmp_path / "killed")) == 0
    assert dataset_bytes(tmp_path / "killed") == dataset_bytes(tmp_path / "clean")
    assert not list(chunks.glob("*.tmp"))


@pytest.mark.parametrize("extra,needle", [
    (["--classes", "0"], "classes=0"),
    (["--samples", "-3"], "samples=-3"),
    (["--classes", "2", "--per-class", "0"], "per_class=0"),
    (["--classes", "2", "--per-class", "4", "--val-per-class", "4"], "val_per_class=4"),
    (["--samples", "4", "--res", "63"], "res=63"),
    (["--samples", "4", "--res", "8"], "res=8"),
    (["--samples", "4", "--variations", "horseshoe", "wobble"], "wobble"),
    (["--samples", "4", "--shard", "3/2"], "shard='3/2'"),
    (["--samples", "4", "--shard", "half"], "shard='half'"),
    (["--samples", "4", "--p-nonlinear", "1.5"], "p_nonlinear=1.5"),
    (["--samples", "4", "--motion", "jerky"], "motion='jerky'"),
    (["--samples", "4", "--workers", "0"], "workers=0"),
    (["--samples", "4", "--set", "p_const_bias=-0.5"], "p_const_bias=-0.5"),
    (["--samples", "4", "--set", "speed=3"], "speed"),
    (["--samples", "4", "--classes", "2"], "--samples 4 with --classes 2"),   # conflicting flags, both named
])
def test_bad_values_fail_before_any_work_naming_value_and_range(extra, needle, tmp_path, capsys):
    out = tmp_path / "never"
    assert cli(["generate", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and ("expected" in err or "accepted" in err), err
    assert not out.exists()


def test_show_writes_mp4_gif_and_contact_sheet(tiny_spec, tmp_path):
    generate(tmp_path / "ds", tiny_spec, workers=1, progress=False)
    for name in ("c.mp4", "c.gif", "c.png"):
        assert cli(["show", str(tmp_path / "ds"), "--index", "2", "--out", str(tmp_path / name)]) == 0
        assert (tmp_path / name).stat().st_size > 1000
    frames, _ = open_dataset(tmp_path / "ds")[2]
    assert np.abs(decode_clip((tmp_path / "c.mp4").read_bytes()).astype(int) - frames).mean() < 3
    assert cli(["show", str(tmp_path / "ds"), "--index", "2", "--out", str(tmp_path / "c.avi")]) == 2
