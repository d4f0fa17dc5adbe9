"""Training: resume after a crash or a kill, corrupt checkpoints, fine-tuning from a checkpoint, bad settings,
learning on an easy task, MoCo's queue and momentum encoder, fractal streams, the lr schedule, report files,
distributed runs.

Everything runs on tiny data (32 px, 4 frames, batches of 4) with one torch thread: on a shared 2-core
machine more threads only make the small convolutions slower, and results are compared bit for bit, which
needs the same thread count in every process that takes part.
"""
import csv
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import TINY
from fractalvid import DatasetSpec, FractalConfig, generate
from fractalvid.learning.models import build_model, trunk_stages
from fractalvid.learning.selfsup import BYOL, MoCo, SimCLR, byol_loss, nt_xent
from fractalvid.learning.train import (HISTORY_FIELDS, Run, TrainConfig, build_data, cosine_with_warmup,
                                       evaluate_checkpoint, finetune_config, load_checkpoint, recipe, train)
from fractalvid.storage.real import VideoRecord, prepare

ROOT = Path(__file__).resolve().parents[1]
TIMING = ("clips_per_s", "epoch_s", "train_minutes")        # the only numbers allowed to differ between equal runs
def recipe_of(cfg) -> dict:
    """A run's settings as params.yaml's finetune.recipe holds them: without the protocol (the set's own)."""
    return {k: v for k, v in cfg.to_dict().items() if k not in ("folds", "fold", "split_by")}


SMALL = dict(arch="tsm_mnv2", frames=4, size=32, batch_size=4, workers=0, val_clips=2)
RUN_FILES = {"model.pt", "history.csv", "metrics.json", "confusion.csv"}  # last.pt and previous.pt go at the end


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------ data

@pytest.fixture(scope="module")
def fractal_data(tmp_path_factory, one_thread):
    """3 fractal classes x 4 clips (1 per class held out: 9 train, 3 val videos, an odd count)."""
    out = tmp_path_factory.mktemp("fractal") / "ds"
    spec = DatasetSpec(classes=3, per_class=4, val_per_class=1, seed=5, chunk_size=6, options=FractalConfig(**TINY))
    generate(out, spec, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def unlabelled_data(tmp_path_factory, one_thread):
    """8 unlabelled fractal clips (an unsupervised set: one split, "train")."""
    out = tmp_path_factory.mktemp("unlabelled") / "ds"
    generate(out, DatasetSpec(samples=8, seed=2, options=FractalConfig(**TINY)), workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def actions_data(tmp_path_factory, one_thread):
    """The action benchmark, 2 classes (bend, jack) at 32 px: 12 train clips (6 actors), 6 test (3 actors)."""
    out = tmp_path_factory.mktemp("actions") / "ds"
    spec = DatasetSpec.from_dict(dict(family="actions", classes=2, per_class=9, val_per_class=0, seed=0,
                                      options={"res": 32, "frames": 8}))
    generate(out, spec, workers=1, progress=False)
    return out


def stripes_video(path: Path, horizontal: bool, seed: int, frames: int = 8, size: int = 32) -> None:
    """A little H.264 file of drifting sine stripes, horizontal or vertical, random period, phase and colour."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    period, phase, drift = rng.uniform(5, 9), rng.uniform(0, 2 * np.pi), rng.uniform(-1, 1)
    colour = rng.uniform(0.5, 1.0, 3)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for t in range(frames):
            wave = 0.5 + 0.5 * np.sin(2 * np.pi * ((y if horizontal else x) + drift * t) / period + phase)
            image = (wave[..., None] * colour * 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def stripes_data(tmp_path_factory):
    """An easy real-video task, prepared like a downstream set: horizontal vs vertical stripes, 8 train and
    4 test colour videos (flips and crops keep the orientation, so the augmented task stays easy)."""
    root = tmp_path_factory.mktemp("stripes")
    records = []
    for i in range(12):
        path = root / "videos" / f"{i}.mp4"
        path.parent.mkdir(exist_ok=True)
        stripes_video(path, horizontal=i % 2 == 0, seed=i)
        records.append(VideoRecord(path, i % 2, "test" if i >= 8 else "train"))
    prepare(records, root / "ds", short_side=32, workers=1, progress=False, class_names=["horizontal", "vertical"])
    return root / "ds"


# ------------------------------------------------------------------ helpers

def pretrain_cfg(data, **changes) -> TrainConfig:
    """Supervised pre-training with the real-video emulation, 3 epochs of 2 steps (9 clips, batch 4)."""
    return recipe("supervised", **{"data": str(data), "epochs": 3, "warmup_epochs": 1, **SMALL, **changes})


def history(folder: Path) -> list[dict]:
    with open(folder / "history.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def metrics(folder: Path) -> dict:
    return {k: v for k, v in json.loads((folder / "metrics.json").read_text()).items() if k not in TIMING}


def weights(folder: Path, name: str = "model.pt") -> dict:
    return load_checkpoint(folder / name)["encoder"]


def assert_same_run(a: Path, b: Path) -> None:
    """Same history (but timing), metrics, confusion matrix and final weights, bit for bit."""
    assert history(a) == history(b)
    assert metrics(a) == metrics(b)
    if (a / "confusion.csv").exists():
        assert (a / "confusion.csv").read_text() == (b / "confusion.csv").read_text()
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    different = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


def trunk(state: dict) -> dict:
    return {k: v for k, v in state.items() if not k.startswith("head.")}


def snapshots(run: Path) -> Path:
    return run.with_name(run.name + "-snapshots")


@pytest.fixture(scope="module")
def pretrained(fractal_data, tmp_path_factory):
    """An uninterrupted supervised run: (config, folder); snapshots(folder) keeps each epoch's last.pt."""
    cfg = pretrain_cfg(fractal_data)
    out = tmp_path_factory.mktemp("pretrained")
    snapshots(out).mkdir()
    original = Run.save

    def save_and_keep(self):
        original(self)
        shutil.copy(self.out / "last.pt", snapshots(out) / f"epoch{self.epoch}.pt")

    Run.save = save_and_keep
    try:
        train(cfg, out, progress=False)
    finally:
        Run.save = original
    return cfg, out


# ------------------------------------------------------------------ resume

def test_crash_mid_epoch_then_resume_matches_uninterrupted(pretrained, tmp_path, monkeypatch, capsys):
    cfg, reference = pretrained
    calls = []
    original = Run._inputs

    def crash_in_epoch_two(self, clips, gen, progress):
        calls.append(progress)
        if progress >= 1.5:  # epoch 2's second step: one step of epoch 2 has already changed the weights
            raise RuntimeError("simulated crash")
        return original(self, clips, gen, progress)

    monkeypatch.setattr(Run, "_inputs", crash_in_epoch_two)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, tmp_path, progress=False)
    monkeypatch.undo()
    assert calls == [0.0, 0.5, 1.0, 1.5]
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1
    assert not (tmp_path / "model.pt").exists() and not (tmp_path / "previous.pt").exists()
    assert len(history(tmp_path)) == 1

    capsys.readouterr()
    train(cfg, tmp_path, progress=False)
    assert f"resumed from {tmp_path / 'last.pt'} after epoch 1" in capsys.readouterr().out
    assert_same_run(reference, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == RUN_FILES  # a finished run keeps model.pt alone


def test_finished_run_keeps_model_pt_alone_and_restarted_only_reports(pretrained, tmp_path, capsys):
    cfg, reference = pretrained
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    capsys.readouterr()
    again = train(cfg, run, progress=False)
    assert f"resumed from {run / 'model.pt'} after epoch 3" in capsys.readouterr().out
    assert {p.name for p in run.iterdir()} == RUN_FILES
    assert_same_run(reference, run)  # the confusion matrix re-evaluated from model.pt's weights, the same
    assert again == json.loads((reference / "metrics.json").read_text())
    with pytest.raises(ValueError, match=r"holds a run with other settings \(differing: \['epochs'\]\)"):
        train(cfg.replace(epochs=4), run, progress=False)


def test_a_setting_added_after_a_checkpoint_counts_at_its_default(pretrained, tmp_path, capsys):
    """A run saved before a TrainConfig field existed (here val_crops) is the same run as one with the
    field at its default, and a different one from a run with another value."""
    cfg, reference = pretrained
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    state = torch.load(run / "model.pt", weights_only=False)
    del state["config"]["val_crops"]
    torch.save(state, run / "model.pt")
    capsys.readouterr()
    train(cfg, run, progress=False)
    assert f"resumed from {run / 'model.pt'} after epoch 3" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"other settings \(differing: \['val_crops'\]\)"):
        train(cfg.replace(val_crops=3, in_memory=False), run, progress=False)


def test_sigkill_then_resume_matches_uninterrupted(pretrained, tmp_path):
    """A real kill: a separate process trains until its first checkpoint exists and is SIGKILLed; this
    process resumes the run in the same folder."""
    cfg, reference = pretrained
    code = ("import json, sys, torch; torch.set_num_threads(1); "
            "from fractalvid.learning.train import TrainConfig, train; "
            "train(TrainConfig.from_dict(json.loads(sys.argv[1])), sys.argv[2], progress=False)")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(cfg.to_dict()), str(tmp_path)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not (tmp_path / "last.pt").exists():
            assert proc.poll() is None, f"the training process ended early: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "no checkpoint after 300 s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "model.pt").exists(), "the kill came after the run had finished: nothing was tested"
    train(cfg, tmp_path, progress=False)
    assert_same_run(reference, tmp_path)


def test_corrupt_last_checkpoint_falls_back_to_previous(pretrained, tmp_path, capsys):
    cfg, reference = pretrained
    assert not (reference / "previous.pt").exists() and not (reference / "last.pt").exists()
    shutil.copy(snapshots(reference) / "epoch3.pt", tmp_path / "last.pt")
    shutil.copy(snapshots(reference) / "epoch2.pt", tmp_path / "previous.pt")
    data = (tmp_path / "last.pt").read_bytes()
    (tmp_path / "last.pt").write_bytes(data[: len(data) // 2])  # a save cut short
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "last.pt"))):
        load_checkpoint(tmp_path / "last.pt")

    capsys.readouterr()
    train(cfg, tmp_path, progress=False)
    note = capsys.readouterr().out
    assert re.search(rf"checkpoint {re.escape(str(tmp_path / 'last.pt'))} is corrupt and was not loaded", note)
    assert f"resumed from {tmp_path / 'previous.pt'} after epoch 2" in note
    assert_same_run(reference, tmp_path)  # epoch 3 was redone exactly


def test_no_readable_checkpoint_starts_fresh_and_says_so(pretrained, tmp_path):
    cfg, reference = pretrained
    (tmp_path / "last.pt").write_bytes(b"\x00garbage" * 100)
    torch.save({"weights": torch.zeros(3)}, tmp_path / "previous.pt")  # loadable, but not a training checkpoint
    run = Run(cfg, tmp_path, progress=False)
    note = run.resume()
    assert "last.pt is corrupt" in note and "previous.pt is not a fractalvid checkpoint" in note
    assert "starting from scratch" in note
    assert run.epoch == 0 and run.history == []
    run.fit()  # really from scratch: the same run as one started in an empty folder
    assert_same_run(reference, tmp_path)


def test_load_checkpoint_errors_name_the_path(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(1000))
    with pytest.raises(ValueError, match=re.escape(str(garbage))):
        load_checkpoint(garbage)
    other = tmp_path / "other.pt"
    torch.save([1, 2, 3], other)
    with pytest.raises(ValueError, match=re.escape(str(other)) + ".*not a fractalvid checkpoint"):
        load_checkpoint(other)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "missing.pt"))):
        load_checkpoint(tmp_path / "missing.pt")


def test_resume_with_other_settings_is_refused(pretrained, tmp_path):
    cfg, reference = pretrained
    shutil.copy(snapshots(reference) / "epoch3.pt", tmp_path / "last.pt")
    with pytest.raises(ValueError, match=rf"{re.escape(str(tmp_path))} holds a run with other settings "
                                         r"\(differing: \['lr', 'seed'\]\)"):
        train(cfg.replace(lr=1e-3, seed=1), tmp_path, progress=False)
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 3  # untouched


def test_resume_accepts_equal_settings_however_written(fractal_data, tmp_path):
    """Settings that went through a checkpoint compare equal to the same settings given again: tuples
    inside dicts (augment) are not a change, and neither is the number of loader workers (items do
    not depend on it)."""
    cfg = pretrain_cfg(fractal_data, augment={"speed": (0.2, 0.5), "p_clone": 0.5})
    Run(cfg, tmp_path, progress=False).save()
    again = Run(TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))), tmp_path, progress=False)
    assert again.resume() == f"resumed from {tmp_path / 'last.pt'} after epoch 0"
    assert Run(cfg.replace(workers=2), tmp_path, progress=False).resume().startswith("resumed from")


# ------------------------------------------------------------------ settings

@pytest.mark.parametrize("changes, named", [
    (dict(arch="resnet9000"), "arch='resnet9000'"),
    (dict(task="distill"), "task='distill'"),
    (dict(lr=-0.1), "lr=-0.1"),
    (dict(lr=0.0), "lr=0.0"),
    (dict(epochs=0), "epochs=0"),
    (dict(warmup_epochs=4, epochs=3), "warmup_epochs=4"),
    (dict(batch_size=2.5), "batch_size=2.5"),
    (dict(dropout=1.0), "dropout=1.0"),
    (dict(crop_scale=(0.5, 0.2)), "crop_scale=(0.5, 0.2)"),
    (dict(moco_queue=0), "moco_queue=0"),
    (dict(moco_dim=-1), "moco_dim=-1"),
    (dict(moco_temperature=0), "moco_temperature=0"),
    (dict(init="weights.bin"), "init='weights.bin'"),
    (dict(grey="yes"), "grey='yes'"),
    (dict(tint_fg=[0.6]), "tint_fg=(0.6,)"),
    (dict(tint_bg=[0.3, 0.0]), "tint_bg=(0.3, 0.0)"),
    (dict(augment={"p_clone": 2}), "p_clone=2"),
    (dict(learning_rate=0.1), "unknown training setting(s) ['learning_rate']"),
])
def test_bad_settings_name_the_value(changes, named):
    with pytest.raises(ValueError) as e:
        TrainConfig.from_dict({"data": "somewhere", **changes})
    assert named in str(e.value)


def test_data_and_stream_settings():
    with pytest.raises(ValueError, match="exactly one of data"):
        TrainConfig()
    with pytest.raises(ValueError, match="epoch_clips=None"):
        TrainConfig(stream={"classes": 2})
    with pytest.raises(ValueError, match="stream=.*None when fine-tuning"):
        TrainConfig(task="finetune", stream={"classes": 2}, epoch_clips=8)


def test_missing_data_folder_names_path_and_hint(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as e:
        train(pretrain_cfg(missing), tmp_path / "run", progress=False)
    assert str(missing) in str(e.value) and "fractalvid generate" in str(e.value)
    assert not (tmp_path / "run").exists()


def test_supervised_training_needs_labels(unlabelled_data, tmp_path):
    with pytest.raises(ValueError, match="0 labelled classes.*task: moco"):
        Run(pretrain_cfg(unlabelled_data, val_split=None), tmp_path)


# ------------------------------------------------------------------ fine-tuning

def test_finetune_loads_the_pretrained_trunk_and_a_new_head(pretrained, actions_data, tmp_path):
    cfg, folder = pretrained
    checkpoint = load_checkpoint(folder / "model.pt")
    assert checkpoint["encoder"]["head.weight"].shape[0] == 3
    ft = recipe("finetune", data=str(actions_data), init=str(folder / "model.pt"), epochs=2, warmup_epochs=0, **SMALL)
    run = Run(ft, tmp_path, progress=False)  # before any step
    state = run.model.state_dict()
    expected = trunk(checkpoint["encoder"])
    assert trunk(state).keys() == expected.keys()
    assert all(torch.equal(state[k], v) for k, v in expected.items())
    assert run.model.head.out_features == 2 and run.classes == ["bend", "jack"]
    # the same run from scratch differs: the trunk really came from the checkpoint
    scratch = Run(ft.replace(init="scratch"), tmp_path / "scratch", progress=False).model.state_dict()
    assert any(not torch.equal(scratch[k], v) for k, v in expected.items())
    # a full training checkpoint (last.pt) works as init too
    full = snapshots(folder) / "epoch3.pt"
    run = Run(ft.replace(init=str(full)), tmp_path, progress=False)
    assert all(torch.equal(run.model.state_dict()[k], v) for k, v in trunk(load_checkpoint(full)["model"]).items())


def test_probe_trains_the_head_alone_and_keeps_the_trunk_and_its_statistics(pretrained, actions_data, tmp_path):
    cfg, folder = pretrained
    ft = recipe("finetune", data=str(actions_data), init=str(folder / "model.pt"), epochs=1, warmup_epochs=0,
                probe=True, **SMALL)
    run = Run(ft, tmp_path, progress=False)
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    run.train_one_epoch()
    after = run.model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items() if k.startswith("trunk."))  # running stats too
    assert not torch.equal(after["head.weight"], before["head.weight"])
    assert [n for n, p in run.model.named_parameters() if p.requires_grad] == ["head.weight", "head.bias"]
    with pytest.raises(ValueError, match="probe=True is not accepted"):
        cfg.replace(probe=True)   # a pre-training has no trunk to probe


def test_trunk_lr_slows_the_pretrained_trunk_and_not_its_new_head(pretrained, actions_data, tmp_path):
    cfg, folder = pretrained
    ft = recipe("finetune", data=str(actions_data), init=str(folder / "model.pt"), epochs=2, warmup_epochs=0,
                **SMALL)
    moved = {}
    for share in (1.0, 0.01):
        run = Run(ft.replace(trunk_lr=share), tmp_path / str(share), progress=False)
        before = {n: p.detach().clone() for n, p in run.model.named_parameters()}
        run.train_one_epoch()
        run.scheduler.step()
        lrs = [g["lr"] for g in run.optimizer.param_groups]
        moved[share] = {part: max((p.detach() - before[n]).abs().max().item() for n, p in run.model.named_parameters()
                                  if n.startswith(part)) for part in ("trunk.", "head.")}
    assert lrs == pytest.approx([lrs[0], 0.01 * lrs[0]])   # the schedule keeps the ratio
    # AdamW's step is about lr per weight: a hundredth of the lr moves the trunk about a hundredth as far
    assert moved[0.01]["trunk."] < 0.05 * moved[1.0]["trunk."]
    assert moved[0.01]["head."] > 0.5 * moved[1.0]["head."]
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match=f"trunk_lr={bad!r} is not accepted"):
            ft.replace(trunk_lr=bad)
    for no_trunk in (cfg, ft.replace(init="scratch")):   # a pre-training or random weights: no trunk to slow
        with pytest.raises(ValueError, match="trunk_lr=0.5 is not accepted"):
            no_trunk.replace(trunk_lr=0.5)
    # the pipeline's scratch runs keep one lr whatever the recipe's trunk_lr: they stay the same runs
    section = {"recipe": {**recipe_of(ft), "task": "finetune", "trunk_lr": 0.3}}
    assert finetune_config(section, "actions", "scratch", 0, "x.pt").trunk_lr == 1.0
    assert finetune_config(section, "actions", "fractal", 0, "x.pt").trunk_lr == 0.3


def test_head_epochs_hold_the_pretrained_trunk_while_its_new_head_learns_then_warm_it_up(
        pretrained, actions_data, tmp_path):
    cfg, folder = pretrained
    ft = recipe("finetune", data=str(actions_data), init=str(folder / "model.pt"), epochs=4, warmup_epochs=1,
                head_epochs=1, **SMALL)
    run = Run(ft, tmp_path, progress=False)
    steps = run.steps_per_epoch
    weights = {n: p.detach().clone() for n, p in run.model.named_parameters()}
    stats = {k: v.clone() for k, v in run.model.state_dict().items() if "running_mean" in k}
    run.train_one_epoch()
    after = run.model.state_dict()
    # the held epoch: the trunk's weights stay, the head learns, and batch norm meets the new clips' statistics
    assert all(torch.equal(after[n], w) for n, w in weights.items() if n.startswith("trunk."))
    assert not torch.equal(after["head.weight"], weights["head.weight"])
    assert any(not torch.equal(after[k], v) for k, v in stats.items())
    trunk = [run.scheduler.lr_lambdas[1](step) for step in range(4 * steps)]
    head = [run.scheduler.lr_lambdas[0](step) for step in range(4 * steps)]
    assert trunk[:steps] == [0.0] * steps
    # then a ramp from 0 over warmup_epochs back onto the head's schedule, which the trunk then follows
    assert 0 < trunk[steps] < trunk[2 * steps - 1] == pytest.approx(head[2 * steps - 1])
    assert trunk[2 * steps:] == pytest.approx(head[2 * steps:])
    run.train_one_epoch()
    assert any(not torch.equal(p.detach(), weights[n]) for n, p in run.model.named_parameters()
               if n.startswith("trunk."))
    for bad in (-1, 4, 1.5, True):
        with pytest.raises(ValueError, match=f"head_epochs={bad!r} is not accepted"):
            ft.replace(head_epochs=bad)
    for no_trunk in (cfg, ft.replace(init="scratch", head_epochs=0), ft.replace(probe=True, head_epochs=0)):
        with pytest.raises(ValueError, match="head_epochs=1 is not accepted"):
            no_trunk.replace(head_epochs=1)
    # the pipeline's scratch runs ignore the recipe's head_epochs: they stay the same runs
    section = {"recipe": {**recipe_of(ft), "task": "finetune"}}
    assert finetune_config(section, "actions", "scratch", 0, "x.pt").head_epochs == 0
    assert finetune_config(section, "actions", "fractal", 0, "x.pt").head_epochs == 1


def test_reinit_stages_keep_the_scratch_runs_random_weights_and_the_rest_is_pretrained(
        pretrained, actions_data, tmp_path):
    cfg, folder = pretrained
    encoder = torch.load(folder / "model.pt", map_location="cpu", weights_only=False)["encoder"]
    stages = trunk_stages(cfg.arch)
    assert trunk_stages("tsm_r18_w16") == ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")
    first_and_last = (stages[0], stages[-1])   # the stem, which saw grey clips only, and the stage nearest the pretext
    ft = recipe("finetune", data=str(actions_data), init=str(folder / "model.pt"), epochs=2, warmup_epochs=1,
                reinit=first_and_last, **SMALL)
    scratch = Run(ft.replace(init="scratch", reinit=()), tmp_path / "scratch", progress=False).model.state_dict()
    model = Run(ft, tmp_path / "fractal", progress=False).model.state_dict()
    fresh = [k for k in model if k.startswith(tuple(f"trunk.{stage}." for stage in first_and_last))]
    loaded = [k for k in model if k.startswith("trunk.") and k not in fresh]
    assert fresh and loaded
    # the named stages start where the scratch run of the same seed starts, not from the pre-trained network
    assert all(torch.equal(model[k], scratch[k]) for k in fresh)
    assert any(not torch.equal(model[k], encoder[k]) for k in fresh if k.endswith("weight"))
    # every other stage is the pre-trained network's
    assert all(torch.equal(model[k], encoder[k]) for k in loaded)
    assert any(not torch.equal(model[k], scratch[k]) for k in loaded if k.endswith("weight"))
    with pytest.raises(ValueError, match=rf"reinit=\('layer9',\) is not accepted: expected names among the trunk "
                                         rf"stages of {cfg.arch}: \['{stages[0]}'"):
        ft.replace(reinit=("layer9",))
    with pytest.raises(ValueError, match=r"reinit=\('.*',\) is not accepted: expected a list of trunk stages, empty "
                                         "unless fine-tuning a pre-trained network"):
        ft.replace(init="scratch", reinit=(stages[0],))
    assert type(ft).from_dict({**ft.to_dict(), "reinit": [stages[-1]]}).reinit == (stages[-1],)  # YAML lists
    # the pipeline's scratch runs ignore the recipe's reinit: they stay the same runs
    section = {"recipe": {**recipe_of(ft), "task": "finetune"}}
    assert finetune_config(section, "actions", "scratch", 0, "x.pt").reinit == ()
    assert finetune_config(section, "actions", "fractal", 0, "x.pt").reinit == first_and_last

def test_select_split_stops_early_and_ends_with_the_best_epochs_weights(actions_data, tmp_path, monkeypatch):
    """Early stopping: every epoch is scored on the holdout, not the test part; the run stops `patience` epochs
    after its best one (a tie goes to the lower loss), ends with that epoch's weights and scores the test part
    once with them; killed mid-way and restarted, or restarted when finished, it ends the same."""
    cfg = recipe("finetune", data=str(actions_data), folds=3, fold=0, holdout=0.3, val_split="test",
                 select_split="holdout", epochs=8, warmup_epochs=1, patience=2, **SMALL)
    # the holdout's scores per epoch, scripted so that the stop is known: epochs 2 and 4 tie on top-1, 2 has
    # the lower loss, so the run stops after epoch 4 (2 epochs without a better one)
    script = {1: (0.25, 0.7), 2: (0.75, 0.6), 3: (0.5, 0.5), 4: (0.75, 0.65)}
    scored, real_score = [], Run.score_selection

    def scripted(self):
        real = real_score(self)   # scored for real, on the 4 holdout clips (2 of the 6 training actors)
        scored.append((len(self.select_set), len(self.val_set), real["select_top1"] in (0, 0.25, 0.5, 0.75, 1)))
        top1, loss = script[self.epoch + 1]
        return {"select_top1": top1, "select_loss": loss}

    monkeypatch.setattr(Run, "score_selection", scripted)
    original_save = Run.save

    def save_and_keep(self):
        original_save(self)
        shutil.copy(self.out / "last.pt", self.out.parent / f"{self.out.name}-epoch{self.epoch}.pt")

    monkeypatch.setattr(Run, "save", save_and_keep)
    m = train(cfg, tmp_path / "a", progress=False)
    assert scored == [(4, 6, True)] * 4
    assert (m["epochs"], m["best_epoch"], m["select_top1"]) == (4, 2, 0.75)
    rows = history(tmp_path / "a")
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4"] and all(r["val_top1"] == "" for r in rows)
    assert [float(r["select_top1"]) for r in rows] == [0.25, 0.75, 0.5, 0.75]
    best = torch.load(tmp_path / "a-epoch2.pt", weights_only=False)["model"]
    last = torch.load(tmp_path / "a-epoch4.pt", weights_only=False)["model"]
    final = weights(tmp_path / "a")
    assert all(torch.equal(final[k], best[k]) for k in best)
    assert any(not torch.equal(final[k], last[k]) for k in last)
    assert not {"best.pt", "last.pt", "previous.pt"} & {p.name for p in (tmp_path / "a").iterdir()}
    # the test part, scored once with the best weights: 6 clips in the confusion matrix, and the same loss
    counts = np.loadtxt(tmp_path / "a" / "confusion.csv", delimiter=",", skiprows=1, usecols=(1, 2))
    assert counts.sum() == 6 and m["val_top1"] == pytest.approx(np.trace(counts) / 6) == m["best_val_top1"]
    check = Run(cfg, tmp_path / "check", progress=False)
    check.model.load_state_dict(final)
    assert check.evaluate()["val_loss"] == pytest.approx(m["val_loss"])

    calls = []
    original_epoch = Run.train_one_epoch

    def crash_in_epoch_three(self):
        calls.append(self.epoch)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original_epoch(self)

    monkeypatch.setattr(Run, "train_one_epoch", crash_in_epoch_three)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "b", progress=False)
    assert (tmp_path / "b" / "best.pt").exists()
    train(cfg, tmp_path / "b", progress=False)   # a new Run: the best epoch comes back from best.pt
    assert calls == [0, 1, 2, 2, 3]
    assert_same_run(tmp_path / "a", tmp_path / "b")
    again = train(cfg, tmp_path / "b", progress=False)   # finished: nothing trained, the same numbers
    assert calls == [0, 1, 2, 2, 3] and again["val_top1"] == m["val_top1"] and again["best_epoch"] == 2

    for bad, expected in ((dict(select_split="test"), "select_split='test' is not accepted"),
                          (dict(select_split="train"), "select_split='train' is not accepted"),
                          (dict(select_split=None), "patience=2 is not accepted"),
                          (dict(patience=0), "patience=0 is not accepted")):
        with pytest.raises(ValueError, match=re.escape(expected)):
            cfg.replace(**bad)


def test_finetune_from_another_arch_or_a_missing_file(pretrained, actions_data, tmp_path):
    _, folder = pretrained
    ft = recipe("finetune", data=str(actions_data), init=str(folder / "model.pt"), **{**SMALL, "arch": "tsm_r18"})
    with pytest.raises(ValueError) as e:
        Run(ft, tmp_path)
    assert "tsm_mnv2" in str(e.value) and "tsm_r18" in str(e.value) and str(folder / "model.pt") in str(e.value)
    missing = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        Run(ft.replace(init=str(missing)), tmp_path)


# ------------------------------------------------------------------ learning, reports

@pytest.fixture(scope="module")
def learned(stripes_data, tmp_path_factory):
    cfg = recipe("finetune", data=str(stripes_data), arch="tsm_r18", frames=4, size=32, epochs=5, warmup_epochs=0,
                 batch_size=4, workers=0, val_clips=2, dropout=0.5, lr=4e-3)
    out = tmp_path_factory.mktemp("learned")
    train(cfg, out, progress=False)
    return cfg, out


def test_supervised_training_learns_an_easy_task(learned):
    _, out = learned
    rows = history(out)
    losses = [float(r["train_loss"]) for r in rows]
    assert losses[-1] < 0.75 * losses[0], losses
    assert float(rows[-1]["train_top1"]) >= 0.75
    assert float(rows[-1]["val_top1"]) == 1.0 and float(rows[-1]["val_loss"]) < float(rows[0]["val_loss"])


def test_validation_metrics_and_confusion_agree(learned, stripes_data):
    cfg, out = learned
    with open(out / "confusion.csv", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["truth", "horizontal", "vertical"] and [r[0] for r in table[1:]] == ["horizontal", "vertical"]
    counts = np.array([[int(v) for v in r[1:]] for r in table[1:]])
    assert counts.sum() == 4 and counts.sum(1).tolist() == [2, 2]  # every test video once, by its true class
    m = json.loads((out / "metrics.json").read_text())
    assert m["val_top1"] == pytest.approx(np.trace(counts) / counts.sum())
    assert m["val_top1"] <= m["val_top5"] == 1.0  # 2 classes: the top 5 hold everything
    for row in history(out):
        assert 0 <= float(row["val_top1"]) <= float(row["val_top5"]) <= 1
    again = evaluate_checkpoint(out / "model.pt", str(stripes_data), "test", val_clips=cfg.val_clips, workers=0)
    assert again["val_top1"] == m["val_top1"] and again["val_top5"] == m["val_top5"]
    assert again["val_loss"] == pytest.approx(m["val_loss"], rel=1e-4, abs=1e-6)
    # multi-view: 3 crops across each clip, scores averaged over clips x crops
    views = evaluate_checkpoint(out / "model.pt", str(stripes_data), "test", val_clips=2, workers=0, crops=3)
    assert 0 <= views["val_top1"] <= 1 and math.isfinite(views["val_loss"])
    with pytest.raises(ValueError, match="val_crops=3 is not accepted: expected 1 with in_memory"):
        cfg.replace(in_memory=True, val_crops=3)


def test_report_files_have_the_documented_fields(pretrained):
    cfg, out = pretrained
    assert {p.name for p in out.iterdir()} == RUN_FILES  # nothing left under a temporary name
    with open(out / "history.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames) == HISTORY_FIELDS
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert all(float(r[k]) > 0 for r in rows for k in ("clips_per_s", "epoch_s"))
    m = json.loads((out / "metrics.json").read_text())
    assert m["train_minutes"] == pytest.approx(sum(float(r["epoch_s"]) for r in rows) / 60, abs=1e-3)
    assert {k: m[k] for k in ("epochs", "task", "arch", "init")} == dict(epochs=3, task="supervised",
                                                                         arch="tsm_mnv2", init="scratch")
    for k in HISTORY_FIELDS:
        if k != "lr":
            assert m[k] == pytest.approx(float(rows[-1][k]))
    assert m["best_val_top1"] == max(float(r["val_top1"]) for r in rows)
    saved = load_checkpoint(out / "model.pt")
    assert set(saved) == {"arch", "task", "classes", "config", "epoch", "history", "encoder"}
    assert saved["arch"] == "tsm_mnv2" and saved["epoch"] == 3 and saved["classes"] == ["0", "1", "2"]
    assert TrainConfig.from_dict(saved["config"]) == cfg
    assert sum(int(v) for r in list(csv.reader(open(out / "confusion.csv")))[1:] for v in r[1:]) == 3
    assert saved["history"] == json.loads(json.dumps(saved["history"]))  # plain numbers, as written to csv
    last = load_checkpoint(snapshots(out) / "epoch3.pt")  # the training checkpoint, before the run ended
    assert {"model", "optimizer", "scheduler", "scaler", "history", "epoch", "config"} <= set(last)
    assert last["history"] == json.loads(json.dumps(last["history"]))  # plain numbers, as written to csv


# ------------------------------------------------------------------ learning rate

def test_schedule_warms_up_linearly_then_cosine_to_zero():
    epochs, warmup, steps = 10, 2, 5
    f = cosine_with_warmup(epochs, warmup, steps)
    ramp, total = warmup * steps, epochs * steps
    assert [f(s) for s in range(ramp)] == pytest.approx([(s + 1) / ramp for s in range(ramp)])
    after = [f(s) for s in range(ramp, total)]
    assert after[0] == 1.0 and all(a > b for a, b in zip(after, after[1:]))
    assert f(ramp + (total - ramp) // 2) == pytest.approx(0.5)
    assert after[-1] < 0.01 and f(total) == pytest.approx(0.0, abs=1e-12)
    assert cosine_with_warmup(4, 0, 3)(0) == 1.0


def test_lr_scales_with_batch_and_follows_the_schedule(pretrained, fractal_data, tmp_path):
    cfg, out = pretrained
    for batch in (4, 8):
        run = Run(cfg.replace(batch_size=batch), tmp_path / str(batch), progress=False)
        assert run.optimizer.param_groups[0]["initial_lr"] == pytest.approx(cfg.lr * batch / 32)
    base = cfg.lr * cfg.batch_size / 32
    f = cosine_with_warmup(cfg.epochs, cfg.warmup_epochs, 2)  # 9 clips, batch 4: 2 steps per epoch
    lrs = [float(r["lr"]) for r in history(out)]  # each epoch's first step
    assert lrs == pytest.approx([base * f(0), base * f(2), base * f(4)])
    assert lrs == pytest.approx([base / 2, base, base / 2])
    state = load_checkpoint(snapshots(out) / "epoch3.pt")
    assert state["scheduler"]["last_epoch"] == 6
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-15)  # cosine ends at 0


# ------------------------------------------------------------------ MoCo

def moco(queue=6, momentum=0.9) -> MoCo:
    torch.manual_seed(0)
    return MoCo(build_model("tsm_mnv2", 1, frames=4, dropout=0.0), dim=8, queue=queue, momentum=momentum)


def views(b, seed):
    return torch.randn(b, 3, 4, 32, 32, generator=torch.Generator().manual_seed(seed))


def keys_of(m: MoCo, x) -> torch.Tensor:
    """The keys the key encoder, as it is now, makes of x (BatchNorm in training mode: batch statistics)."""
    with torch.no_grad():
        return F.normalize(m.key_head(m.key_encoder.features(x)), dim=1)


def key_and_query_params(m: MoCo):
    keys = list(m.key_encoder.parameters()) + list(m.key_head.parameters())
    queries = list(m.encoder.parameters()) + list(m.head.parameters())
    return keys, queries


def test_moco_queue_pointer_advances_wraps_and_holds_unit_keys():
    m = moco(queue=6).train()
    assert int(m.queue_ptr) == 0 and torch.allclose(m.queue.norm(dim=1), torch.ones(6))
    before = m.queue.clone()
    x = views(4, 1)
    loss, logits, labels = m(x, x)
    assert logits.shape == (4, 7) and int(m.queue_ptr) == 4 and labels.tolist() == [0, 0, 0, 0]
    assert float(loss.detach()) == pytest.approx(float(F.cross_entropy(logits.detach(), labels)))
    assert torch.allclose(m.queue[:4], keys_of(m, x), atol=1e-6) and torch.equal(m.queue[4:], before[4:])
    x = views(4, 2)
    m(x, x)
    assert int(m.queue_ptr) == 2  # 4 + 4 wraps around 6
    k = keys_of(m, x)
    assert torch.allclose(m.queue[[4, 5, 0, 1]], k, atol=1e-6)
    assert torch.allclose(m.queue.norm(dim=1), torch.ones(6), atol=1e-6)


def test_moco_batch_larger_than_queue_keeps_the_newest_keys():
    m = moco(queue=3).train()
    x = views(4, 3)
    m(x, x)
    k = keys_of(m, x)
    assert int(m.queue_ptr) == 1  # 4 keys written at 0, 1, 2, 0: the queue holds the last three
    assert torch.allclose(m.queue[[1, 2, 0]], k[1:], atol=1e-6)


def test_moco_logits_positive_first_then_queue():
    m = moco(queue=6).train()
    q, k = views(2, 4), views(2, 5)
    queue = m.queue.clone()
    _, logits, _ = m(q, k)
    with torch.no_grad():
        qf = F.normalize(m.head(m.encoder.features(q)), dim=1)
    assert torch.allclose(logits[:, 0], (qf * keys_of(m, k)).sum(1) / m.temperature, atol=1e-4)
    assert torch.allclose(logits[:, 1:], qf @ queue.t() / m.temperature, atol=1e-4)


def test_moco_key_encoder_follows_the_query_encoder_by_momentum():
    m = moco(momentum=0.9).train()
    keys, queries = key_and_query_params(m)
    assert all(torch.equal(k, q) for k, q in zip(keys, queries)) and not any(k.requires_grad for k in keys)
    optimizer = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-2)
    x = views(4, 6)
    loss, _, _ = m(x, views(4, 7))
    loss.backward()
    # every trainable parameter takes part (DistributedDataParallel requires it); no gradient reaches the keys
    unused = [n for n, p in m.named_parameters() if p.requires_grad and p.grad is None]
    assert not unused, unused
    assert all(k.grad is None for k in keys)
    optimizer.step()
    assert any(not torch.equal(k, q) for k, q in zip(keys, queries))  # the step moved the query encoder only
    old_keys = [k.detach().clone() for k in keys]
    now = [q.detach().clone() for q in queries]
    m(x, x)
    for k, k0, q in zip(keys, old_keys, now):
        assert torch.allclose(k, 0.9 * k0 + 0.1 * q, rtol=1e-5, atol=1e-7)
    assert any(not torch.equal(k, q) for k, q in zip(keys, queries))


@pytest.fixture(scope="module")
def moco_run(unlabelled_data, tmp_path_factory):
    """MoCo pre-training on an unlabelled set with the recipe's own settings (val_split stays "val")."""
    cfg = recipe("moco", data=str(unlabelled_data), epochs=1, warmup_epochs=0, moco_queue=16, moco_dim=8, **SMALL)
    out = tmp_path_factory.mktemp("moco")
    result = train(cfg, out, progress=False, keep_checkpoint=True)  # the tests read MoCo's final queue
    return cfg, out, result


def test_moco_training_writes_a_checkpoint_usable_for_finetuning(moco_run, actions_data, tmp_path):
    cfg, out, result = moco_run
    assert math.isfinite(result["train_loss"]) and "val_top1" not in result
    assert {p.name for p in out.iterdir()} == {"last.pt", "model.pt", "history.csv", "metrics.json"}
    last = load_checkpoint(out / "last.pt")
    assert int(last["model"]["queue_ptr"]) == 8  # 2 steps of 4 keys
    queue = last["model"]["queue"]
    assert torch.allclose(queue.norm(dim=1), torch.ones(16), atol=1e-5)
    saved = load_checkpoint(out / "model.pt")
    assert saved["task"] == "moco" and not any(k.startswith(("key_", "queue")) for k in saved["encoder"])
    ft = recipe("finetune", data=str(actions_data), init=str(out / "model.pt"), **SMALL)
    state = Run(ft, tmp_path, progress=False).model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in trunk(saved["encoder"]).items())
    assert all(torch.equal(v, last["model"]["encoder." + k]) for k, v in saved["encoder"].items())


# ------------------------------------------------------------------ X3D

def test_x3d_trains_resumes_exactly_and_fine_tunes(fractal_data, actions_data, tmp_path, monkeypatch):
    cfg = pretrain_cfg(fractal_data, arch="x3d_s", stride=2, epochs=2, dropout=0.5)
    train(cfg, tmp_path / "reference", progress=False)
    original = Run._inputs

    def crash_in_epoch_two(self, clips, gen, progress):
        if progress >= 1.5:
            raise RuntimeError("simulated crash")
        return original(self, clips, gen, progress)

    monkeypatch.setattr(Run, "_inputs", crash_in_epoch_two)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, tmp_path / "run", progress=False)
    monkeypatch.undo()
    train(cfg, tmp_path / "run", progress=False)
    assert_same_run(tmp_path / "reference", tmp_path / "run")
    saved = load_checkpoint(tmp_path / "run" / "model.pt")
    assert saved["arch"] == "x3d_s"
    ft = recipe("finetune", data=str(actions_data), init=str(tmp_path / "run" / "model.pt"),
                **{**SMALL, "arch": "x3d_s"})
    state = Run(ft, tmp_path / "ft", progress=False).model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in trunk(saved["encoder"]).items())
    # the X3D paper's clips unless given: 16 frames of 224 px at stride 5 for X3D-M
    m = recipe("supervised", data="d", arch="x3d_m")
    assert (m.frames, m.stride, m.size) == (16, 5, 224)


# ------------------------------------------------------------------ SimCLR and BYOL

def test_nt_xent_known_answer():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    # one pair: each embedding's only candidate is its other view, so the loss is exactly 0
    loss, logits, labels = nt_xent(a[None], a[None] * 3, temperature=0.5)
    assert float(loss) == pytest.approx(0.0, abs=1e-6) and labels.tolist() == [1, 0]
    # two pairs of orthogonal unit vectors (views equal up to scale): each row has its positive at cosine 1
    # and two negatives at cosine 0 (itself masked), so the loss is -log(e^(1/T) / (e^(1/T) + 2))
    t = 0.5
    loss, logits, labels = nt_xent(torch.stack([a, b]), torch.stack([2 * a, 5 * b]), temperature=t)
    assert float(loss) == pytest.approx(-math.log(math.exp(1 / t) / (math.exp(1 / t) + 2)), rel=1e-6)
    assert labels.tolist() == [2, 3, 0, 1] and torch.isinf(logits.diagonal()).all()
    # identical embeddings for every clip: the positive is no better than the negatives, loss = log(2N - 1)
    same = torch.ones(3, 4)
    assert float(nt_xent(same, same, 0.1)[0]) == pytest.approx(math.log(5), rel=1e-6)


def test_byol_target_follows_by_ema_and_only_the_online_side_learns():
    m = BYOL(build_model("tsm_mnv2", 1, frames=4, dropout=0.0), dim=8, momentum=0.9).train()
    online = list(m.encoder.trunk.parameters()) + list(m.projector.parameters())
    target = list(m.target_encoder.trunk.parameters()) + list(m.target_projector.parameters())
    assert all(torch.equal(o, t) for o, t in zip(online, target)) and not any(t.requires_grad for t in target)
    assert all(p.requires_grad for p in m.predictor.parameters())  # the predictor exists on the online side only
    optimizer = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.5)
    v1, v2 = views(4, 1), views(4, 2)
    loss, logits, labels = m(v1, v2)
    assert logits.shape == (8, 8) and labels.tolist() == list(range(8)) and 0 <= float(loss.detach()) <= 4
    loss.backward()
    unused = [n for n, p in m.named_parameters() if p.requires_grad and p.grad is None]
    assert not unused, unused  # DistributedDataParallel needs every trainable parameter to take part
    assert all(t.grad is None for t in target)
    optimizer.step()
    before = [t.detach().clone() for t in target]
    now = [o.detach().clone() for o in online]
    m(v1, v2)  # the next forward moves the target towards the online network: t <- 0.9 t + 0.1 o
    for t, t0, o in zip(target, before, now):
        assert torch.allclose(t, 0.9 * t0 + 0.1 * o, rtol=1e-5, atol=1e-7)
    # the regression loss: 0 for the same direction, 2 for orthogonal, 4 for opposite
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    z = torch.tensor([[3.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
    assert byol_loss(p, z).tolist() == pytest.approx([0.0, 2.0, 4.0], abs=1e-6)


@pytest.mark.parametrize("task", ["simclr", "byol"])
def test_self_supervised_loss_falls_on_fractal_clips_and_the_encoder_fine_tunes(task, unlabelled_data,
                                                                               actions_data, tmp_path):
    # 8 clips in one batch; 9 frames of their 18-20, so the two views of a clip share most of its motion, and
    # mild view augmentation: a task 10 steps can learn (with random windows of 4 frames and RandAugment,
    # tiny networks need far more steps than a test has)
    cfg = recipe(task, data=str(unlabelled_data), epochs=10, warmup_epochs=1, lr=4e-3, moco_dim=16,
                 moco_temperature=0.2, real_video=False, randaugment=False, crop_scale=(1.0, 1.0),
                 **{**SMALL, "batch_size": 8, "frames": 9, "stride": 2})
    result = train(cfg, tmp_path / task, progress=False)
    losses = [float(r["train_loss"]) for r in history(tmp_path / task)]
    assert math.isfinite(result["train_loss"]) and "val_top1" not in result
    assert np.mean(losses[-3:]) < 0.6 * losses[0], losses   # it learns to pair each clip's views
    saved = load_checkpoint(tmp_path / task / "model.pt")
    assert saved["task"] == task and not any(k.startswith(("target_", "projector", "predictor"))
                                             for k in saved["encoder"])
    ft = recipe("finetune", data=str(actions_data), init=str(tmp_path / task / "model.pt"), **SMALL)
    state = Run(ft, tmp_path / "ft", progress=False).model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in trunk(saved["encoder"]).items())


def test_simclr_batch_of_views_and_unknown_task():
    m = SimCLR(build_model("tsm_mnv2", 1, frames=4, dropout=0.0), dim=8, temperature=0.2).train()
    loss, logits, labels = m(views(3, 1), views(3, 2))
    assert logits.shape == (6, 6) and labels.tolist() == [3, 4, 5, 0, 1, 2] and float(loss.detach()) > 0
    with pytest.raises(ValueError, match=r"task='swav' is not accepted: expected one of \('supervised', 'moco', "
                                         r"'simclr', 'byol', 'finetune'\)"):
        recipe("swav")


# ------------------------------------------------------------------ fractal streams

STREAM = dict(classes=2, per_class=4, val_per_class=0, seed=1, options=TINY)


def stream_cfg(**changes) -> TrainConfig:
    return recipe("supervised", **{"stream": STREAM, "epoch_clips": 8, "epochs": 2, "warmup_epochs": 1, **SMALL,
                                   **changes})


def test_stream_training_runs_and_is_deterministic(tmp_path):
    train(stream_cfg(), tmp_path / "a", progress=False)
    train(stream_cfg(workers=2), tmp_path / "b", progress=False)  # batches do not depend on the workers
    train(stream_cfg(seed=1), tmp_path / "c", progress=False)
    rows = history(tmp_path / "a")
    assert [r["epoch"] for r in rows] == ["1", "2"] and all(r["val_top1"] == "" for r in rows)
    assert math.isfinite(float(rows[-1]["train_loss"]))
    assert history(tmp_path / "a") == history(tmp_path / "b")
    wa, wb, wc = (weights(tmp_path / n) for n in "abc")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert any(not torch.equal(wa[k], wc[k]) for k in wa)
    assert load_checkpoint(tmp_path / "a" / "model.pt")["classes"] == ["0", "1"]


def test_stream_ranks_draw_different_clips():
    cfg = stream_cfg()
    single, val, select, classes = build_data(cfg)
    assert (single.seed, single.block, val, select, classes) == (cfg.seed, 4, None, None, ["0", "1"])
    ranks = [build_data(cfg, rank=r, world=2)[0] for r in (0, 1)]
    assert [s.block for s in ranks] == [2, 2]  # each rank's batch: 4 // 2
    first = [s.item(p)[0] for s in ranks for p in range(2)]
    assert not any(torch.equal(first[i], first[j]) for i in range(4) for j in range(i))


# ------------------------------------------------------------------ distributed

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_distributed(cfg: TrainConfig, out: Path, world: int = 2, timeout: float = 600,
                    keep_checkpoint: bool = False) -> None:
    """What torchrun does on one machine: `world` processes with RANK, WORLD_SIZE, MASTER_ADDR/PORT set."""
    code = ("import json, sys, torch; torch.set_num_threads(1); "
            "from fractalvid.learning.train import TrainConfig, train; "
            "train(TrainConfig.from_dict(json.loads(sys.argv[1])), sys.argv[2], progress=False, "
            f"keep_checkpoint={keep_checkpoint})")
    base = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(free_port()), "WORLD_SIZE": str(world)}
    procs = [subprocess.Popen([sys.executable, "-c", code, json.dumps(cfg.to_dict()), str(out)], cwd=ROOT,
                              env={**base, "RANK": str(r), "LOCAL_RANK": str(r)}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for r in range(world)]
    try:
        outputs = [p.communicate(timeout=timeout)[0].decode() for p in procs]
    finally:
        for p in procs:
            p.kill()
    for r, (p, text) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, f"rank {r} failed:\n{text[-3000:]}"


@pytest.mark.slow
def test_distributed_supervised_run_writes_one_set_of_files(fractal_data, tmp_path):
    cfg = pretrain_cfg(fractal_data, epochs=2, batch_size=4)
    run_distributed(cfg, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == RUN_FILES
    rows = history(tmp_path)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    with open(tmp_path / "confusion.csv", newline="") as f:
        counts = [[int(v) for v in r[1:]] for r in list(csv.reader(f))[1:]]
    assert sum(map(sum, counts)) == 3  # each of the 3 val videos once, though 3 does not split over 2 ranks
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["val_top1"] == pytest.approx(sum(counts[i][i] for i in range(3)) / 3)
    assert load_checkpoint(tmp_path / "model.pt")["epoch"] == 2
    # restarted in the finished folder, both ranks just report (the final evaluation is collective)
    run_distributed(cfg, tmp_path, timeout=120)
    assert history(tmp_path) == rows


@pytest.mark.slow
def test_distributed_moco_and_stream_runs(unlabelled_data, tmp_path):
    cfg = recipe("moco", data=str(unlabelled_data), epochs=1, warmup_epochs=0, moco_queue=16, moco_dim=8, **SMALL)
    run_distributed(cfg, tmp_path / "moco", keep_checkpoint=True)
    assert int(load_checkpoint(tmp_path / "moco" / "last.pt")["model"]["queue_ptr"]) == 8  # keys of both ranks
    for task in ("simclr", "byol"):  # the same loop, under DDP
        run_distributed(cfg.replace(task=task), tmp_path / task)
        assert load_checkpoint(tmp_path / task / "model.pt")["task"] == task
        assert len(history(tmp_path / task)) == 1
    run_distributed(stream_cfg(epochs=1), tmp_path / "stream")
    assert len(history(tmp_path / "stream")) == 1


def test_channels_last_changes_the_layout_only(fractal_data, actions_data, tmp_path):
    """A channels-last run keeps its 4-d weights in that layout, learns the same numbers as the default layout
    (up to float rounding) and saves a checkpoint that any run loads."""
    cfg = TrainConfig(data=str(fractal_data), arch="tsm_r18_w16", frames=4, size=32, batch_size=4, workers=0,
                      epochs=1, warmup_epochs=0, lr=1e-3, val_clips=1, real_video=False, randaugment=False,
                      in_memory=True)
    last = Run(cfg.replace(channels_last=True), tmp_path / "cl", progress=False)
    convs = [p for p in last.model.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                         for p in convs if p.shape[-1] > 1)
    plain = Run(cfg, tmp_path / "plain", progress=False)
    a, b = plain.fit(), last.fit()
    assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
    saved = load_checkpoint(tmp_path / "cl" / "model.pt")["encoder"]
    for k, v in load_checkpoint(tmp_path / "plain" / "model.pt")["encoder"].items():
        if v.is_floating_point():
            torch.testing.assert_close(saved[k], v, rtol=1e-3, atol=3e-4)   # Adam magnifies rounding in a few tiny weights
    # a default-layout fine-tuning run starts from the channels-last trunk, value for value
    ft = recipe("finetune", data=str(actions_data), init=str(tmp_path / "cl" / "model.pt"), epochs=1, warmup_epochs=0,
                arch="tsm_r18_w16", frames=4, size=32, batch_size=4, workers=0, val_clips=1)
    state = Run(ft, tmp_path / "ft", progress=False).model.state_dict()
    expected = trunk(saved)
    assert expected and all(torch.equal(state[k], v) for k, v in expected.items())


# ------------------------------------------------------------------ the one override path

def test_finetune_config_takes_the_protocol_from_the_set_and_the_scratch_recipe_on_top():
    """The set's section gives folds and split_by; finetune.scratch changes the scratch runs alone; the recipe may
    not hold the protocol; the warm-up is never derived from the epochs."""
    section = {"recipe": {"arch": "tsm_r18_w16", "size": 32, "epochs": 50, "warmup_epochs": 5},
               "scratch": {"epochs": 150}}
    weizmann = {"source": "weizmann", "folds": 3, "split_by": "identity"}
    scratch = finetune_config(section, "weizmann", "scratch", 1, "x.pt", weizmann)
    fractal = finetune_config(section, "weizmann", "fractal", 1, "models/pretrain/1/model.pt", weizmann)
    assert (scratch.epochs, scratch.warmup_epochs, scratch.folds, scratch.split_by) == (150, 5, 3, "identity")
    assert (fractal.epochs, fractal.warmup_epochs, fractal.folds, fractal.data) == (50, 5, 3, "data/weizmann")
    ucf = finetune_config(section, "ucf101", "fractal", 0, "m.pt", {"source": "ucf101", "folds": None,
                                                                      "split_by": "identity"})
    assert ucf.folds is None
    with pytest.raises(ValueError, match=r"finetune.recipe.folds is not accepted: the protocol is each set's own, "
                                         r"downstream.actions.folds"):
        finetune_config({"recipe": {**section["recipe"], "folds": 3}}, "actions", "scratch", 0, "x.pt", weizmann)
    with pytest.raises(ValueError, match=r"finetune.scratch=\{'folds': 2\} is not accepted"):
        finetune_config({**section, "scratch": {"folds": 2}}, "actions", "scratch", 0, "x.pt", weizmann)
    with pytest.raises(ValueError, match=r"warmup_epochs=10 is not accepted: expected an integer in \[0, epochs=4\] "
                                         r"\(it is never derived from epochs"):
        recipe("finetune", data="d", epochs=4)
    assert recipe("finetune", data="d", epochs=40).warmup_epochs == 10       # the recipe's 10, not a share of 40


def test_one_key_value_parser_for_the_command_line_and_the_pipeline():
    from fractalvid.cli import main
    from fractalvid.config import parse_assignments
    from fractalvid.project import experiment_command

    assert parse_assignments(["epochs=10", "lr=1.0e-3", "crop_scale=[0.5,1.0]", "init=scratch", "folds=null",
                              "++finetune.scratch={epochs: 150}", "downstream.weizmann.classes=[jump,run]"]) == {
        "epochs": 10, "lr": 1e-3, "crop_scale": [0.5, 1.0], "init": "scratch", "folds": None,
        "finetune.scratch": {"epochs": 150}, "downstream.weizmann.classes": ["jump", "run"]}
    for bad in ("epochs", "=3", "a..b=1", "x=[1,"):
        with pytest.raises(ValueError, match=rf"--set '{re.escape(bad)}' is not accepted"):
            parse_assignments([bad])
    with pytest.raises(ValueError, match=r"--set 'pretrain.epochs' is not accepted: expected KEY=VALUE"):
        experiment_command("params-quick.yaml", "q", overlay=True, changes=("pretrain.epochs",))
    assert main(["finetune", "out", "--data", "nowhere", "--set", "epochs"]) == 2   # the CLI's --set: the same parser


# ------------------------------------------------------------------ speed levers that keep the digits

def test_scoring_the_test_part_less_often_changes_no_training_digit(pretrained, fractal_data, tmp_path):
    """eval_every=2: the test part is scored at epochs 2 and 3 (the last) only; every training number, the
    weights and the last epoch's scores are those of a run that scored every epoch."""
    cfg, folder = pretrained
    sparse = train(cfg.replace(eval_every=2), tmp_path / "sparse", progress=False)
    every, few = history(folder), history(tmp_path / "sparse")
    assert [r["val_top1"] != "" for r in few] == [False, True, True]
    for a, b in zip(every, few):
        assert {k: v for k, v in a.items() if not k.startswith("val_")} == \
            {k: v for k, v in b.items() if not k.startswith("val_")}
    assert few[-1] == every[-1] and sparse["val_top1"] == metrics(folder)["val_top1"]
    for k, v in weights(folder).items():
        assert torch.equal(v, weights(tmp_path / "sparse")[k]), k
    with pytest.raises(ValueError, match="eval_every=0 is not accepted: expected an integer >= 1"):
        cfg.replace(eval_every=0)


@pytest.mark.slow
def test_a_compiled_network_trains_to_the_same_digits_on_every_rerun(fractal_data, tmp_path):
    """compile=true (torch.compile, inductor on the CPU): other digits than eager, but the same on a rerun."""
    cfg = pretrain_cfg(fractal_data, arch="tsm_r18_w16", real_video=False, randaugment=False, compile=True,
                       epochs=2)
    a = train(cfg, tmp_path / "a", progress=False)
    b = train(cfg, tmp_path / "b", progress=False)
    assert a["train_loss"] == b["train_loss"] and a["val_top1"] == b["val_top1"]
    for k, v in weights(tmp_path / "a").items():
        assert torch.equal(v, weights(tmp_path / "b")[k]), k
