"""Transfer benchmark: fractal pre-training against scratch, measured with the package's protocol, on 2 cores.

    python benchmarks/transfer.py                        # params.yaml's recipe on both sets (about 30 min)
    python benchmarks/transfer.py --quick                # a smoke run of a few minutes (tiny settings)
    python benchmarks/transfer.py --holdout 0.25         # choose a recipe: score the held-out training clips
    python benchmarks/transfer.py --label-fraction 0.25  # a point of the margin-versus-labelled-data curve
    python benchmarks/transfer.py --label-fraction 0.1 --early-stop 50 --set finetune.recipe.epochs=200
                                                         # ... each run trained until it converges on held-out clips
    python benchmarks/transfer.py --pretrain-epochs 10   # a point of the margin-versus-compute curve
    python benchmarks/transfer.py --family perlin        # pre-train on another synthetic family instead
    python benchmarks/transfer.py --control shuffled     # the control: same clips and schedule, labels shuffled
    python benchmarks/transfer.py --set pretrain.real_video=true   # any params.yaml value (repeatable)
    python benchmarks/transfer.py --pretrained models/pretrain      # fine-tune the pipeline's own network
    python benchmarks/transfer.py --family perlin --scratch-from benchmarks/work/transfer   # reuse its scratch runs
    python benchmarks/transfer.py --pretrain-from benchmarks/work/transfer_holdout0.25   # its pre-training, on test
    python benchmarks/transfer.py --stream 2000 --set generate.per_class=400   # on-the-fly clips, mostly new ones

What it does (work folder benchmarks/work/NAME, results benchmarks/results/NAME.json, NAME from the options):

1. makes the pre-training set (params.yaml ``generate``, or the same classes x clips of another family), the
   built-in action benchmark (``downstream.actions``) and, when ``../shared/data/basketball5`` exists, the
   283 real basketball clips (prepared at short side ``--basketball-short-side``, or with ``--basketball-square``
   whole at that size: its frames are portrait, and a centre square cuts off heads, arms and feet); skipped
   with a note if not;
2. pre-trains once (params.yaml ``pretrain``; ``--pretrain-epochs`` changes the budget); with ``--stream N``
   on clips rendered on the fly instead (:class:`fractalvid.learning.stream.FractalStream`, in loader workers, no
   disk, no compression), N per epoch drawn from the clips ``generate`` describes: with the default set the
   same 2000 clips as the stored set, with ``--set generate.per_class=400`` mostly new clips every epoch at
   the same clip-passes (the fixed set against the stream; its minutes include the rendering);
3. for every seed of ``finetune.seeds`` (or ``--seeds``), fine-tunes from scratch and from the pre-trained
   network with ``finetune.recipe`` on every fold of each set (:func:`fractalvid.evaluation.protocol.train_folds`): the
   built-in benchmark in folds of whole actors, basketball5 in class-stratified folds by clip (it has no
   player identity), so every clip is tested once;
4. writes ``summary.<set>.margin_top1 = {"mean", "ci95", "per_seed"}`` (fractions; fractal minus scratch,
   paired by seed, Student-t interval), each initialisation's mean top-1 and interval, the number of test
   clips, the chance level, ``pretrain_minutes`` (the training time of the pre-training epochs) and every
   run's numbers.

The fine-tuning recipe is params.yaml's, chosen on held-out training clips (``--holdout``), never on the
test parts: with ``--holdout F`` the runs score a per-class share F of each fold's training clips instead of
its test part, and the results say so (``"scored_on": "holdout"``). With ``--early-stop P`` every run
chooses its own epoch instead (``select_split``): a quarter of its training clips is held out and scored
after every epoch, the run stops P epochs after its best one (or at ``finetune.recipe.epochs``), and the
test part is scored once, with the best epoch's weights; the rows record each fold's best epoch. With
``--scratch-set finetune.recipe.KEY=VALUE`` the scratch runs get a recipe of their own (a setting chosen for
each initialisation on held-out clips, e.g. their own epoch count; ``benchmarks/record.py --per-init``). Runs
resume: a killed benchmark restarted with the same options reuses its datasets, pre-training and finished
folds.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

import record

from fractalvid.atomic import write_text
from fractalvid.clips.generate import FAMILIES as CLIP_FAMILIES, DatasetSpec, generate
from fractalvid.config import differing
from fractalvid.evaluation.protocol import train_folds
from fractalvid.evaluation.report import comparison
from fractalvid.evaluation.stats import pretraining_draw
from fractalvid.learning.runs import read_history
from fractalvid.learning.train import TrainConfig, config_from_params, finetune_config, train
from fractalvid.numerics import machine
from fractalvid.storage.real import prepare_dataset

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASKETBALL = ROOT.parent / "shared" / "data" / "basketball5"
WEIZMANN6 = ROOT.parent / "shared" / "data" / "weizmann6"   # 6 Weizmann actions by 9 actors, official naming
SETS = ("actions", "basketball5", "weizmann6")
FAMILIES = ("fractal", "perlin", "dead_leaves", "octopus")
EARLY_STOP_HOLDOUT = 0.25   # --early-stop: the share of each fold's training clips that chooses the epoch
CONTROLS = ("shuffled",)
# --quick: every stage at a toy size, to check the script end to end in a few minutes
QUICK = dict(generate=dict(classes=4, per_class=4, options=dict(res=32, steps=400, framing_res=32)),
             actions=dict(per_class=9, options=dict(res=32)), pretrain=dict(epochs=2, warmup_epochs=1),
             recipe=dict(epochs=2, warmup_epochs=1, folds=3), seeds=[0, 1],
             # at 32 px Perlin's finest octave (max_freq x 2**3 cells) must stay a pixel wide
             options=dict(perlin=dict(max_freq=4.0)))


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def rel(path: Path) -> str:
    """A path as the results file shows it: relative to the repository (no machine's absolute paths)."""
    path = Path(path).resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


def write_json_atomic(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(obj, indent=1) + "\n")


def merge(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` applied, nested dicts merged key by key."""
    out = dict(base)
    for k, v in changes.items():
        out[k] = merge(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


# -------------------------------------------------------------------- data

def pretrain_spec(params: dict, family: str) -> DatasetSpec:
    """params.yaml's pre-training set, or the same classes x clips of another family: of ``generate.options``
    it keeps the settings that family has (the frame size ``res``, and its own given with --set)."""
    section = {k: v for k, v in params["generate"].items() if k not in ("out", "workers")}
    if family != section.get("family", "fractal"):
        accepted = {f.name for f in dataclasses.fields(CLIP_FAMILIES[family].config)}
        options = {k: v for k, v in (section.get("options") or {}).items() if k in accepted}
        section = {**section, "family": family, "options": options}
    return DatasetSpec.from_dict(section)


def shuffled_labels(folder: Path, spec: DatasetSpec, seed: int = 0) -> None:
    """The control: the same clips with their labels permuted (class sizes kept), written into the manifest,
    so pre-training sees the same pixels and schedule but no class signal. The permutation is of the spec's
    own labels (clip index -> class), not of what the manifest holds now: ``generate`` rewrites the manifest
    when it resumes a finished set, and the control must then be applied again, identically."""
    import csv

    from fractalvid.storage.store import read_rows, write_rows

    rows = read_rows(folder / "manifest.csv")
    true = [spec.label_split(int(r["index"]))[0] for r in rows]
    shuffled = np.random.default_rng(seed).permutation(true)
    if [int(r["label"]) for r in rows] == shuffled.tolist():
        return
    for r, label in zip(rows, shuffled):
        r["label"] = int(label)
    with open(folder / "manifest.csv", newline="") as f:
        fields = next(csv.reader(f))
    write_rows(folder / "manifest.csv", rows, fields)
    (folder / "labels_shuffled").write_text("the labels of manifest.csv are permuted "
                                            "(benchmarks/transfer.py --control shuffled)\n")


def make_data(params: dict, work: Path, family: str, control: str | None, basketball: Path,
              short_side: int, square: bool = False, pretrain: bool = True, weizmann: Path | None = None,
              weizmann_short_side: int = 64) -> tuple[dict, dict]:
    """({name: folder}, {name: description}) of the pre-training set (unless not ``pretrain``) and the
    downstream sets (weizmann6 only when ``weizmann`` is given)."""
    data, info = {}, {}
    actions = {k: v for k, v in params["downstream"]["actions"].items() if k not in ("out", "workers")}
    sets = [("actions", DatasetSpec.from_dict(actions))]
    if pretrain:
        sets.insert(0, ("pretrain", pretrain_spec(params, family)))
    for name, spec in sets:
        folder = work / "data" / name
        start = time.perf_counter()
        card = generate(folder, spec, workers=os.cpu_count(), progress=False)
        data[name] = folder
        info[name] = {"family": spec.family, "splits": card["splits"], "made_s": round(time.perf_counter() - start, 1)}
        log(f"[data] {name} ({spec.family}): {card['splits']}")
    if control == "shuffled":
        shuffled_labels(data["pretrain"], pretrain_spec(params, family))
        info["pretrain"]["control"] = "labels shuffled"
    if basketball.is_dir():
        folder = work / "data" / "basketball5"
        card = prepare_dataset("generic", basketball, folder, short_side=short_side, square=square,
                               workers=os.cpu_count(), progress=False)
        data["basketball5"] = folder
        info["basketball5"] = {"source": "basketball5 (real clips, kept outside the project)",
                               "short_side": short_side, "square": square, "clips": sum(card["splits"].values()),
                               "class_names": card["class_names"], "skipped_videos": card["skipped"]}
        log(f"[data] basketball5: {card['splits']}")
    else:
        info["basketball5"] = {"skipped": "../shared/data/basketball5 does not exist here"}
        log("[data] basketball5 skipped: ../shared/data/basketball5 does not exist")
    if weizmann is not None and weizmann.is_dir():   # actors are the folds' groups (leave-actors-out)
        folder = work / "data" / "weizmann6"
        card = prepare_dataset("weizmann", weizmann, folder, short_side=weizmann_short_side,
                               workers=os.cpu_count(), progress=False)
        data["weizmann6"] = folder
        info["weizmann6"] = {"source": "weizmann6 (6 Weizmann actions by 9 actors, real clips kept outside the "
                                       "project)", "short_side": weizmann_short_side,
                             "clips": sum(card["splits"].values()), "actors": card.get("groups"),
                             "class_names": card["class_names"], "skipped_videos": card["skipped"]}
        log(f"[data] weizmann6: {card['splits']}, {card.get('groups')} actors")
    elif weizmann is not None:
        info["weizmann6"] = {"skipped": "../shared/data/weizmann6 does not exist here"}
        log("[data] weizmann6 skipped: ../shared/data/weizmann6 does not exist")
    return data, info


# ----------------------------------------------------------------- the runs

def run(params: dict, work: Path, results_path: Path, args) -> dict:
    total = time.perf_counter()
    options = {k: rel(v) if isinstance(v, Path) else [rel(x) for x in v] if k == "pretrained" and v else v
               for k, v in vars(args).items() if k not in ("out", "results", "basketball", "weizmann")}
    result = {"benchmark": "transfer", "complete": False, "options": options,
              "machine": {**machine(), "cpus": os.cpu_count(),   # what the digits depend on, as the pipeline records it
                          "load_average_start": [round(x, 2) for x in os.getloadavg()]}}
    data, result["datasets"] = make_data(params, work, args.family, args.control, args.basketball,
                                         args.basketball_short_side, args.basketball_square,
                                         pretrain=args.pretrained is None and args.pretrain_from is None
                                         and args.stream is None,
                                         weizmann=args.weizmann if "weizmann6" in args.sets else None,
                                         weizmann_short_side=args.weizmann_short_side)

    if args.pretrain_from is not None:   # this very pre-training, made by another run (e.g. a --holdout one)
        pre_run = args.pretrain_from / "pretrain"
        pre_cfg, metrics = same_pretraining(params, args.family, args.pretrain_from, args.stream)
        result["pretrain_from"] = rel(args.pretrain_from)
    elif args.stream is not None:   # clips rendered on the fly by loader workers, args.stream of them per epoch
        pre_run = work / "pretrain"
        pre_cfg = stream_config(params, args.family, args.stream)
        metrics = train(pre_cfg, pre_run, progress=False)
        result["datasets"]["pretrain"] = {"family": args.family, "stream": pre_cfg.stream,
                                          "epoch_clips": args.stream}
    elif args.pretrained is None:
        pre_run = work / "pretrain"
        pre_cfg = config_from_params(params["pretrain"], data=str(data.pop("pretrain")), val_split=None)
        metrics = train(pre_cfg, pre_run, progress=False)
    else:  # finished pre-training runs, e.g. the pipeline's draws models/pretrain/*: their own settings and numbers
        pre_run = args.pretrained[0]
        state = torch.load(pre_run / "model.pt", map_location="cpu", weights_only=False)
        pre_cfg = TrainConfig.from_dict(state["config"])
        metrics = json.loads((pre_run / "metrics.json").read_text())
    # the budget is the training time of its epochs, which a resumed benchmark reads back from the history;
    # with several draws (--pretrained A B C) their mean, and each draw's own
    draws = args.pretrained or [pre_run]
    minutes = [float(np.nansum(read_history(r)["epoch_s"])) / 60 for r in draws]
    history = read_history(pre_run)
    result["pretrain_minutes"] = round(float(np.mean(minutes)), 3)
    result["pretrain_draws"] = len(draws)
    result["pretrain_clip_passes"] = int(round(float(np.nansum(history["clips_per_s"] * history["epoch_s"]))))
    data_of = pre_cfg.data and rel(pre_cfg.data)   # None for clips rendered on the fly
    result["pretrain"] = {"config": {**pre_cfg.to_dict(), "data": data_of}, "train_loss": metrics["train_loss"],
                          "train_top1": metrics["train_top1"], "epochs": metrics["epochs"],
                          "clips_per_s": metrics["clips_per_s"]}
    if len(draws) > 1:   # each draw: where it is, its seed, its minutes and how well it learned the pretext task
        result["pretrain_runs"] = []
        for r, m in zip(draws, minutes):
            seed = torch.load(r / "model.pt", map_location="cpu", weights_only=False)["config"]["seed"]
            learned = json.loads((r / "metrics.json").read_text())
            result["pretrain_runs"].append({"run": rel(r), "seed": seed, "minutes": round(m, 3),
                                            "train_top1": learned["train_top1"], "val_top1": learned.get("val_top1")})
    log(f"[pretrain] {result['pretrain_minutes']} min, {len(draws)} draw(s): train top-1 {metrics['train_top1']:.3f}")

    recipe = params["finetune"]["recipe"]
    if args.holdout:
        recipe = {**recipe, "holdout": args.holdout, "val_split": "holdout"}
    if args.label_fraction:
        recipe = {**recipe, "label_fraction": args.label_fraction}
    if args.early_stop:
        recipe = {**recipe, "holdout": EARLY_STOP_HOLDOUT, "select_split": "holdout", "patience": args.early_stop}
    section = {**params["finetune"], "recipe": recipe}
    # the scratch runs' own recipe (a setting chosen per initialisation): --scratch-set on top of the shared one
    scratch_section = {**section, "recipe": merge(recipe, dotted(args.scratch_changes)["finetune"]["recipe"])
                       } if args.scratch_changes else section
    result["scored_on"] = "holdout" if args.holdout else "test"
    checkpoints = [r / "model.pt" for r in draws]
    scratch_work = args.scratch_from or work
    if args.scratch_from is not None:
        result["scratch_from"] = rel(scratch_work)
    rows, result["runs"] = [], []
    for dataset, folder in data.items():
        if dataset not in args.sets:
            continue
        scratch_data = folder if args.scratch_from is None else same_clips(folder, args.scratch_from / "data" / dataset)
        for seed in args.seeds:
            draw = pretraining_draw(seed, range(len(checkpoints)))   # seed s starts from draw s mod draws
            for init in ("scratch", "fractal"):
                cfg = finetune_config(scratch_section if init == "scratch" else section, dataset, init, seed,
                                      pretrained=checkpoints[draw]).replace(
                    data=str(scratch_data if init == "scratch" else folder))
                start = time.perf_counter()
                # a reused scratch run resumes only if its settings are these (train refuses otherwise)
                r = train_folds(cfg, (scratch_work if init == "scratch" else work) / "runs" / f"{dataset}-{init}-{seed}",
                                progress=False)
                row = {"dataset": dataset, "init": init, "seed": seed, "draw": draw if init == "fractal" else None,
                       "top1": r["top1"], "top5": r["top5"],
                       "test_clips": r["test_clips"], "classes": len(r["classes"]), "train_top1": r["train_top1"],
                       "fold_top1": [f["val_top1"] for f in r["folds"]], "wall_s": round(time.perf_counter() - start, 1)}
                if cfg.select_split is not None:   # early stopping: where each fold's run found its best epoch
                    row.update(fold_best_epoch=[f["best_epoch"] for f in r["folds"]],
                               fold_epochs=[f["epochs"] for f in r["folds"]],
                               fold_select_top1=[f["select_top1"] for f in r["folds"]])
                rows.append(row)
                log(f"[finetune] {dataset:12s} {init:8s} seed {seed}: top-1 {r['top1']:.3f} over "
                    f"{r['test_clips']} clips (train {r['train_top1']:.2f}) in {row['wall_s']:.0f} s")
            result["runs"] = rows
            result["summary"] = summarise(rows)
            write_json_atomic(results_path, result)   # partial results survive a killed run
        result["finetune_config"] = {**cfg.to_dict(), "data": "<set>", "init": "<scratch or the pre-trained network>",
                                     "seed": "<seed>"}
    result["summary"] = summarise(rows)
    result["total_minutes"] = round((time.perf_counter() - total) / 60, 2)
    result["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["complete"] = True
    write_json_atomic(results_path, result)
    if not args.quick:   # the study's record: one row per run, with the commit it ran at
        record.append(record.row(result, results_path.resolve(), result["machine"]["commit"]))
    if result["scored_on"] == "test" and not args.quick:
        log_test_read(result, results_path)
    return result


TEST_READS = HERE / "results" / "test_reads.jsonl"   # every benchmark run that scored a test part, one line each


def log_test_read(result: dict, results_path: Path) -> None:
    """Append to TEST_READS what read the test parts (results file, sets, options), when, and at which commit
    (``dirty``: with uncommitted changes), so that the number of looks at the test actors is on record."""
    import datetime
    import subprocess

    status = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                            capture_output=True, text=True).stdout
    line = {"when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "commit": result["machine"]["commit"], "dirty": bool(status.strip()),
            "results": rel(results_path), "sets": sorted(result["summary"]),
            "seeds": len(result["options"]["seeds"]), "pretrain_draws": result.get("pretrain_draws", 1),
            "changes": result["options"].get("changes") or [],
            **({"scratch_changes": result["options"]["scratch_changes"]} if result["options"].get("scratch_changes")
               else {})}
    with open(TEST_READS, "a") as f:
        f.write(json.dumps(line) + "\n")


def stream_config(params: dict, family: str, epoch_clips: int) -> TrainConfig:
    """params.yaml's pre-training on clips of the pre-training set's settings rendered on the fly, ``epoch_clips``
    per epoch, by one loader worker per core (nothing is stored, so nothing is held in memory)."""
    return config_from_params(params["pretrain"], data=None, stream=pretrain_spec(params, family).to_dict(),
                              epoch_clips=epoch_clips, in_memory=False, workers=os.cpu_count(), val_split=None)


def same_pretraining(params: dict, family: str, other: Path, stream: int | None = None) -> tuple[TrainConfig, dict]:
    """(config, metrics) of the finished pre-training in work folder ``other`` if it is the one these settings
    make: the same pre-training set (its settings.json) and the same ``pretrain`` settings, its data aside; for a
    ``stream`` of clips per epoch, the same settings of the clips rendered (the loader's worker count aside)."""
    made, run = other / "data" / "pretrain" / "settings.json", other / "pretrain"
    if (stream is None and not made.is_file()) or not (run / "model.pt").is_file():
        raise ValueError(f"--pretrain-from {rel(other)} is not accepted: expected a benchmark's work folder holding "
                         + ("" if stream else "data/pretrain/settings.json and ") + "a finished pretrain/model.pt")
    config = TrainConfig.from_dict(torch.load(run / "model.pt", map_location="cpu", weights_only=False)["config"])
    if stream is not None:
        theirs, ours = ({k: v for k, v in json.loads(json.dumps(c.to_dict())).items() if k != "workers"}
                        for c in (config, stream_config(params, family, stream)))
        if theirs != ours:
            raise ValueError(f"--pretrain-from {rel(other)} is not accepted: its pre-training has other settings "
                             f"(differing: {differing(theirs, ours)}); expected a run of these --stream and --set "
                             "values")
        return config, json.loads((run / "metrics.json").read_text())
    wanted = config_from_params(params["pretrain"], data=config.data, val_split=None)
    spec = json.loads(json.dumps(pretrain_spec(params, family).to_dict()))   # as it reads back from JSON
    for what, theirs, ours in (("pre-training set", json.loads(made.read_text()), spec),
                               ("pre-training", config.to_dict(), wanted.to_dict())):
        if theirs != ours:
            changed = differing(theirs, ours)
            raise ValueError(f"--pretrain-from {rel(other)} is not accepted: its {what} has other settings "
                             f"(differing: {changed}); expected a run of these --set values")
    return config, json.loads((run / "metrics.json").read_text())


def same_clips(folder: Path, other: Path) -> Path:
    """``other`` if that downstream set holds the clips of ``folder`` (the same settings, manifest and chunks,
    byte for byte), so that runs on it are runs on ``folder``'s clips."""
    names = ["settings.json", "manifest.csv"] + [f"chunks/{p.name}" for p in sorted((folder / "chunks").glob("*.bin"))]
    for name in names:
        if not (other / name).is_file() or (other / name).read_bytes() != (folder / name).read_bytes():
            raise ValueError(f"--scratch-from: {rel(other)} does not hold the clips of {rel(folder)} ({name} "
                             "differs or is missing); expected the work folder of a benchmark run on the same "
                             "downstream sets")
    return other


def summarise(rows: list[dict]) -> dict:
    """report.comparison in the benchmark's layout: per set, margin_top1 and each initialisation's top-1."""
    out = {}
    for dataset, e in comparison(rows).items():
        out[dataset] = {"test_clips": e["test_clips"], "chance": e["chance"],
                        **{f"{init}_top1": {"mean": r["mean"], "ci95": r["ci95"],
                                            "per_seed": [r["per_seed"][s] for s in sorted(r["per_seed"])]}
                           for init, r in e["inits"].items()}}
        if "fractal" in e["margins"]:
            m = e["margins"]["fractal"]
            out[dataset]["margin_top1"] = {"mean": m["mean"], "ci95": m["ci95"], "per_seed": m["per_seed"],
                                           "seeds": m["seeds"], "wins": m["wins"], "over": m["over"],
                                           "draws": m["draws"], "per_draw": m["per_draw"]}
    return out


def table(result: dict) -> str:
    """The summary as text; the pre-trained start is named by what it learned (``fractal`` in the results'
    keys, whatever the family: the protocol's name for the pre-trained initialisation)."""
    options = result["options"]
    pretrained = options["family"] + (f" ({options['control']})" if options.get("control") else "")
    w = max(8, len(pretrained))
    lines = [f"{'set':12s} {'init':{w}s} {'top-1 % [95 % CI]':>24s}   per seed", ]
    for dataset, e in result["summary"].items():
        for init in ("scratch", "fractal"):
            r = e.get(f"{init}_top1")
            if r:
                name = pretrained if init == "fractal" else init
                lines.append(f"{dataset:12s} {name:{w}s} {100 * r['mean']:8.1f} [{100 * r['ci95'][0]:5.1f}, "
                             f"{100 * r['ci95'][1]:5.1f}]   " + " ".join(f"{100 * v:.1f}" for v in r["per_seed"]))
        m = e.get("margin_top1")
        if m:
            lines.append(f"{'':12s} {'margin':{w}s} {100 * m['mean']:+8.1f} [{100 * m['ci95'][0]:+5.1f}, "
                         f"{100 * m['ci95'][1]:+5.1f}] points (CI over {m.get('over', 'fine-tuning seeds')}), "
                         f"{pretrained} better in {m['wins']}/{len(m['per_seed'])} "
                         f"seeds; {e['test_clips']} test clips, chance {100 * e['chance']:.0f} %")
    lines.append(f"scored on the {result['scored_on']} clips; pre-training {result['pretrain_minutes']} min, "
                 f"total {result.get('total_minutes', '?')} min")
    return "\n".join(lines)


def name_of(args) -> str:
    parts = ["transfer"]
    if args.quick:
        parts.append("quick")
    if args.family != "fractal":
        parts.append(args.family)
    if args.control:
        parts.append(f"control-{args.control}")
    if args.pretrain_epochs is not None:
        parts.append(f"pre{args.pretrain_epochs}")
    if args.stream is not None:
        parts.append(f"stream{args.stream}")
    if args.label_fraction:
        parts.append(f"frac{args.label_fraction:g}")
    if args.holdout:
        parts.append(f"holdout{args.holdout:g}")
    if args.early_stop:
        parts.append(f"early-stop{args.early_stop}")
    if args.basketball_square:
        parts.append("square")
    if args.pretrained is not None:   # models/pretrain/0 -> from-pretrain0; benchmarks/work/X/pretrain -> from-X
        names = []
        for folder in (r.resolve() for r in args.pretrained):
            names.append(f"pretrain{folder.name}" if folder.parent.name == "pretrain" else
                         folder.parent.name if folder.name == "pretrain" and folder.parent.name != "models"
                         else folder.name)
        parts.append("from-" + "-".join(names))
    for change in args.changes:   # e.g. pretrain.augment.background=false -> background-false
        key, value = change.split("=", 1)
        value = re.sub(r"[^A-Za-z0-9.+-]+", "-", value).strip("-")   # a YAML list [conv1, bn1] -> conv1-bn1
        part = f"{key.rsplit('.', 1)[-1]}-{value}".replace("_", "-")
        if part not in parts:     # pretrain.arch=X and finetune.recipe.arch=X name the run once
            parts.append(part)
    for change in args.scratch_changes:   # finetune.recipe.epochs=50 -> scratch-epochs-50
        key, value = change.split("=", 1)
        parts.append(f"scratch-{key.rsplit('.', 1)[-1]}-{value}".replace("_", "-"))
    # results/transfer.json is the record's view of the recipe's row (record.py --transfer), never a run's file
    return "_".join(parts) if len(parts) > 1 else "transfer_recipe"


def dotted(changes: list[str], flag: str = "--set") -> dict:
    """["a.b.c=1", ...] -> {"a": {"b": {"c": 1}}} (values read as YAML)."""
    out: dict = {}
    for change in changes:
        key, sep, value = change.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ValueError(f"{flag} {change!r} is not accepted: expected SECTION.KEY=VALUE, e.g. "
                             "pretrain.real_video=true")
        *path, last = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(value)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", type=Path, default=ROOT / "params.yaml", help="the recipe (default params.yaml)")
    p.add_argument("--quick", action="store_true", help="a smoke run at toy sizes")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="fine-tuning seeds (default finetune.seeds)")
    p.add_argument("--family", default="fractal", help=f"pre-training family: one of {FAMILIES}")
    p.add_argument("--control", default=None, help=f"a pre-training without its signal: one of {CONTROLS}")
    p.add_argument("--pretrain-epochs", type=int, default=None, help="pre-training epochs (default pretrain.epochs)")
    p.add_argument("--label-fraction", type=float, default=None, help="labelled share of each training fold")
    p.add_argument("--holdout", type=float, default=None, help="score this share of the training clips, not test")
    p.add_argument("--early-stop", type=int, default=None, metavar="PATIENCE",
                   help=f"train each run until it converges: score {EARLY_STOP_HOLDOUT:g} of its training clips held "
                        "out after every epoch, stop PATIENCE epochs after the best (or at finetune.recipe.epochs) "
                        "and test the best epoch's weights")
    p.add_argument("--sets", nargs="+", default=["actions", "basketball5"], choices=SETS,
                   help="downstream sets to fine-tune on (default actions and basketball5)")
    p.add_argument("--set", dest="changes", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="change a params.yaml value (YAML), e.g. --set pretrain.real_video=true; repeatable")
    p.add_argument("--scratch-set", dest="scratch_changes", action="append", default=[],
                   metavar="finetune.recipe.KEY=VALUE",
                   help="change the scratch runs' recipe only (a setting chosen for each initialisation on "
                        "held-out clips), e.g. --scratch-set finetune.recipe.epochs=50; repeatable")
    p.add_argument("--pretrained", type=Path, nargs="+", default=None,
                   help="fine-tune these finished pre-training runs (folders with model.pt, e.g. the pipeline's "
                        "draws models/pretrain/0 models/pretrain/1 models/pretrain/2) instead of pre-training: "
                        "seed s starts from the (s mod N)-th, and the margin's interval is over the draws")
    p.add_argument("--weizmann", type=Path, default=WEIZMANN6, help="the weizmann6 folder (official naming)")
    p.add_argument("--weizmann-short-side", type=int, default=64, help="short side of the prepared clips")
    p.add_argument("--basketball", type=Path, default=BASKETBALL, help="the basketball5 folder")
    p.add_argument("--basketball-short-side", type=int, default=64, help="short side of the prepared clips")
    p.add_argument("--basketball-square", action="store_true",
                   help="prepare basketball5 square (its portrait frames whole, squeezed: no head or feet cut off)")
    p.add_argument("--scratch-from", type=Path, default=None, metavar="WORK",
                   help="reuse the scratch runs of an earlier benchmark's work folder (e.g. benchmarks/work/"
                        "transfer): its downstream sets must hold the same clips and its runs the same recipe")
    p.add_argument("--pretrain-from", type=Path, default=None, metavar="WORK",
                   help="reuse the pre-training of an earlier benchmark's work folder (e.g. a --holdout run's) "
                        "made with these same settings, instead of pre-training again")
    p.add_argument("--stream", type=int, default=None, metavar="CLIPS",
                   help="pre-train on clips rendered on the fly from generate's settings, CLIPS per epoch, instead "
                        "of a stored set (raise generate.per_class for mostly new clips every epoch)")
    p.add_argument("--out", type=Path, default=None, help="work folder (default benchmarks/work/NAME)")
    p.add_argument("--results", type=Path, default=None, help="results file (default benchmarks/results/NAME.json)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON line instead of a table")
    args = p.parse_args()
    if args.family not in FAMILIES:
        raise ValueError(f"--family={args.family!r} is not accepted: expected one of {FAMILIES}")
    for folder in args.pretrained or ():
        if not (folder / "model.pt").is_file():
            raise ValueError(f"--pretrained {folder} is not accepted: expected a finished pre-training run folder "
                             "holding model.pt (e.g. models/pretrain/0 after dvc repro)")
    if args.pretrained is not None and (args.family != "fractal" or args.control or args.pretrain_epochs):
        raise ValueError("--pretrained is not accepted with --family, --control or --pretrain-epochs: those "
                         "describe a pre-training, and --pretrained skips it")
    if args.pretrain_from is not None and (args.pretrained is not None or args.control):
        raise ValueError("--pretrain-from is not accepted with --pretrained or --control: --pretrained names the "
                         "network itself, and a control's pre-training set is not the one its settings make")
    if args.scratch_from is not None:   # absolute, as the benchmark's own work folder (runs record their data)
        args.scratch_from = args.scratch_from.resolve()
        if not (args.scratch_from / "runs").is_dir():
            raise ValueError(f"--scratch-from {args.scratch_from} is not accepted: expected a benchmark's work folder "
                             "holding runs/ (e.g. benchmarks/work/transfer)")
    if args.stream is not None and (args.stream < 1 or args.pretrained is not None or args.control):
        raise ValueError(f"--stream={args.stream} is not accepted"
                         + (": expected an integer >= 1 (clips per epoch)" if args.stream < 1 else
                            " with --pretrained or --control: the first names a network pre-trained elsewhere, "
                            "the second shuffles the labels of a stored set"))
    if args.control not in (None, *CONTROLS):
        raise ValueError(f"--control={args.control!r} is not accepted: expected one of {CONTROLS}")
    if args.pretrain_epochs is not None and args.pretrain_epochs < 1:
        raise ValueError(f"--pretrain-epochs={args.pretrain_epochs} is not accepted: expected an integer >= 1")
    if args.early_stop is not None and (args.early_stop < 1 or args.holdout):
        raise ValueError(f"--early-stop={args.early_stop} is not accepted"
                         + (" with --holdout: the held-out clips choose each run's epoch, so they cannot score the"
                            " recipe too" if args.holdout else ": expected an integer >= 1 (epochs)"))
    for name in ("label_fraction", "holdout"):
        v = getattr(args, name)
        if v is not None and not 0 < v < 1 + (name == "label_fraction"):
            raise ValueError(f"--{name.replace('_', '-')}={v} is not accepted: expected a number in "
                             + ("(0, 1]" if name == "label_fraction" else "(0, 1)"))
    bad = [c for c in args.scratch_changes if not c.startswith("finetune.recipe.")]
    if bad:
        raise ValueError(f"--scratch-set {bad[0]!r} is not accepted: expected finetune.recipe.KEY=VALUE (the scratch"
                         " runs' own fine-tuning recipe; the pre-training and the data are shared)")
    dotted(args.scratch_changes, "--scratch-set")   # a malformed change fails here, before any work
    params = yaml.safe_load(args.params.read_text())
    params = merge(params, dotted(args.changes))
    if args.quick:
        params = merge(params, {"generate": merge(QUICK["generate"], {"options": QUICK["options"].get(args.family, {})}),
                                "downstream": {"actions": QUICK["actions"]},
                                "pretrain": QUICK["pretrain"], "finetune": {"recipe": QUICK["recipe"]}})
    if args.pretrain_epochs is not None:
        warmup = params["pretrain"].get("warmup_epochs", 0)
        params = merge(params, {"pretrain": {"epochs": args.pretrain_epochs,
                                             "warmup_epochs": min(warmup, args.pretrain_epochs)}})
    args.seeds = args.seeds or (QUICK["seeds"] if args.quick else params["finetune"]["seeds"])
    name = name_of(args)
    work = args.out or HERE / "work" / name
    results_path = args.results or (work / "transfer.json" if args.quick else HERE / "results" / f"{name}.json")
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries the table or JSON only
        result = run(params, work, results_path, args)
    log(f"[results] {rel(results_path)}")
    print(json.dumps(result) if args.json else table(result))


if __name__ == "__main__":
    main()
