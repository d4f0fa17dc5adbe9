"""Command line: ``fractalvid generate | show | merge | gallery | data prepare | pretrain | finetune | evaluate |
plan | exp-run``.

Also ``python -m fractalvid``. Training commands take the settings the
notebooks take: a params.yaml section (``--params params.yaml``), then any
``--set KEY=VALUE`` on top (the fields of ``fractalvid.learning.train.TrainConfig``).
Under ``torchrun --nproc-per-node N`` they train on N processes.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import yaml

from .clips.ifs import FractalConfig
from .config import parse_assignments
from .clips.kernels import DEFAULT_VARIATIONS, VARIATION_NAMES


def _generate_parser(sub):
    p = sub.add_parser("generate", help="make (or resume) a synthetic clip dataset",
                       description="Make a synthetic clip dataset in OUT (fractal clips, or one of the families "
                                   "the paper compares with); rerunning the same command resumes it.")
    p.add_argument("out", help="output folder")
    p.add_argument("--family", default="fractal",
                   help="fractal (default), perlin, dead_leaves or octopus (see fractalvid/clips/families.py)")
    p.add_argument("--classes", type=int, help="supervised: number of classes")
    p.add_argument("--per-class", type=int, default=200, help="clips per class, validation included (default 200)")
    p.add_argument("--val-per-class", type=int, default=10, help="held-out clips per class (default 10)")
    p.add_argument("--samples", type=int, help="unsupervised: number of clips")
    p.add_argument("--res", type=int, default=256, help="frame size in pixels, even (default 256)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: every core)")
    p.add_argument("--shard", default="1/1", help="make part k of n, e.g. 2/4 (default 1/1)")
    p.add_argument("--image", action="store_true", help="image mode: independent still frames (FractalDB-like)")
    p.add_argument("--motion", default="decomposed", help="decomposed (default) or naive interpolation")
    p.add_argument("--linear-motion", action="store_true", help="every map moves linearly (ablation)")
    p.add_argument("--variations", nargs="+", default=list(DEFAULT_VARIATIONS), metavar="NAME",
                   help=f"variations of nonlinear clips (default: {' '.join(DEFAULT_VARIATIONS)}; "
                        f"accepted: {' '.join(VARIATION_NAMES[1:])})")
    p.add_argument("--p-nonlinear", type=float, default=0.5, help="probability of a nonlinear clip (default 0.5)")
    p.add_argument("--chunk-size", type=int, default=1000, help="clips per chunk file (default 1000)")
    p.add_argument("--crf", type=int, default=20, help="H.264 quality, 0 = lossless (default 20)")
    p.add_argument("--set", "--option", dest="set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other setting of the family, value as YAML (as dvc exp run -S reads it), e.g. --set steps=5000 (fractal), "
                        "--set octaves=3 or --set radius=[8,24] (repeatable; the fields of FractalConfig, "
                        "PerlinConfig, DeadLeavesConfig, OctopusConfig)")
    p.add_argument("--overwrite", action="store_true", help="replace an output made with other settings")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _spec_from_args(a):
    from .clips.generate import FAMILIES, DatasetSpec   # per command, as in main

    if a.family not in FAMILIES:
        raise ValueError(f"family={a.family!r} is not accepted: expected one of {tuple(FAMILIES)}")
    if a.classes is not None and a.samples is not None:
        raise ValueError(f"--samples {a.samples} with --classes {a.classes} is not accepted: expected one of them "
                         "(--classes with --per-class: a labelled set; --samples: an unlabelled set)")
    # the fractal's own flags; any family's other settings come with --set, into the one `options`
    fractal = {"image": a.image, "motion": a.motion, "linear_motion": a.linear_motion,
               "variations": list(a.variations), "p_nonlinear": a.p_nonlinear}
    if a.family != "fractal":
        given = {k: v for k, v in fractal.items() if FractalConfig().to_dict()[k] != v}
        if given:
            flags = ", ".join(f"--{k.replace('_', '-')}" for k in given)
            raise ValueError(f"{flags} with --family {a.family} is not accepted: expected them for --family "
                             f"fractal only ({a.family}'s settings come with --set KEY=VALUE)")
        fractal = {}
    options = {"res": a.res, **fractal, **parse_assignments(a.set, "--set")}   # --res: every family's frame size
    supervised = a.classes is not None
    return DatasetSpec(family=a.family, classes=a.classes, per_class=a.per_class, val_per_class=a.val_per_class,
                       samples=a.samples if not supervised else None, seed=a.seed, chunk_size=a.chunk_size,
                       crf=a.crf, options=options)


def _train_config(a):
    """params section, then the explicit flags, then --set; the recipe of the command's task underneath."""
    from .learning.train import config_from_params   # per command, as in main: torch for training only

    section = {}
    if a.params:
        params = yaml.safe_load(open(a.params))
        name = a.section or a.command
        if name not in params:
            raise ValueError(f"section={name!r} is not in {a.params}: expected one of {sorted(params)}")
        section = params[name]
        # the finetune section keeps one run's settings under recipe, beside the lists the pipeline expands:
        # the flags below go on top of the recipe, not beside it (config_from_params would read recipe alone)
        section = dict(section["recipe"]) if "recipe" in section else section
    flags = {key: getattr(a, key) for key in ("data", "init", "arch", "epochs", "batch_size", "lr", "seed")
             if getattr(a, key) is not None}
    settings = {**section, **flags, **parse_assignments(a.set, "--set")}
    task = settings.get("task", "finetune" if a.command == "finetune" else "supervised")
    if (a.command == "finetune") != (task == "finetune"):
        raise ValueError(f"task={task!r} is not accepted by `fractalvid {a.command}`: expected "
                         + ("finetune" if a.command == "finetune" else "supervised, moco, simclr or byol"))
    return config_from_params(settings, task)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fractalvid", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _generate_parser(sub)
    p = sub.add_parser("show", help="write one clip as .mp4, .gif or a .png contact sheet")
    p.add_argument("dataset")
    p.add_argument("--index", type=int, required=True)
    p.add_argument("--out", required=True, help="FILE.mp4, FILE.gif or FILE.png")
    p = sub.add_parser("merge", help="combine shards made with --shard into one dataset")
    p.add_argument("out")
    p.add_argument("parts", nargs="+")
    p = sub.add_parser("gallery", help="contact sheets and GIFs of every family and every augmentation")
    p.add_argument("out")
    p.add_argument("--clips", type=int, default=4, help="clips per picture (default 4)")
    p.add_argument("--res", type=int, default=112, help="frame size (default 112)")
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("data", help="real downstream datasets")
    data_sub = p.add_subparsers(dest="data_command", required=True)
    p = data_sub.add_parser("prepare", help="decode a real dataset once into a fast training format",
                            description="Decode, resize (short side) and store a real dataset's videos in OUT; "
                                        "unreadable files are skipped and listed in OUT/prepare_report.csv.")
    p.add_argument("dataset", help="ucf101, hmdb51, diving48, egtea, volleyball, yup, weizmann (each in its "
                                   "official layout) or generic (class folders, or a CSV of path,label,split)")
    p.add_argument("root", help="where the dataset was unpacked (or the CSV file)")
    p.add_argument("out")
    p.add_argument("--split", type=int, default=1,
                   help="official split: 1-3 for ucf101, hmdb51 and egtea, 1 for the others (default 1)")
    p.add_argument("--short-side", type=int, default=128, help="frame short side after resizing (default 128)")
    p.add_argument("--square", action="store_true",
                   help="store the whole frame at SHORT_SIDE x SHORT_SIDE (squeezed), so crops cut nothing off")
    p.add_argument("--workers", type=int, default=None, help="processes (default: every core)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--quiet", action="store_true")
    for name, text in (("pretrain", "pre-train on synthetic clips (supervised, MoCo, SimCLR or BYOL)"),
                       ("finetune", "fine-tune on a downstream dataset (from scratch or a checkpoint)")):
        p = sub.add_parser(name, help=text, description=text + "; rerunning the same command resumes it.")
        p.add_argument("out", help="run folder (checkpoints, history.csv, metrics.json, model.pt)")
        p.add_argument("--data", help="dataset folder (generated or prepared)")
        p.add_argument("--init", help="scratch, a fractalvid checkpoint .pt, or kinetics:PATH")
        p.add_argument("--arch", help="tsm_r18, tsm_r50 or tsm_mnv2")
        p.add_argument("--epochs", type=int)
        p.add_argument("--batch-size", type=int)
        p.add_argument("--lr", type=float, help="for a batch of 32 (scaled with the batch)")
        p.add_argument("--seed", type=int)
        p.add_argument("--params", help="a params.yaml whose section --section (default: the command) is read")
        p.add_argument("--section")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="any TrainConfig field, value as YAML (as dvc exp run -S reads it), e.g. --set task=moco "
                            "(repeatable)")
        p.add_argument("--quiet", action="store_true")
    p = sub.add_parser("evaluate", help="top-1/top-5 of a saved model on a dataset split")
    p.add_argument("checkpoint", help="a run's model.pt")
    p.add_argument("data", help="dataset folder")
    p.add_argument("--split", default="test")
    p.add_argument("--clips", type=int, default=10, help="clips per video, scores averaged (default 10)")
    p.add_argument("--crops", type=int, default=1,
                   help="spatial crops per clip: 1 the centre (default), 3 across the frame (10 x 3 views)")
    p = sub.add_parser("ablations", help="record the DVC experiments' results in reports/ablations.{json,md}",
                       description="Read `dvc exp show` and merge every finished experiment (what it changed, "
                                   "pretext top-1, minutes, margin with its CI per set) into the committed "
                                   "table that notebook 04 draws; rows of experiments no longer listed are kept.")
    p.add_argument("--out", default="reports/ablations", help="path stem of the .json and .md (default %(default)s)")
    p.add_argument("--offline", action="store_true", help="no DVC: write the .md and docs/study.md's block again "
                                                          "from the committed .json (a fresh clone can)")
    p = sub.add_parser("plan", help="what a params file will make and cost, and what this machine lacks for it",
                       description="Print the run's estimates (clips, disk, generation core-hours, clip-passes, "
                                   "GPU-hours, each with its source), then every missing prerequisite with how to "
                                   "get it; exit 1 if one is missing (make paper runs it first).")
    p.add_argument("params", help="the params file, e.g. params-paper.yaml")
    p = sub.add_parser("exp-run", help="run the pipeline as a DVC experiment with another params profile",
                       description="Run dvc.yaml as a DVC experiment (dvc exp run --temp) with every value of "
                                   "PROFILE (e.g. params-paper.yaml), leaving the workspace and params.yaml alone.")
    p.add_argument("profile", help="a params file with the same sections as params.yaml")
    p.add_argument("--overlay", action="store_true",
                   help="the profile names only the values it changes (params-quick.yaml); every other value is "
                        "params.yaml's")
    p.add_argument("--set", dest="changes", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="a value set on top of the profile, as dvc exp run -S sets it (repeatable)")
    p.add_argument("--name", default=None, help="experiment name (default: the profile's stem)")
    p.add_argument("--copy", action="append", default=[], metavar="PATH",
                   help="an untracked folder the run needs, e.g. data/real (repeatable; default: data/real if "
                        "it exists)")
    p.add_argument("--dry", action="store_true", help="print the dvc command instead of running it")
    a = parser.parse_args(argv)
    # each command imports its own modules when it runs (the "# per command" imports below): `fractalvid show`
    # or `generate` should not wait a few seconds for torch and torchvision, which only training needs
    try:
        if a.command == "generate":
            from .clips.generate import generate, parse_shard   # per command

            parse_shard(a.shard)  # fail on a bad spec before any work
            start = time.perf_counter()
            card = generate(a.out, _spec_from_args(a), workers=a.workers, shard=a.shard,
                            overwrite=a.overwrite, progress=not a.quiet)
            print(json.dumps({**{k: card[k] for k in ("clips", "splits", "rejected_draws", "bytes_per_clip")},
                              "wall_s": round(time.perf_counter() - start, 2)})
                  if card else f"part {a.shard} done; the dataset completes when every part exists "
                                "(generate the other parts into the same folder, or `fractalvid merge`)")
        elif a.command == "show":
            from .storage.store import open_dataset   # per command
            from .storage.video import write_clip   # per command

            ds = open_dataset(a.dataset)
            frames, label = ds[a.index]
            print(write_clip(frames, a.out))
        elif a.command == "merge":
            from .clips.generate import merge   # per command

            card = merge(a.out, a.parts)
            print(f"{a.out}: {card['clips']} clips" if card else f"{a.out}: still incomplete, parts are missing")
        elif a.command == "gallery":
            from .gallery import gallery   # per command

            for path in gallery(a.out, clips=a.clips, res=a.res, seed=a.seed):
                print(path)
        elif a.command == "data":
            from .storage.real import prepare_dataset   # per command

            card = prepare_dataset(a.dataset, a.root, a.out, split=a.split, short_side=a.short_side,
                                   square=a.square, workers=a.workers, overwrite=a.overwrite, progress=not a.quiet)
            print(json.dumps({k: card.get(k) for k in ("clips", "splits", "skipped", "bytes_per_clip")}))
        elif a.command in ("pretrain", "finetune"):
            from .learning.train import train   # per command

            print(json.dumps(train(_train_config(a), a.out, progress=not a.quiet)))
        elif a.command == "evaluate":
            from .learning.train import evaluate_checkpoint   # per command

            print(json.dumps(evaluate_checkpoint(a.checkpoint, a.data, split=a.split, val_clips=a.clips,
                                                 crops=a.crops)))
        elif a.command == "ablations":
            from .evaluation.ablations import record_ablations   # per command

            rows = record_ablations(Path(a.out), offline=a.offline, study=Path("docs/study.md"),
                                    budget=Path("docs/budget.md"))
            print(f"{a.out}.json and {a.out}.md: {len(rows)} rows")
        elif a.command == "plan":
            from .plan import report   # per command

            text, missing = report(a.params)
            print(text)
            return 1 if missing else 0
        elif a.command == "exp-run":
            from .project import experiment_command   # per command

            copy = a.copy or (["data/real"] if Path("data/real").is_dir() else [])
            command = experiment_command(a.profile, a.name or Path(a.profile).stem, copy_paths=tuple(copy),
                                         overlay=a.overlay, changes=tuple(a.changes))
            if a.dry:
                print(shlex.join(command))
            else:
                os.execv(sys.executable, [sys.executable, "-m", *command])   # python -m dvc ...
    except (ValueError, FileExistsError, FileNotFoundError, IndexError) as e:
        print(f"fractalvid {a.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
