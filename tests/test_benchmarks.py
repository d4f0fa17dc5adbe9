"""The benchmarks run: the generator over every registered family (a new family must not break it), and the
transfer benchmark end to end on the protocol."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fractalvid.clips.generate import FAMILIES

ROOT = Path(__file__).resolve().parents[1]


def test_generate_benchmark_reports_every_family():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--json", "--clips", "4",
                          "--render-clips", "2", "--workers", "1"], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=600)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["s_per_clip"] > 0
    assert result["ratio_to_limit"] is None or result["ratio_to_limit"] > 0  # None: no ../shared/bench here
    for family in FAMILIES:
        if family != "fractal":
            assert result[f"s_per_clip_{family}"] > 0


def quick_transfer(tmp_path: Path, name: str, *options: str) -> tuple[dict, str]:
    """``transfer.py --quick`` with seeds 0 and 1 in work folder tmp_path/NAME, its results in tmp_path/NAME.json:
    (the results it printed, its stderr)."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "transfer.py"), "--quick", "--json", *options,
                          "--out", str(tmp_path / name), "--results", str(tmp_path / f"{name}.json"), "--seeds", "0",
                          "1"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=1200)
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


@pytest.mark.slow
def test_transfer_benchmark_runs_the_protocol_end_to_end(tmp_path):
    """--quick: toy sizes, but every stage of the real benchmark, and the results file's layout."""
    result, _ = quick_transfer(tmp_path, "work")
    results = tmp_path / "work.json"
    assert result == json.loads(results.read_text()) and result["complete"]
    assert result["pretrain_clip_passes"] > 0 and result["pretrain_minutes"] >= 0 and result["scored_on"] == "test"
    sets = ["actions"] + (["basketball5"] if (ROOT.parent / "shared" / "data" / "basketball5").is_dir() else [])
    assert sorted(result["summary"]) == sorted(sets)
    actions = result["summary"]["actions"]
    assert actions["test_clips"] == 90 and actions["chance"] == 0.1          # 10 classes x 9 actors, each once
    m = actions["margin_top1"]
    assert len(m["per_seed"]) == 2 and m["ci95"][0] <= m["mean"] <= m["ci95"][1]
    assert m["per_seed"] == pytest.approx([f - s for f, s in zip(actions["fractal_top1"]["per_seed"],
                                                                 actions["scratch_top1"]["per_seed"])])
    assert str(ROOT) not in results.read_text()                             # no absolute machine paths

    # another pre-training (the control), fine-tuned against the first benchmark's scratch runs: they are
    # reused, not rerun, since its downstream clips are the same bytes
    control, stderr = quick_transfer(tmp_path, "control", "--control", "shuffled", "--sets", "actions",
                                     "--scratch-from", str(tmp_path / "work"))
    assert control["summary"]["actions"]["scratch_top1"] == actions["scratch_top1"]
    assert sorted(p.name for p in (tmp_path / "control" / "runs").iterdir()) == ["actions-fractal-0", "actions-fractal-1"]
    assert "resumed from" in stderr and str(ROOT) not in (tmp_path / "control.json").read_text()

    # pre-trained on clips rendered on the fly (64 per epoch), against the first benchmark's scratch runs
    stream, _ = quick_transfer(tmp_path, "stream", "--stream", "64", "--sets", "actions", "--scratch-from",
                               str(tmp_path / "work"))
    assert stream["pretrain"]["config"]["data"] is None and stream["pretrain"]["config"]["epoch_clips"] == 64
    assert stream["pretrain"]["config"]["stream"]["classes"] == 4
    assert stream["datasets"]["pretrain"]["epoch_clips"] == 64
    assert stream["pretrain_clip_passes"] == 2 * 64 and not (tmp_path / "stream" / "data" / "pretrain").exists()
    assert stream["summary"]["actions"]["scratch_top1"] == actions["scratch_top1"]

    # each run trained until it converges on held-out training clips, the first benchmark's network reused
    early, _ = quick_transfer(tmp_path, "early", "--early-stop", "1", "--sets", "actions", "--pretrain-from",
                              str(tmp_path / "work"))
    assert early["scored_on"] == "test" and early["summary"]["actions"]["test_clips"] == 90
    assert early["pretrain_minutes"] == result["pretrain_minutes"]      # the same network, not pre-trained again
    assert early["finetune_config"]["select_split"] == "holdout" and early["finetune_config"]["patience"] == 1
    for row in early["runs"]:   # 2 epochs at most; a run stops one epoch after its best
        assert all(1 <= b <= e <= min(2, b + 1) for b, e in zip(row["fold_best_epoch"], row["fold_epochs"]))
        assert len(row["fold_select_top1"]) == 3

    # a recipe per initialisation: the scratch runs train 1 epoch, the pre-trained start the recipe's 2
    own, _ = quick_transfer(tmp_path, "own", "--scratch-set", "finetune.recipe.epochs=1", "--sets", "actions",
                            "--pretrain-from", str(tmp_path / "work"))
    assert own["options"]["scratch_changes"] == ["finetune.recipe.epochs=1"]
    for init, epochs in (("scratch", 1), ("fractal", 2)):
        history = (tmp_path / "own" / "runs" / f"actions-{init}-0" / "fold0" / "history.csv").read_text()
        assert len(history.strip().splitlines()) == 1 + epochs, init   # a header, then one line per epoch


def test_transfer_benchmark_refuses_a_pretrained_folder_without_model_pt_before_any_work(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "transfer.py"), "--pretrained", str(tmp_path),
                          "--out", str(tmp_path / "work")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and f"--pretrained {tmp_path} is not accepted" in out.stderr
    assert not (tmp_path / "work").exists()


def test_transfer_benchmark_refuses_scratch_from_a_folder_without_runs_before_any_work(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "transfer.py"), "--scratch-from", str(tmp_path),
                          "--out", str(tmp_path / "work")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "--scratch-from" in out.stderr and "holding runs/" in out.stderr
    assert not (tmp_path / "work").exists()


def test_transfer_benchmark_refuses_a_bad_early_stop_before_any_work(tmp_path):
    for bad, expected in ((["--early-stop", "0"], "expected an integer >= 1"),
                          (["--early-stop", "5", "--holdout", "0.25"], "with --holdout")):
        out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "transfer.py"), *bad, "--out",
                              str(tmp_path / "work")], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode != 0 and f"--early-stop={bad[1]} is not accepted" in out.stderr
        assert expected in out.stderr and not (tmp_path / "work").exists()


def test_transfer_benchmark_refuses_a_scratch_change_outside_the_fine_tuning_recipe_before_any_work(tmp_path):
    for bad in ("pretrain.lr=1.0e-3", "finetune.recipe.epochs"):
        out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "transfer.py"), "--scratch-set", bad, "--out",
                              str(tmp_path / "work")], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode != 0 and f"--scratch-set {bad!r} is not accepted" in out.stderr
        assert not (tmp_path / "work").exists()


def test_transfer_benchmark_refuses_a_bad_stream_before_any_work(tmp_path):
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "model.pt").touch()   # a pre-trained network, as far as the arguments are checked
    for bad, expected in ((["--stream", "0"], "expected an integer >= 1"),
                          (["--stream", "64", "--control", "shuffled"], "with --pretrained or --control"),
                          (["--stream", "64", "--pretrained", str(tmp_path / "net")], "with --pretrained")):
        out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "transfer.py"), *bad, "--out",
                              str(tmp_path / "work")], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode != 0 and f"--stream={bad[1]} is not accepted" in out.stderr
        assert expected in out.stderr and not (tmp_path / "work").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="--recipe measures the CPU step")
def test_train_benchmark_recipe_compares_the_full_step_with_the_bare_network():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train.py"), "--recipe", "params.yaml",
                          "--repeats", "1", "--json"], cwd=ROOT, capture_output=True, text=True, check=True,
                         timeout=600)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["arch"] == "tsm_r18_w16" and r["in_memory"] is True and r["steps_per_round"] >= 2
    assert r["full_step_vs_bare"] == pytest.approx(r["bare_step_clips_per_s"] / r["recipe_step_clips_per_s"], rel=0.01)
    assert r["within_1.25x"] == (r["bare_step_clips_per_s"] / r["recipe_step_clips_per_s"] <= 1.25)
    assert r["shift_cost"] > 0 and r["channels_last_vs_default"] > 0


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU: the check would run")
def test_gpu_check_refuses_without_a_gpu():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py")], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1 and out.stdout == ""
    assert "needs an NVIDIA GPU" in out.stderr and "torch.cuda.is_available() is False" in out.stderr


def test_loader_benchmark_reports_per_core_rates_and_the_cores_a_gpu_needs(tmp_path):
    """Two sets of 4 clips (256 and 128 px), batches of 4, one round: every figure there and consistent."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "loader.py"), "--json", "--classes", "2",
                          "--per-class", "2", "--batch", "4", "--batches", "1", "--repeats", "1", "--workers", "1",
                          "--gpu-clips-per-s", "500", "--out", str(tmp_path / "loader.json")], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=600)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r == json.loads((tmp_path / "loader.json").read_text())
    assert str(ROOT) not in (tmp_path / "loader.json").read_text()          # no absolute machine paths
    assert r["benchmark"] == "loader" and r["threads"] == 1 and r["load_size"] == 128 and r["size"] == 112
    assert sorted(r["sets"]) == ["res128", "res256"] and all(s["clips"] == 4 for s in r["sets"].values())
    assert r["machine"]["commit"] is None or len(r["machine"]["commit"]) == 40
    assert r["gpu_clips_per_s"] == 500 and r["gpu_source"] == "--gpu-clips-per-s"
    for key in ("decode_clips_per_s", "decode_emulate_clips_per_s", "emulate_clips_per_s"):
        assert sorted(r[key]) == ["res128", "res256"] and all(v > 0 for v in r[key].values())
    for measurement in ("decode", "decode_emulate"):
        for res, rate in r[f"{measurement}_clips_per_s"].items():
            assert r["cores_per_gpu"][measurement][res] == pytest.approx(500 / rate, rel=0.01)
    assert r["decode_emulate_clips_per_s"]["res256"] < r["emulate_clips_per_s"]["res256"]   # the sum is slower


def benchmark_module(name: str):
    """benchmarks/NAME.py imported as a module (the benchmarks are scripts, not a package)."""
    import importlib.util

    if str(ROOT / "benchmarks") not in sys.path:   # they import each other (record) as scripts do
        sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def as_changes(items) -> dict:
    """A row's changes as the record holds them, from ``--set`` strings or (key, value) fields."""
    out = {}
    for item in items:
        if isinstance(item, str):
            out.update(benchmark_module("record").parse_changes([item]))
        else:
            key, value = item
            out[key] = list(value) if isinstance(value, tuple) else value
    return out


def test_study_draws_the_compute_curve_from_the_clips_per_class_rows_only(tmp_path, monkeypatch):
    study = benchmark_module("study")
    monkeypatch.setattr(study, "FIGURES", tmp_path)

    def row(changes, minutes, margin, epochs=20, scored_on="test"):
        e = {"test_clips": 270, "chance": 0.1, "scratch_top1": {"mean": 0.2}, "fractal_top1": {"mean": 0.2 + margin},
             "margin_top1": {"mean": margin, "ci95": [margin - 0.02, margin + 0.02], "per_seed": [margin] * 5}}
        return {"scored_on": scored_on, "family": "fractal", "control": None, "label_fraction": 1.0,
                "pretrain_epochs": epochs, "changes": as_changes(changes), "options": {}, "pretrain_minutes": minutes,
                "pretrain_clip_passes": 1000, "pretext_top1": 0.8, "summary": {"actions": e}}

    fast = ["pretrain.batch_size=64", "pretrain.channels_last=true"]
    rows = [row(["generate.per_class=66"], 5.0, 0.10), row([], 1.5, 0.19),
            row(["pretrain.lr=0.1"], 1.5, 0.5), row([], 3.0, 0.4, epochs=40), row(["generate.per_class=132"], 9.0, 0.3,
                                                                                 scored_on="holdout"),
            row(["generate.per_class=264", *fast], 13.0, 0.06), row(["generate.per_class=264", fast[0]], 15.0, 0.7),
            row(["generate.per_class=264", fast[1], "pretrain.seed=1"], 15.5, 0.02),
            row(["generate.per_class=264", *fast, "pretrain.seed=1"], 13.0, 0.7),
            row(["generate.classes=500", "generate.per_class=50", fast[1], "pretrain.seed=1"], 15.5, 0.08),
            row(["generate.classes=500", "generate.per_class=50", fast[1]], 15.0, 0.04)]
    ablations = [{"changed": {"pretrain.epochs": 10, "pretrain.warmup_epochs": 1}, "pretrain_minutes": 0.7,
                  "datasets": {"actions": rows[0]["summary"]["actions"]}},
                 {"changed": {"pretrain.task": "moco"}, "pretrain_minutes": 2.0, "datasets": {}}]
    table = study.compute_curve(rows, ablations, tmp_path / "curve.png")
    # params.yaml's 22, then 66, another pre-training seed, the faster step's row, then 500 classes by seed; a
    # half-changed step, or another seed of the faster step, is no point of the curve
    assert [line.split(" | ")[:2] for line in table[2:]] == [["| 100 x 22", "batch 32"], ["| 100 x 66", "batch 32"],
                                                              ["| 100 x 264", "batch 32, seed 1, channels-last"],
                                                              ["| 100 x 264", "batch 64, channels-last"],
                                                              ["| 500 x 50", "batch 32, channels-last"],
                                                              ["| 500 x 50", "batch 32, seed 1, channels-last"]]
    assert "+19.0 [+17.0, +21.0]" in table[2] and "+10.0" in table[3] and "+2.0" in table[4] and "+6.0" in table[5]
    assert "+4.0" in table[6] and "+8.0" in table[7]
    assert (tmp_path / "curve.png").stat().st_size > 0
    # one budget and rows that are not points of the curve: fewer than two budgets, no curve
    assert study.compute_curve([rows[i] for i in (1, 2, 3, 4, 6, 8)], ablations, tmp_path / "none.png") == []
    # a network pre-trained by another benchmark run has settings its options do not hold: no point either,
    # while the pipeline's own network (params.yaml's settings) is one
    elsewhere = {**rows[0], "pretrained": "benchmarks/work/transfer_image-true/pretrain"}
    assert study.compute_curve([rows[1], elsewhere], ablations, tmp_path / "none.png") == []
    pipeline = {**rows[0], "pretrained": "models/pretrain"}
    assert len(study.compute_curve([rows[1], pipeline], ablations, tmp_path / "two.png")) == 4
    # ... unless the run that made it is here: it takes that run's pre-training settings, so still fractals made by
    # a holdout run are a point of their own series, and fine-tuning changes still make a row no point
    made = {**rows[1], "file": "transfer_holdout0.25_image-true.json", "scored_on": "holdout", "changes": as_changes([study.STILL])}
    reused = {**rows[0], "changes": {}, "pretrained": "benchmarks/work/transfer_holdout0.25_image-true/pretrain"}
    reused["pretrain_changes"] = study.pretraining_changes(reused, {"transfer_holdout0.25_image-true": made})
    assert reused["pretrain_changes"] == as_changes([study.STILL]) and study.curve_point(reused) == (100, 22, "still")
    assert study.curve_point({**reused, "changes": as_changes(["finetune.recipe.frames=1"])}) is None
    assert study.pretraining_changes({**reused, "pretrained": "benchmarks/work/gone/pretrain"}, {}) is None
    still = row([study.STILL, "generate.per_class=132", "pretrain.channels_last=true"], 9.0, 0.05)
    table = study.compute_curve([rows[1], reused, still], ablations, tmp_path / "still.png")
    assert [line.split(" | ")[:2] for line in table[2:]] == [
        ["| 100 x 22", "batch 32"], ["| 100 x 22", "batch 32, still fractals (image mode)"],
        ["| 100 x 132", "batch 32, still fractals (image mode), channels-last"]]
    tinted = row(["generate.classes=500", "generate.per_class=50", *sorted(study.TINT), "pretrain.channels_last=true"],
                 18.0, 0.24)
    assert study.curve_point(tinted) == (500, 50, "tinted")      # a series of its own, not "more classes"
    assert study.curve_point(row([*study.TINT - {("pretrain.tint_bg", (0.0, 0.3))}], 1.0, 0.0)) is None   # other colours
    table = study.compute_curve([rows[1], tinted], ablations, tmp_path / "tinted.png")
    assert table[-1].split(" | ")[:3] == ["| 500 x 50", "batch 32, tinted bright over dark, channels-last", "18.0"]
    # clips rendered on the fly: the set is the pool drawn from, a series of its own, not "more clips per class"
    stream = {**row(["generate.per_class=400"], 12.0, 0.1), "stream": 2000}
    assert study.curve_point(stream) == (100, 400, "stream") and study.curve_point({**stream, "stream": None}) == (
        100, 400, "batch 32")
    assert study.curve_point({**stream, "changes": as_changes(["generate.per_class=400", study.STILL])}) is None
    table = study.compute_curve([rows[1], stream], ablations, tmp_path / "stream.png")
    assert table[-1].split(" | ")[:3] == ["| 100 x 400", "batch 32, rendered on the fly (2,000 per epoch)", "12.0"]
    # pre-training frames read 1 apart: a series of its own at any set size, and only with nothing else changed
    slow = row(["generate.classes=500", "generate.per_class=50", "pretrain.channels_last=true", study.STRIDE1], 17.0, 0.03)
    assert study.curve_point(slow) == (500, 50, "stride 1") and study.curve_point(row([study.STRIDE1], 1.5, 0.1)) == (
        100, 22, "stride 1")
    assert study.curve_point(row([study.STRIDE1, "pretrain.stride=3"], 1.5, 0.1)) is None
    drawn = row([*slow["changes"].items(), "pretrain.seed=1"], 17.2, 0.03)   # another draw stays in its own series
    table = study.compute_curve([rows[1], slow, drawn], ablations, tmp_path / "stride.png")
    assert [line.split(" | ")[:3] for line in table[-2:]] == [
        ["| 500 x 50", "batch 32, frames 1 apart, channels-last", "17.0"],
        ["| 500 x 50", "batch 32, seed 1, frames 1 apart, channels-last", "17.2"]]


def test_study_draws_the_label_curve_per_series_with_the_kept_epochs(tmp_path, monkeypatch):
    study = benchmark_module("study")
    monkeypatch.setattr(study, "FIGURES", tmp_path)

    def row(fraction, margin, changes=(), early_stop=None, epochs=50, scored_on="test", pretrained="models/pretrain"):
        e = {"test_clips": 283, "chance": 0.2, "scratch_top1": {"mean": 0.4}, "fractal_top1": {"mean": 0.4 + margin},
             "margin_top1": {"mean": margin, "ci95": [margin - 0.02, margin + 0.02], "per_seed": [margin] * 5}}
        runs = [{"dataset": "basketball5", "init": init, "seed": s, "fold_best_epoch": [best, best + 2, best + 4]}
                for init, best in (("scratch", 30), ("fractal", 10)) for s in range(2)] if early_stop else []
        return {"scored_on": scored_on, "family": "fractal", "control": None, "label_fraction": fraction,
                "pretrain_epochs": 20, "changes": as_changes(changes), "options": {}, "pretrained": pretrained,
                "early_stop": early_stop,
                "finetune_epochs": epochs, "runs": runs, "summary": {"basketball5": e}}

    big = ["generate.classes=500", "generate.per_class=50"]
    rows = [row(1.0, 0.01), row(0.25, -0.05), row(0.5, 0.3, scored_on="holdout"),
            row(0.5, 0.3, ["finetune.recipe.lr=0.1"]),                        # another recipe: no series
            row(0.5, 0.04, [*big, "finetune.recipe.epochs=100"], 40, 100, pretrained=None),
            row(0.1, 0.08, [*big, "finetune.recipe.epochs=200"], 40, 200, pretrained=None),
            row(0.1, 0.5, ["generate.classes=7"], 40, pretrained=None)]      # a lone point: no curve
    table = study.label_curve(rows, tmp_path / "labels.png")
    cells = [line.split(" | ") for line in table[2:]]
    assert [(c[0], c[1]) for c in cells] == [("| 50 epochs, the pipeline's network", "25 %"),
                                             ("| 50 epochs, the pipeline's network", "100 %"),
                                             ("| trained to convergence (early stopping), `generate.classes=500`, "
                                              "`generate.per_class=50`", "10 %"),
                                             ("| trained to convergence (early stopping), `generate.classes=500`, "
                                              "`generate.per_class=50`", "50 %")]
    assert cells[2][2] == "up to 200 epochs, stopped 40 after the best on held-out clips"
    assert cells[2][3] == "basketball5: 32 / 12" and cells[0][3] == "-"   # mean kept epoch over seeds and folds
    assert cells[2][5].startswith("+8.0 [+6.0, +10.0] (40 -> 48 %, 5 seeds, 283 clips)")
    assert (tmp_path / "labels.png").stat().st_size > 0
    assert study.curve_point({**rows[5], "label_fraction": 1.0}) is None     # early-stopped: not a compute point
    assert study.label_curve(rows[2:4], tmp_path / "none.png") == []


def test_transfer_quick_perlin_fits_its_frame_and_generate_options_reach_the_family():
    import yaml

    transfer = benchmark_module("transfer")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    quick = transfer.merge(params, {"generate": transfer.merge(transfer.QUICK["generate"],
                                                               {"options": transfer.QUICK["options"]["perlin"]})})
    perlin = transfer.pretrain_spec(quick, "perlin")   # refused at 32 px with Perlin's default max_freq 8
    assert perlin.family == "perlin" and perlin.options.res == 32 and perlin.options.max_freq == 4.0
    with pytest.raises(ValueError, match="max_freq"):
        transfer.pretrain_spec(transfer.merge(params, {"generate": transfer.QUICK["generate"]}), "perlin")
    octaves = transfer.pretrain_spec(transfer.merge(params, {"generate": {"options": {"octaves": 3}}}), "perlin")
    assert (octaves.options.octaves, octaves.options.res) == (3, 64)   # --set generate.options.K=V reaches the family


def test_transfer_names_a_run_by_its_options_and_each_changed_value_once():
    from argparse import Namespace

    transfer = benchmark_module("transfer")
    args = Namespace(quick=False, family="fractal", control=None, pretrain_epochs=None, label_fraction=None,
                     holdout=0.25, early_stop=None, basketball_square=False, pretrained=None, stream=None,
                     scratch_changes=[], changes=["generate.classes=500", "pretrain.arch=tsm_r18_w32",
                              "finetune.recipe.arch=tsm_r18_w32", "pretrain.channels_last=true"])
    assert transfer.name_of(args) == "transfer_holdout0.25_classes-500_arch-tsm-r18-w32_channels-last-true"
    args.changes = ["pretrain.lr=1.0e-3", "finetune.recipe.lr=2.0e-3"]   # different values: both named
    assert transfer.name_of(args) == "transfer_holdout0.25_lr-1.0e-3_lr-2.0e-3"
    args.changes = ["finetune.recipe.reinit=[conv1, bn1]", "finetune.recipe.crop_scale=[0.2, 1.0]"]
    assert transfer.name_of(args) == "transfer_holdout0.25_reinit-conv1-bn1_crop-scale-0.2-1.0"  # no [ , ] in file names
    args.stream, args.changes = 2000, ["generate.per_class=400"]
    assert transfer.name_of(args) == "transfer_stream2000_holdout0.25_per-class-400"
    args.stream, args.changes, args.scratch_changes = None, ["finetune.recipe.epochs=100"], ["finetune.recipe.epochs=50"]
    assert transfer.name_of(args) == "transfer_holdout0.25_epochs-100_scratch-epochs-50"


def test_transfer_reuses_a_pretraining_only_if_these_settings_make_it(tmp_path):
    import torch
    import yaml

    from fractalvid.learning.train import config_from_params

    transfer = benchmark_module("transfer")
    params = transfer.merge(yaml.safe_load((ROOT / "params.yaml").read_text()), {"generate": {"classes": 500}})
    other = tmp_path / "work"
    (other / "data" / "pretrain").mkdir(parents=True)
    (other / "pretrain").mkdir()
    (other / "data" / "pretrain" / "settings.json").write_text(
        json.dumps(transfer.pretrain_spec(params, "fractal").to_dict()))
    made = config_from_params(params["pretrain"], data=str(other / "data" / "pretrain"), val_split=None)
    torch.save({"config": made.to_dict()}, other / "pretrain" / "model.pt")
    (other / "pretrain" / "metrics.json").write_text(json.dumps({"train_top1": 0.85}))
    config, metrics = transfer.same_pretraining(params, "fractal", other)
    assert config == made and metrics == {"train_top1": 0.85}
    # another set (params.yaml's 100 classes) or another recipe is refused, naming what differs
    for changes, differing in (({"generate": {"classes": 100}}, "classes"), ({"pretrain": {"lr": 1.0e-3}}, "lr")):
        with pytest.raises(ValueError, match=re.escape(f"(differing: ['{differing}'])")):
            transfer.same_pretraining(transfer.merge(params, changes), "fractal", other)
    with pytest.raises(ValueError, match="expected a benchmark's work folder"):
        transfer.same_pretraining(params, "fractal", tmp_path)


def test_side_by_side_skips_without_the_public_code_and_its_docs_table_is_the_json():
    """benchmarks/side_by_side.py needs a local copy of the public generator: without one it says what to pass
    and exits 0; docs/generator.md's table is what the committed JSON gives."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "side_by_side.py")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "--public" in out.stdout + out.stderr and "skip" in (out.stdout + out.stderr).lower()
    table = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "side_by_side.py"), "--markdown"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300, check=True).stdout.strip()
    doc = (ROOT / "docs" / "generator.md").read_text()
    assert table.splitlines()[0].startswith("| statistic | public generator | fractalvid |")
    assert table in doc
