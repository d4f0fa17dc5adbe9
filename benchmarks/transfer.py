"""Transfer benchmark: does a short fractal pre-training help fine-tuning, on a 2-core CPU?

    python benchmarks/transfer.py --quick          # 2-3 minute smoke run (tiny settings)
    python benchmarks/transfer.py                  # the benchmark, ~30-45 minutes on 2 cores
    python benchmarks/transfer.py --json           # the same, the results as one JSON line

What it does, all inside a work folder (--out, default benchmarks/work/, gitignored):

1. generates a supervised fractal dataset, the built-in action benchmark
   (family "actions": 10 Weizmann-like classes, 18 clips per class, split by
   actor: 120 train / 60 test clips of unseen actors) and prepares
   /work/shared/data/basketball5 (283 real clips of 5-10 frames, 5 classes,
   split by file-name hash: 233 train / 50 test; skipped with a note when
   absent); generation time is counted apart from training time;
2. pre-trains once on the fractal clips (supervised) for about
   --pretrain-minutes of wall time;
3. fine-tunes, for each downstream set and seed, from scratch and from the
   fractal checkpoint with the same settings (runs of one seed back to back, so
   both inits see the same machine load);
4. writes benchmarks/results/transfer.json (settings, per-seed final val top-1,
   top-5, losses and per-epoch curves, mean +- std over seeds per (dataset,
   init), timing) and prints a table. --quick writes into its work folder only.

The recipe, fixed before any result was seen (one recipe for every init; SPEC
section 4 scaled down to what 2 CPU cores do in ~40 minutes):

- Network TSM-ResNet18 (``tsm_r18``), 8 frames, 64 x 64 crops (clips are
  loaded at 73 px, the SPEC's 112-from-128 ratio), batch 16, 2 loader workers;
  AdamW, lr 8e-4 x 16/32 = 4e-4, weight decay 0.01, cosine schedule, gradient
  clip 5, dropout 0.8: ``fractalvid.train.recipe`` with only these overrides.
- Fractal data: 50 classes x 32 clips (1600 clips), the paper's generator at
  128 px with 2000 chaos-game steps per frame (the paper's points per pixel:
  7500 steps at 256 px), everything else at its defaults.
- Pre-training: ``recipe("supervised")``: frame stride 2, real-video emulation
  and standard augmentation (crop scale 0.9-1), 25 epochs with 3 warm-up and
  the augmentation curriculum over the first 5; an "epoch" is
  ``epoch_clips`` clips drawn afresh from the 1600, where epoch_clips is set
  from the clips/s of a short calibration run so the 25 epochs take about
  --pretrain-minutes (default 10). No validation during pre-training.
- Fine-tuning: ``recipe("finetune")``: frame stride 6 (shrunk to what fits a
  short clip), crops of scale 0.2-1, RandAugment, no real-video emulation,
  the recipe's warm-up fraction (1/10 of the epochs, rounded). Budget: 84
  steps for each set: 12 epochs on the action benchmark (7 steps of 16),
  6 on basketball5 (14 steps). Evaluation after every epoch on the test split
  with one centred clip per video (the clips are 20 and 5-10 frames long: one
  8-frame clip covers most of them). The reported figure is the last epoch's
  top-1, not the best one (picking the best epoch on the test split would
  flatter both inits).
- Seeds 0..--seeds-1 are fine-tuning seeds (initialisation of the new head and,
  from scratch, of the trunk; data order; augmentation); there is a single
  pre-training run (seed 0), so its own variance is not measured.

``--recipe cpu`` (results in benchmarks/results/transfer_cpu.json, work folder
benchmarks/work/transfer-cpu) is params.yaml's CPU recipe: the paper recipe
above learned nothing in this budget (pre-training and fine-tuning on the
action benchmark stayed at chance), so a second recipe was chosen on one
criterion, that training from scratch on the action benchmark learns within
minutes: lr 1e-3, dropout 0.5, no RandAugment, fine-tuning crops of 0.5-1
at frame stride 2. Everything else, and the budget, is the same.

Runs resume: a killed benchmark restarted with the same --out reuses finished
datasets, the pre-training and finished runs (``train`` resumes from last.pt);
such runs are marked "resumed" and their times are not comparable.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from fractalvid.data import prepare_dataset
from fractalvid.generate import DatasetSpec, generate
from fractalvid.ifs import FractalConfig
from fractalvid.train import Run, recipe, train

HERE = Path(__file__).resolve().parent
BASKETBALL = HERE.parents[1] / "shared" / "data" / "basketball5"
RESULTS = HERE / "results" / "transfer.json"
INITS = ("scratch", "fractal")
CURVE_FIELDS = ("lr", "train_loss", "train_top1", "val_loss", "val_top1", "val_top5", "epoch_s")


@dataclass(frozen=True)
class Settings:
    """Everything that defines a benchmark run (the full run's values; QUICK shrinks them)."""

    arch: str = "tsm_r18"
    frames: int = 8
    size: int = 64
    batch_size: int = 16
    workers: int = 2
    fractal_classes: int = 50
    fractal_per_class: int = 32
    fractal_res: int = 128
    fractal_steps: int = 2000
    pretrain_minutes: float = 10.0
    pretrain_epochs: int = 25
    calibration_steps: int = 10        # training steps timed to size the pre-training epochs
    actions_per_class: int = 18        # 2 clips per actor and class (9 actors)
    actions_epochs: int = 12           # 7 steps each: 84 steps
    basketball_epochs: int = 6         # 14 steps each: 84 steps
    finetune_epoch_clips: int | None = None  # None: every training clip each epoch (QUICK caps it)
    val_clips: int = 1
    seeds: int = 3
    recipe: str = "paper"              # or "cpu": params.yaml's CPU recipe (CPU_OVERRIDES)


# params.yaml's CPU recipe, chosen after the paper recipe learned nothing in this budget, on whether training
# from scratch learns at all (never on the fractal-minus-scratch margin): a brisker lr, lighter dropout, no
# RandAugment on 64 px frames; fine-tuning crops of 0.5-1 of the frame at the pre-training's stride
CPU_OVERRIDES = dict(lr=1e-3, dropout=0.5, randaugment=False)
CPU_FINETUNE = dict(crop_scale=(0.5, 1.0), stride=2)
RECIPES = ("paper", "cpu")

QUICK = Settings(fractal_classes=8, fractal_per_class=4, fractal_res=64, fractal_steps=500, pretrain_minutes=0.25,
                 pretrain_epochs=2, calibration_steps=2, actions_epochs=2, basketball_epochs=1,
                 finetune_epoch_clips=32, seeds=2)


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def write_json_atomic(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


# -------------------------------------------------------------------- data

def made_in(folder: Path) -> float:
    """Seconds spent making a dataset folder, over every (resumed) run that wrote it (its runs.jsonl)."""
    runs = folder / "runs.jsonl"
    lines = runs.read_text().splitlines() if runs.exists() else []
    return round(sum(json.loads(line)["wall_s"] for line in lines if line.strip()), 1)


def make_data(s: Settings, work: Path, basketball: Path) -> tuple[dict, dict]:
    """Generate/prepare the three datasets; returns ({name: folder}, {name: description and timing}).

    ``made_s`` is the time it took to make a folder (also when an earlier benchmark run made it and this
    one reused it: ``wall_s`` is then about 0)."""
    data, info = {}, {}
    specs = {
        "fractal": DatasetSpec(classes=s.fractal_classes, per_class=s.fractal_per_class, val_per_class=0, seed=0,
                               chunk_size=200, fractal=FractalConfig(res=s.fractal_res, steps=s.fractal_steps)),
        "actions": DatasetSpec.from_dict(dict(family="actions", classes=10, per_class=s.actions_per_class,
                                              val_per_class=0, seed=0, options={})),
    }
    for name, spec in specs.items():
        folder = work / "data" / name
        start = time.perf_counter()
        card = generate(folder, spec, workers=os.cpu_count(), progress=False)
        info[name] = {"folder": str(folder), "spec": spec.to_dict(), "splits": card["splits"],
                      "made_s": made_in(folder), "wall_s": round(time.perf_counter() - start, 1)}
        data[name] = folder
        log(f"[data] {name}: {card['splits']}, made in {info[name]['made_s']} s")
    if basketball.is_dir():
        folder = work / "data" / "basketball5"
        start = time.perf_counter()
        card = prepare_dataset("generic", basketball, folder, workers=os.cpu_count(), progress=False)
        info["basketball5"] = {"folder": str(folder), "source": str(basketball), "splits": card["splits"],
                               "class_names": card["class_names"], "skipped_videos": card["skipped"],
                               "made_s": made_in(folder), "wall_s": round(time.perf_counter() - start, 1)}
        data["basketball5"] = folder
        log(f"[data] basketball5: {card['splits']}, made in {info['basketball5']['made_s']} s")
    else:
        info["basketball5"] = {"skipped": f"{basketball} does not exist: the real-video set was not run"}
        log(f"[data] basketball5 skipped: {basketball} does not exist")
    return data, info


# ------------------------------------------------------------- pre-training

def common(s: Settings) -> dict:
    extra = CPU_OVERRIDES if s.recipe == "cpu" else {}
    return dict(arch=s.arch, frames=s.frames, size=s.size, batch_size=s.batch_size, workers=s.workers, **extra)


def pretrain(s: Settings, work: Path, fractal: Path) -> tuple[Path, dict]:
    """Calibrate, then pre-train on the fractal clips; returns (checkpoint, description and timing)."""
    folder = work / "pretrain"
    plan_path = folder / "plan.json"
    base = recipe("supervised", data=str(fractal), val_split=None, epochs=s.pretrain_epochs, **common(s))
    plan = json.loads(plan_path.read_text()) if plan_path.exists() else None
    if plan is None or plan.get("settings") != dataclasses.asdict(s):
        # time a few steps of the very same pipeline; the first epoch pays for start-up and is not counted
        calib = base.replace(epochs=1, warmup_epochs=0, epoch_clips=s.calibration_steps * s.batch_size)
        run = Run(calib, folder / "calibration", progress=False)
        run.train_one_epoch()
        rate = run.train_one_epoch()["clips_per_s"]
        per_epoch = rate * s.pretrain_minutes * 60 / s.pretrain_epochs
        epoch_clips = max(s.batch_size, int(per_epoch) // s.batch_size * s.batch_size)
        plan = {"settings": dataclasses.asdict(s), "calibration_clips_per_s": round(rate, 2),
                "epoch_clips": epoch_clips}
        write_json_atomic(plan_path, plan)
    cfg = base.replace(epoch_clips=plan["epoch_clips"])
    resumed = (folder / "run" / "last.pt").exists()
    log(f"[pretrain] {cfg.epochs} epochs of {cfg.epoch_clips} clips (calibrated at "
        f"{plan['calibration_clips_per_s']} clips/s){' (resuming)' if resumed else ''}")
    start = time.perf_counter()
    metrics = train(cfg, folder / "run", progress=False)
    wall = time.perf_counter() - start
    log(f"[pretrain] done in {wall / 60:.1f} min: train loss {metrics['train_loss']:.3f}, "
        f"train top-1 {metrics['train_top1']:.3f}")
    info = {"config": cfg.to_dict(), "calibration_clips_per_s": plan["calibration_clips_per_s"],
            "epoch_clips": plan["epoch_clips"], "wall_s": round(wall, 1), "resumed": resumed,
            "final_train_loss": metrics["train_loss"], "final_train_top1": metrics["train_top1"],
            "curve": curves(folder / "run")}
    return folder / "run" / "model.pt", info


def curves(run: Path) -> dict:
    """The per-epoch columns of a run's history.csv (empty cells dropped)."""
    with open(run / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [round(float(r[k]), 5) for r in rows if r.get(k)] for k in CURVE_FIELDS if any(r.get(k) for r in rows)}


# -------------------------------------------------------------- fine-tuning

def finetune_config(s: Settings, dataset: str, folder: Path, init: str, seed: int):
    epochs = s.actions_epochs if dataset == "actions" else s.basketball_epochs
    extra = CPU_FINETUNE if s.recipe == "cpu" else {}
    return recipe("finetune", data=str(folder), init=init, seed=seed, epochs=epochs, val_clips=s.val_clips,
                  epoch_clips=s.finetune_epoch_clips, **common(s), **extra)


def finetune(s: Settings, work: Path, dataset: str, folder: Path, init_name: str, init: str, seed: int) -> dict:
    cfg = finetune_config(s, dataset, folder, init, seed)
    out = work / "runs" / dataset / init_name / f"seed{seed}"
    resumed = (out / "last.pt").exists()
    start = time.perf_counter()
    m = train(cfg, out, progress=False)
    wall = time.perf_counter() - start
    log(f"[finetune] {dataset:12s} {init_name:8s} seed {seed}: val top-1 {m['val_top1']:.3f} "
        f"top-5 {m['val_top5']:.3f} (train loss {m['train_loss']:.3f}) in {wall:.0f} s")
    return {"seed": seed, "val_top1": m["val_top1"], "val_top5": m["val_top5"], "val_loss": m["val_loss"],
            "train_loss": m["train_loss"], "train_top1": m["train_top1"], "best_val_top1": m["best_val_top1"],
            "epochs": m["epochs"], "wall_s": round(wall, 1), "resumed": resumed, "curve": curves(out)}


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise(runs: dict) -> dict:
    summary = {}
    for dataset, by_init in runs.items():
        row = {}
        for init, seeds in by_init.items():
            if not seeds:
                continue
            row[init] = {"n": len(seeds)}
            for key in ("val_top1", "val_top5", "val_loss", "train_loss"):
                mean, std = mean_std([r[key] for r in seeds])
                row[init][f"{key}_mean"], row[init][f"{key}_std"] = round(mean, 4), round(std, 4)
        if all(i in row for i in INITS):
            diffs = [f["val_top1"] - sc["val_top1"] for sc, f in zip(by_init["scratch"], by_init["fractal"])]
            mean, std = mean_std(diffs)
            row["fractal_minus_scratch_top1"] = {"mean": round(mean, 4), "std": round(std, 4),
                                                 "per_seed": [round(d, 4) for d in diffs],
                                                 "seeds_fractal_better": sum(d > 0 for d in diffs)}
        summary[dataset] = row
    return summary


def table(result: dict) -> str:
    lines = [f"{'dataset':12s} {'init':8s} {'top-1 % (mean +- std)':>22s} {'top-5 %':>16s}   per-seed top-1 %"]
    for dataset, row in result["summary"].items():
        for init in INITS:
            if init not in row:
                continue
            r = row[init]
            seeds = " ".join(f"{x['val_top1'] * 100:.1f}" for x in result["runs"][dataset][init])
            lines.append(f"{dataset:12s} {init:8s} {r['val_top1_mean'] * 100:13.1f} +- {r['val_top1_std'] * 100:4.1f} "
                         f"{r['val_top5_mean'] * 100:7.1f} +- {r['val_top5_std'] * 100:4.1f}   {seeds}")
        if "fractal_minus_scratch_top1" in row:
            d = row["fractal_minus_scratch_top1"]
            lines.append(f"{'':12s} {'margin':8s} {d['mean'] * 100:+13.1f} +- {d['std'] * 100:4.1f}"
                         f"{'':19s}fractal better in {d['seeds_fractal_better']}/{len(d['per_seed'])} seeds")
    t = result["timing"]
    lines.append(f"time: data {t['data_made_s'] / 60:.1f} min, pre-training {t['pretrain_s'] / 60:.1f} min, "
                 f"fine-tuning {t['finetune_s'] / 60:.1f} min, total {t['total_s'] / 60:.1f} min")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a 2-3 minute smoke run with tiny settings")
    p.add_argument("--seeds", type=int, default=None, help="fine-tuning seeds 0..N-1 (default 3; --quick 2)")
    p.add_argument("--pretrain-minutes", type=float, default=None, help="pre-training wall time (default 10)")
    p.add_argument("--out", type=Path, default=None,
                   help="work folder (default benchmarks/work/transfer, or benchmarks/work/transfer-quick)")
    p.add_argument("--basketball", type=Path, default=BASKETBALL, help="the basketball5 folder")
    p.add_argument("--json", action="store_true", help="print the results as one JSON line instead of a table")
    p.add_argument("--recipe", default="paper", help="paper (the paper's recipe, default) or cpu (params.yaml's)")
    args = p.parse_args()
    if args.recipe not in RECIPES:
        raise ValueError(f"--recipe={args.recipe!r} is not accepted: expected one of {RECIPES}")
    s = dataclasses.replace(QUICK if args.quick else Settings(), recipe=args.recipe)
    if args.seeds is not None:
        if args.seeds < 1:
            raise ValueError(f"--seeds={args.seeds} is not accepted: expected an integer >= 1")
        s = dataclasses.replace(s, seeds=args.seeds)
    if args.pretrain_minutes is not None:
        if not args.pretrain_minutes > 0:
            raise ValueError(f"--pretrain-minutes={args.pretrain_minutes} is not accepted: expected a number > 0")
        s = dataclasses.replace(s, pretrain_minutes=args.pretrain_minutes)
    suffix = "" if args.recipe == "paper" else f"-{args.recipe}"
    work = args.out or HERE / "work" / (("transfer-quick" if args.quick else "transfer") + suffix)
    results_path = work / "transfer.json" if args.quick else RESULTS.with_name(f"transfer{suffix.replace('-', '_')}.json")
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries the table or JSON only (train() prints notes)
        result = run(s, work, results_path, args)
    log(f"[results] {results_path}")
    print(json.dumps(result) if args.json else table(result))


def run(s: Settings, work: Path, results_path: Path, args) -> dict:
    """The whole benchmark; writes results_path after every seed and at the end; returns the results."""
    total_start = time.perf_counter()

    result = {"benchmark": "transfer", "quick": args.quick, "complete": False, "settings": dataclasses.asdict(s),
              "machine": {"cpus": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                          "load_average_start": [round(x, 2) for x in os.getloadavg()]}}
    start = time.perf_counter()
    data, result["datasets"] = make_data(s, work, args.basketball)
    data_s = time.perf_counter() - start

    start = time.perf_counter()
    checkpoint, result["pretrain"] = pretrain(s, work, data.pop("fractal"))
    pretrain_s = time.perf_counter() - start
    result["finetune_configs"] = {d: finetune_config(s, d, f, "scratch", 0).to_dict() for d, f in data.items()}

    runs = {d: {i: [] for i in INITS} for d in data}
    start = time.perf_counter()
    for dataset, folder in data.items():
        for seed in range(s.seeds):
            for init_name, init in (("scratch", "scratch"), ("fractal", str(checkpoint))):
                runs[dataset][init_name].append(finetune(s, work, dataset, folder, init_name, init, seed))
            result.update(runs=runs, summary=summarise(runs))
            write_json_atomic(results_path, result)  # partial results survive a killed run
    finetune_s = time.perf_counter() - start

    result["timing"] = {"data_s": round(data_s, 1), "data_made_s": round(sum(d.get("made_s", 0) for d in
                                                                               result["datasets"].values()), 1),
                        "pretrain_s": round(pretrain_s, 1),
                        "finetune_s": round(finetune_s, 1), "total_s": round(time.perf_counter() - total_start, 1)}
    result["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result.update(runs=runs, summary=summarise(runs), complete=True)
    write_json_atomic(results_path, result)
    return result


if __name__ == "__main__":
    main()
