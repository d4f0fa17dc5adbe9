"""Training speed beside the data loaders' speed, measured side by side in one run.

    python benchmarks/train.py --json                 # one JSON line
    python benchmarks/train.py --archs tsm_r18 --batch 32 --repeats 5

Everything is in clips per second (a clip: 8 frames of 112 x 112 by default), each
figure the median of --repeats rounds after one warm-up round. The rounds are
interleaved (every measurement once per round), so all see the same machine load.
The parts are timed one at a time: in a real run the loader's workers and the
training step share the machine's cores.

train_clips_per_s[arch]: ``Run.train_one_epoch`` itself, one step per call, as a
pre-training run does it: uint8 grey clips (B, 1, 8, 128, 128) from the loader ->
float, the real-video emulation (paper settings; curriculum as at epoch 0),
standard augmentation (crop area 0.9-1 to 112, flip, RandAugment, blur,
normalisation), TSM forward, cross-entropy, backward, gradient clipping at 5, AdamW,
scheduler step (mixed precision on a GPU). Its items come from memory (one batch
of rendered fractal clips), so no loading cost is included.
bare_step_clips_per_s[arch]: the model alone: forward, cross-entropy, backward,
clipping and AdamW on a normalised float batch (B, 3, 8, 112, 112).

loader_clips_per_s[name]: the DataLoader ``Run`` makes (``fractalvid.learning.train._loader``:
shuffled, --workers processes, batches of B) over the train set ``build_data``
makes, each round a fresh loader as every epoch has, timed from the moment each
worker has delivered its first batch (start-up and, for streams, the per-worker
class set-up are behind: first_batch_s reports that wait) to the last batch:
- "real": ../shared/data/basketball5 (beside the checkout) prepared into a temporary folder with
  ``prepare_dataset("generic", ..., short_side=128)``, items as ``VideoClips`` makes
  them for training (8 frames at stride 2, resized and centre-cropped to 128);
  skipped with a note when the folder is absent. --prepared DIR reuses a folder.
- "fractal_res128", "fractal_res256": ``FractalStream`` (clips rendered in the
  workers) of a supervised spec with the paper's FractalConfig at that res (the
  pipeline stores 128 px, the paper renders 256) and 2 classes, so class draws
  are made once per worker and the figure is the steady rendering rate; at the
  paper's 500 classes each worker draws each class once per epoch, about 1 % more
  of an epoch of 100k clips.
loader_vs_train[name][arch]: loader rate / training rate; the loader must exceed
the training step (ratio > 1). render_s_per_clip: ``make_clip`` in this process
at res 128 with the paper's steps and with steps halved, which shows what the
chaos-game budget (walkers x steps x frames points) costs.

--finetune PARAMS --lever eval_every=5 --lever compile=true measures the CPU default's fine-tuning epoch (fold 0 of
the built-in benchmark: training steps, then its test part scored) beside each lever, interleaved
(``finetune_levers``); ``--out`` writes the JSON (benchmarks/results/finetune_levers.json).

--recipe PARAMS (e.g. params.yaml) measures instead the CPU default's pre-training step, as ``make repro``
runs it, beside the bare network on the same threads: ``recipe_step_clips_per_s`` is ``Run.train_one_epoch``
on a small set of the params' fractal clips (``generate.options``) held in memory (``in_memory``: no loader
workers), so loading, cropping, augmentation, the temporal shift and the optimiser step are all in it;
``bare`` is the same network's forward, cross-entropy, backward, clipping and AdamW on a ready float batch.
``full_step_vs_bare`` = bare rate / full rate (the issue's target: at most 1.25). ``no_shift`` (the same
trunk without the temporal shift, ``shift_div=0``) gives the shift's cost; ``channels_last_vs_default`` the
bare step with weights and activations in channels-last layout against the default layout (the recipe runs in
the layout its ``channels_last`` setting names, and ``bare`` is measured in that layout).
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from fractalvid import DatasetSpec, FractalConfig, make_clip
from fractalvid.atomic import write_text
from fractalvid.learning.models import build_model
from fractalvid.numerics import machine
from fractalvid.learning.train import Run, _loader, build_data, config_from_params, recipe

BASKETBALL = Path(__file__).resolve().parents[2] / "shared" / "data" / "basketball5"  # beside the checkout


class Batch(Dataset):
    """One batch of clips held in memory, served ``repeat`` times: items with no loading cost."""

    def __init__(self, clips: torch.Tensor, labels: torch.Tensor, repeat: int):
        self.clips, self.labels, self.repeat = clips, labels, repeat

    def __len__(self) -> int:
        return len(self.clips) * self.repeat

    def __getitem__(self, i: int):
        j = i % len(self.clips)
        return self.clips[j], int(self.labels[j])


def stream_cfg(args, res: int, **changes):
    spec = dict(classes=2, per_class=10**4, val_per_class=0, seed=0, options=dict(res=res))
    settings = dict(stream=spec, epoch_clips=args.batch * args.batches, arch="tsm_r18", frames=args.frames,
                    size=args.size, batch_size=args.batch, workers=args.workers)
    return recipe("supervised", **{**settings, **changes})


class LoaderTimer:
    """One fresh loader per round, as each epoch makes; the steady rate after every worker's first batch."""

    def __init__(self, dataset, cfg, batches: int):
        self.dataset, self.cfg, self.batches, self.round = dataset, cfg, batches, 0
        self.first_batch_s = []

    def __call__(self) -> float:
        loader = _loader(self.dataset, self.cfg, self.round, train=True, world=1)
        self.round += 1
        skip = max(1, self.cfg.workers)
        start = time.perf_counter()
        clips, t0 = 0, None
        for i, (x, _) in enumerate(loader):
            if i + 1 == skip:
                t0 = time.perf_counter()
                self.first_batch_s.append(t0 - start)
            elif i + 1 > skip:
                clips += len(x)
            if i + 1 == self.batches:
                break
        return clips / (time.perf_counter() - t0)


def prepared_real(args, tmp: Path) -> Path | None:
    if args.prepared and Path(args.prepared, "manifest.csv").exists():
        return Path(args.prepared)
    if not BASKETBALL.exists():
        return None
    from fractalvid.storage.real import prepare_dataset

    out = Path(args.prepared) if args.prepared else tmp / "basketball5"
    prepare_dataset("generic", BASKETBALL, out, short_side=128, workers=os.cpu_count(), progress=False)
    return out


def train_step_timer(arch: str, args, clips: torch.Tensor, labels: torch.Tensor, tmp: Path):
    """Run.train_one_epoch, one step per call, on the given batch."""
    cfg = stream_cfg(args, 128, workers=0).replace(arch=arch)
    run = Run(cfg, tmp / f"run_{arch}", progress=False)
    run.train_set = Batch(clips, labels, repeat=1)
    run.steps_per_epoch = 1

    def step() -> float:
        return run.train_one_epoch()["clips_per_s"]
    return step, run.device


def bare_step_timer(arch: str, batch: int, frames: int, size: int, device: torch.device, classes: int = 500,
                    lr: float = 1e-4, weight_decay: float = 0.01, clip_grad: float = 5.0, dropout: float = 0.8,
                    shift_div: int = 8, channels_last: bool = False):
    """The model alone: forward, cross-entropy, backward, clipping and AdamW on a ready float batch."""
    torch.manual_seed(0)
    model = build_model(arch, classes, frames=frames, dropout=dropout, shift_div=shift_div).to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, frames, size, size, generator=g).to(device)
    y = torch.randint(0, classes, (batch,), generator=g).to(device)

    def step() -> float:
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            loss = F.cross_entropy(model(x).float(), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
        optimizer.step()
        loss.item()  # waits for the device
        return batch / (time.perf_counter() - start)
    return step


def recipe_step(params_path: Path, repeats: int, log) -> dict:
    """--recipe: the CPU default's full pre-training step against its bare network (see the module doc)."""
    import yaml

    from fractalvid.clips.generate import generate

    if torch.cuda.is_available():   # before any work: the figure is the CPU default's
        raise SystemExit("--recipe measures the CPU step: run it where no GPU is visible "
                         "(CUDA_VISIBLE_DEVICES= python benchmarks/train.py --recipe params.yaml)")
    params = yaml.safe_load(Path(params_path).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        classes = 8
        spec = DatasetSpec(classes=classes, per_class=16, val_per_class=0, seed=0,
                           options=FractalConfig.from_dict(params["generate"].get("options") or {}))
        generate(tmp / "clips", spec, workers=os.cpu_count(), progress=False)
        cfg = config_from_params(params["pretrain"], data=str(tmp / "clips"), val_split=None)
        run = Run(cfg, tmp / "run", progress=False)
        bare = dict(arch=cfg.arch, batch=cfg.batch_size, frames=cfg.frames, size=cfg.size, device=run.device,
                    classes=classes, lr=cfg.lr, weight_decay=cfg.weight_decay, clip_grad=cfg.clip_grad,
                    dropout=cfg.dropout)
        # "bare" in the recipe's own layout, beside the other layout and the trunk without its shift
        layout, other = ("channels_last", "default") if cfg.channels_last else ("default", "channels_last")
        timers = {"full": lambda: run.train_one_epoch()["clips_per_s"],
                  "bare": bare_step_timer(**bare, channels_last=cfg.channels_last),
                  "bare_no_shift": bare_step_timer(**bare, channels_last=cfg.channels_last, shift_div=0),
                  f"bare_{other}": bare_step_timer(**bare, channels_last=not cfg.channels_last)}
        steps = run.steps_per_epoch
        rates = {name: [] for name in timers}
        for r in range(repeats + 1):
            for name, timer in timers.items():
                # the full timer runs one epoch of `steps` steps; the bare ones as many single steps
                rate = timer() if name == "full" else statistics.fmean(timer() for _ in range(steps))
                log(f"round {r} {name}: {rate:.1f} clips/s")
                if r > 0:
                    rates[name].append(rate)
    med = {name: round(statistics.median(v), 1) for name, v in rates.items()}
    med[f"bare_{layout}"] = med["bare"]
    return {
        "benchmark": "train --recipe",
        "params": Path(params_path).name, "machine": machine(),
        "threads": torch.get_num_threads(), "cores": os.cpu_count(),
        "arch": cfg.arch, "size": cfg.size, "frames": cfg.frames, "batch": cfg.batch_size,
        "channels_last": cfg.channels_last,
        "in_memory": cfg.in_memory, "real_video": cfg.real_video, "steps_per_round": steps, "repeats": repeats,
        "recipe_step_clips_per_s": med["full"],
        "bare_step_clips_per_s": med["bare"],
        "full_step_vs_bare": round(med["bare"] / med["full"], 3),
        "within_1.25x": med["bare"] / med["full"] <= 1.25,
        "shift_cost": round(med["bare_no_shift"] / med["bare"], 3),
        "channels_last_vs_default": round(med["bare_channels_last"] / med["bare_default"], 3),
        "bare_no_shift_clips_per_s": med["bare_no_shift"],
        "bare_channels_last_clips_per_s": med["bare_channels_last"],
        "bare_default_layout_clips_per_s": med["bare_default"],
    }


def finetune_levers(params_path: Path, repeats: int, levers: list[str], log) -> dict:
    """--finetune: the CPU default's fine-tuning epoch (fold 0 of the built-in benchmark at params.yaml's
    settings, as ``make repro`` runs it: training steps, then the test part scored) against each lever, side by
    side. A lever is a change of the recipe (``eval_every=5``, ``compile=true``, ...); each runs in its own
    ``Run`` and the rounds interleave them, so all see the same machine load. ``finetune_clips_per_s`` is
    training clips per second of wall time with the evaluation the recipe makes (every ``eval_every``-th
    epoch's amortised over the epochs), ``first_epoch_s`` the first epoch's time (a compiled network compiles
    there)."""
    import yaml

    from fractalvid.config import parse_assignments
    from fractalvid.learning.data import make_dataset
    from fractalvid.learning.train import finetune_config

    if torch.cuda.is_available():
        raise SystemExit("--finetune measures the CPU step: run it where no GPU is visible")
    params = yaml.safe_load(Path(params_path).read_text())
    variants = {"today": {}, **{lever: parse_assignments(lever.split(), "--lever") for lever in levers}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        section = params["downstream"]["actions"]
        make_dataset("actions", section, tmp / "data" / "actions")
        cwd = os.getcwd()
        os.chdir(tmp)   # finetune_config names data/<set>, as the pipeline's runs do
        try:
            runs, first = {}, {}
            for name, changes in variants.items():
                cfg = finetune_config(params["finetune"], "actions", "scratch", 0, "x.pt", section).replace(
                    fold=0, **changes)
                runs[name] = Run(cfg, tmp / "runs" / name, progress=False)
            train_s = {name: [] for name in runs}
            eval_s = {name: [] for name in runs}
            clips = {}
            for r in range(repeats + 1):
                for name, run in runs.items():
                    start = time.perf_counter()
                    m = run.train_one_epoch()
                    mid = time.perf_counter()
                    run.evaluate()
                    end = time.perf_counter()
                    run.epoch += 1
                    clips[name] = m["clips_per_s"] * m["epoch_s"]
                    if r == 0:
                        first[name] = round(end - start, 2)
                    else:
                        train_s[name].append(mid - start)
                        eval_s[name].append(end - mid)
                    log(f"round {r} {name}: train {mid - start:.2f} s, test part {end - mid:.2f} s")
        finally:
            os.chdir(cwd)
    out = {}
    for name, run in runs.items():
        t, e = statistics.median(train_s[name]), statistics.median(eval_s[name])
        per_epoch = t + e / run.cfg.eval_every
        out[name] = {"changes": variants[name], "train_s": round(t, 3), "test_part_s": round(e, 3),
                     "epoch_s": round(per_epoch, 3), "finetune_clips_per_s": round(clips[name] / per_epoch, 1),
                     "first_epoch_s": first[name]}
    base = out["today"]["finetune_clips_per_s"]
    for name in out:
        out[name]["vs_today"] = round(out[name]["finetune_clips_per_s"] / base, 3)
    return {"benchmark": "train --finetune", "params": Path(params_path).name, "threads": torch.get_num_threads(),
            "cores": os.cpu_count(), "repeats": repeats, "train_clips_per_epoch": clips["today"],
            "levers": out, "machine": machine()}


def render_times(n: int) -> dict:
    out = {}
    for name, cfg in (("res128", FractalConfig(res=128)), ("res128_half_steps", FractalConfig(res=128, steps=3750))):
        spec = DatasetSpec(samples=n + 1, seed=3, options=cfg)
        make_clip(spec, n)  # compiles on first use
        start = time.perf_counter()
        for i in range(n):
            make_clip(spec, i)
        out[name] = round((time.perf_counter() - start) / n, 4)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=["tsm_r18", "tsm_r50"])
    parser.add_argument("--batch", type=int, default=16, help="clips per step (paper 32; params.yaml 16)")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--workers", type=int, default=2, help="loader processes (TrainConfig.workers)")
    parser.add_argument("--batches", type=int, default=6, help="batches per stream loader round")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--render-clips", type=int, default=4)
    parser.add_argument("--prepared", default=None, help="a prepared basketball5 folder to reuse (made if absent)")
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    parser.add_argument("--recipe", type=Path, default=None,
                        help="a params file: measure its CPU pre-training step against the bare network instead")
    parser.add_argument("--finetune", type=Path, default=None,
                        help="a params file: its fine-tuning epoch against each --lever instead")
    parser.add_argument("--lever", action="append", default=[], metavar="KEY=VALUE",
                        help="with --finetune: a recipe change to time beside today's (repeatable; several "
                             "settings space-separated), e.g. eval_every=5 or 'eval_every=5 compile=true'")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    if args.finetune is not None:
        if not args.finetune.is_file():
            raise SystemExit(f"--finetune {args.finetune} is not accepted: expected a params file such as params.yaml")
        result = finetune_levers(args.finetune, args.repeats, args.lever, log)
        if args.out:
            write_text(args.out, json.dumps(result, indent=1) + "\n")
        print(json.dumps(result) if args.json else json.dumps(result, indent=2))
        return
    if args.recipe is not None:
        if not args.recipe.is_file():
            raise SystemExit(f"--recipe {args.recipe} is not accepted: expected a params file such as params.yaml")
        result = recipe_step(args.recipe, args.repeats, log)
        if args.out:
            write_text(args.out, json.dumps(result, indent=1) + "\n")
        print(json.dumps(result) if args.json else json.dumps(result, indent=2))
        return

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        timers, notes, real_videos = {}, [], None
        start = time.perf_counter()
        real = prepared_real(args, tmp)
        prepare_s = time.perf_counter() - start
        if real is None:
            notes.append(f"{BASKETBALL} is absent: no real-data loader figure")
        else:
            cfg = recipe("finetune", data=str(real), val_split=None, arch="tsm_r18", frames=args.frames, stride=2,
                         size=args.size, batch_size=args.batch, workers=args.workers)
            train_set = build_data(cfg)[0]
            timers["loader:real"] = LoaderTimer(train_set, cfg, batches=len(train_set) // args.batch)
            real_videos = len(train_set)
            log(f"prepared {len(train_set)} train videos in {prepare_s:.1f} s")
        for res in (128, 256):
            cfg = stream_cfg(args, res)
            timers[f"loader:fractal_res{res}"] = LoaderTimer(build_data(cfg)[0], cfg, batches=args.batches)

        # the training input: one batch of real rendered fractal clips, as the stream loader gives them
        first = build_data(stream_cfg(args, 128, workers=0))[0]
        items = [first.item(p) for p in range(args.batch)]
        clips, labels = torch.stack([c for c, _ in items]), torch.tensor([label for _, label in items])
        device = None
        for arch in args.archs:
            timers[f"train:{arch}"], device = train_step_timer(arch, args, clips, labels, tmp)
            timers[f"bare:{arch}"] = bare_step_timer(arch, args.batch, args.frames, args.size, device)

        rates = {name: [] for name in timers}
        for r in range(args.repeats + 1):
            for name, timer in timers.items():
                rate = timer()
                log(f"round {r} {name}: {rate:.2f} clips/s")
                if r > 0:  # round 0 warms up (compilation, allocator, first worker start)
                    rates[name].append(rate)
        render = render_times(args.render_clips)

    med = {name: round(statistics.median(v), 2) for name, v in rates.items()}
    train = {a: med[f"train:{a}"] for a in args.archs}
    loaders = {n.split(":", 1)[1]: med[n] for n in med if n.startswith("loader:")}
    result = {
        "benchmark": "train",
        "device": str(device),
        "threads": torch.get_num_threads(),
        "cores": os.cpu_count(),
        "batch": args.batch, "frames": args.frames, "size": args.size, "workers": args.workers,
        "train_clips_per_s": train,
        "bare_step_clips_per_s": {a: med[f"bare:{a}"] for a in args.archs},
        "loader_clips_per_s": loaders,
        "first_batch_s": {n.split(":", 1)[1]: round(statistics.median(t.first_batch_s[1:]), 2)
                          for n, t in timers.items() if n.startswith("loader:")},
        "loader_vs_train": {n: {a: round(v / train[a], 2) for a in args.archs} for n, v in loaders.items()},
        "loader_exceeds_train": {n: {a: v > train[a] for a in args.archs} for n, v in loaders.items()},
        "render_s_per_clip": render,
        "real_train_videos": real_videos,
        "prepare_s": round(prepare_s, 1) if real_videos else None,
        "repeats": args.repeats,
        "notes": notes,
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
