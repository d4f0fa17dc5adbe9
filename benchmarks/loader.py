"""Can the data loader feed a GPU at the paper's scale? Clips per second per CPU core, beside a GPU's rate.

    python benchmarks/loader.py --json                          # one JSON line; writes benchmarks/results/loader.json
    python benchmarks/loader.py --gpu-clips-per-s 900 --repeats 7

Everything is measured in one process on one core (the process pinned to it with ``sched_setaffinity`` where
the platform has it, ``torch.set_num_threads(1)``): what one loader worker does, so a machine's loader rate is
about cores x the figure. Each figure is clips per second, the median of --repeats rounds after one warm-up
round; the rounds are interleaved (every measurement once per round), so all see the same machine load.

The clips: supervised fractal sets generated with ``fractalvid.generate`` at the paper's settings
(``FractalConfig``: 128 walkers x 7500 steps, 18-20 frames; H.264 crf 20, ``DatasetSpec``'s defaults) into a
temporary folder, --classes x --per-class clips each, stored at 256 px (the paper's frame size,
``res256``) and at 128 px (``res128``: the same generator rendering 128 px frames), so one run shows whether
storing clips at 128 px relieves decoding. --data FOLDER ... measures existing sets instead, each named by its
stored frame size.

decode_clips_per_s[res]: the pre-training loader's items as ``_loader`` (``fractalvid.learning.train``) gives
them from the train set ``build_data`` makes (``recipe("supervised")``, size 112), in this process
(``workers=0``): per clip the chunk's bytes read (from the page cache: a set this small stays in memory; at
100k clips, about 8 GB at 256 px, reads may come from disk, which is not measured), the 8 frames 2 apart
decoded from a random start (H.264 decodes every frame up to the last one needed), resized and centre-cropped
to ``load_size(112)`` = 128 px (``VideoClips(load_size=128)``; no resize for clips stored at 128), and
--batch items collated into a uint8 batch (B, 1, 8, 128, 128).

decode_emulate_clips_per_s[res]: the same, then on that batch, on the CPU, what ``Run._inputs`` does on the
training device: float in [0, 1], the real-video emulation (``RealVideoAugment``, the paper's
``AugmentConfig`` with the curriculum at its full ranges, ``epoch=inf``) and the standard augmentation
(``StandardAugment``: crop area 0.9-1 to 112, flip, RandAugment 2 x 7, blur p 0.5, ImageNet normalisation,
grey -> 3 channels), giving (B, 3, 8, 112, 112) float32. It works on whole batches, as a loader worker
would (each worker makes whole batches): the emulation takes its backgrounds from the other clips of the
batch, so it cannot run on single items. emulate_clips_per_s[res]: the emulation and augmentation alone,
timed inside the same rounds.

cores_per_gpu[measurement][res] = R / rate: the cores whose loaders together keep up with a GPU training at
R clips/s (--gpu-clips-per-s R). By default R is ``step_clips_per_s`` of ``benchmarks/results/gpu.json``
(``benchmarks/gpu.py`` on a GPU: TSM-ResNet50, 8 x 112 px, batch 32, mixed precision, augmentation on the
GPU, a batch held on the GPU) when that file exists, else none: the one published TSM-ResNet50 *training*
rate found (PaddleVideo's benchmark, 224 px on V100s) is at another frame size and precision, so it is not
used as R; ``gpu_source`` says which. cpu_per_wall: the
process's CPU time over the wall time of the timed rounds (about 1: one core was used).

The results go to --out (default ``benchmarks/results/loader.json``) with ``machine``
(``fractalvid.numerics.machine``, the cores and the load average at the start and the end).
"""
import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from fractalvid import DatasetSpec, FractalConfig, generate, open_dataset
from fractalvid.atomic import write_text
from fractalvid.learning.augment import AugmentConfig, RealVideoAugment
from fractalvid.learning.presets import StandardAugment, load_size
from fractalvid.learning.train import _loader, build_data, recipe
from fractalvid.numerics import machine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GPU_BENCH = HERE / "results" / "gpu.json"   # benchmarks/gpu.py on a GPU, when one was lent
NO_PUBLISHED = ("the one published TSM-ResNet50 training rate found, PaddleVideo's docs/benchmark.md (58.1 samples/s "
                "per V100 at 224 px, 8 segments, batch 16, loading included; 46.04 with the TSM authors' code), is "
                "at another frame size and precision, so none is used (docs/paper-scale.md scales it to 112 px)")


def rel(path: Path) -> str:
    path = Path(path).resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


def gpu_rate(given: float | None) -> tuple[float | None, str]:
    """R and where it comes from: --gpu-clips-per-s, else benchmarks/results/gpu.json, else none."""
    if given is not None:
        return given, "--gpu-clips-per-s"
    if GPU_BENCH.exists():
        bench = json.loads(GPU_BENCH.read_text())
        for key in ("step_clips_per_s", "clips_per_s"):   # gpu.py's ceiling; plan.py's name for it
            if bench.get(key):
                return float(bench[key]), (f"{rel(GPU_BENCH)}: {key} {bench[key]} on "
                                           f"{bench.get('device') or bench.get('gpu') or 'a GPU'}")
    return None, (f"none: {NO_PUBLISHED}; {rel(GPU_BENCH)} does not exist (python benchmarks/gpu.py on a GPU "
                  "measures it); pass --gpu-clips-per-s R")


def stored_size(folder: Path) -> int:
    """The short side of the frames a set stores (read from its first clip)."""
    frames = open_dataset(folder).read(0, [0])
    return int(min(frames.shape[1:3]))


def train_set(folder: Path, args):
    """The pre-training loader's train set over ``folder``, and its config (items in this process)."""
    cfg = recipe("supervised", data=str(folder), val_split=None, size=args.size, frames=8, stride=2,
                 batch_size=args.batch, workers=0)
    dataset = build_data(cfg)[0]
    if len(dataset) < args.batch:
        raise SystemExit(f"{folder} has {len(dataset)} training clips: --batch {args.batch} needs at least as many")
    return dataset, cfg


class Timer:
    """One measurement: --batches batches of the loader (a fresh loader per epoch, as training makes), with or
    without the emulation and augmentation; returns clips/s and keeps the augmentation's own rate."""

    def __init__(self, dataset, cfg, batches: int, emulate: bool):
        self.dataset, self.cfg, self.batches, self.emulate = dataset, cfg, batches, emulate
        self.epoch, self.emulate_rates = 0, []
        if emulate:
            self.real_video = RealVideoAugment(AugmentConfig.from_dict(dict(cfg.augment)))
            self.standard = StandardAugment(train=True, size=cfg.size, crop_scale=cfg.crop_scale,
                                            randaugment=cfg.randaugment)
            self.gen = torch.Generator().manual_seed(0)

    def inputs(self, clips: torch.Tensor) -> torch.Tensor:
        """``Run._inputs`` on the CPU (the paper's recipe: no grey, no tint), the curriculum at its full ranges."""
        x = clips.float().div_(255)
        x = self.real_video(x, self.gen, epoch=math.inf)
        return self.standard(x, self.gen)

    def __call__(self) -> float:
        clips, augment_s, done = 0, 0.0, 0
        start = time.perf_counter()
        while done < self.batches:
            for x, _ in _loader(self.dataset, self.cfg, self.epoch, train=True, world=1):
                if self.emulate:
                    t = time.perf_counter()
                    y = self.inputs(x)
                    augment_s += time.perf_counter() - t
                    assert y.shape[1:] == (3, 8, self.cfg.size, self.cfg.size), y.shape
                clips += len(x)
                done += 1
                if done == self.batches:
                    break
            self.epoch += 1
        if self.emulate:
            self.emulate_rates.append(clips / augment_s)
        return clips / (time.perf_counter() - start)


def pin_one_core(core: int | None) -> tuple[int | None, set | None]:
    """Pin this process to one core (Linux); returns (the core, the cores it had) or (None, None)."""
    if not hasattr(os, "sched_setaffinity"):
        return None, None
    before = os.sched_getaffinity(0)
    core = max(before) if core is None else core
    if core not in before:
        raise SystemExit(f"--core {core} is not accepted: expected one of the cores this process may use "
                         f"{sorted(before)}")
    os.sched_setaffinity(0, {core})
    return core, before


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--res", type=int, nargs="+", default=[256, 128],
                        help="frame sizes of the generated sets (default 256, the paper's, and 128)")
    parser.add_argument("--classes", type=int, default=4, help="classes of each generated set")
    parser.add_argument("--per-class", type=int, default=8, help="clips per class of each generated set")
    parser.add_argument("--data", type=Path, nargs="+", default=None,
                        help="existing sets (generated or prepared folders) to measure instead of generating")
    parser.add_argument("--size", type=int, default=112, help="training size (loaded at load_size(size))")
    parser.add_argument("--batch", type=int, default=32, help="clips per batch (the paper's 32)")
    parser.add_argument("--batches", type=int, default=4, help="batches per measurement and round")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="processes generating the sets")
    parser.add_argument("--core", type=int, default=None, help="the core to measure on (default: the last one)")
    parser.add_argument("--gpu-clips-per-s", type=float, default=None, metavar="R",
                        help="a GPU's training rate (default: benchmarks/results/gpu.json's, else none)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "loader.json", help="results file")
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    args = parser.parse_args()
    for name in ("classes", "per_class", "batch", "batches", "repeats", "workers"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')}={getattr(args, name)} is not accepted: expected an "
                             "integer >= 1")
    if args.batch < 2:
        raise SystemExit(f"--batch={args.batch} is not accepted: expected >= 2 (the emulation's backgrounds come "
                         "from the other clips of a batch)")
    if args.gpu_clips_per_s is not None and not args.gpu_clips_per_s > 0:
        raise SystemExit(f"--gpu-clips-per-s={args.gpu_clips_per_s} is not accepted: expected a rate > 0")
    if args.data is None and args.classes * args.per_class < args.batch:
        raise SystemExit(f"--classes x --per-class = {args.classes * args.per_class} clips: expected at least "
                         f"--batch={args.batch}")
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))
    gpu, gpu_source = gpu_rate(args.gpu_clips_per_s)
    load_start = [round(x, 2) for x in os.getloadavg()]

    with tempfile.TemporaryDirectory() as tmp:
        sets = {}
        if args.data is not None:
            for folder in args.data:
                if not (folder / "manifest.csv").exists():
                    raise SystemExit(f"--data {folder} is not accepted: expected a finished dataset folder "
                                     "(with manifest.csv)")
                name = f"res{stored_size(folder)}"
                if name in sets:
                    raise SystemExit(f"--data {folder} stores {name} as {sets[name]['folder']} does: expected "
                                     "sets of different frame sizes")
                sets[name] = {"folder": rel(folder), "path": folder}
        else:
            for res in args.res:
                spec = DatasetSpec(classes=args.classes, per_class=args.per_class, val_per_class=0, seed=0,
                                   options=FractalConfig(res=res))
                start = time.perf_counter()
                generate(Path(tmp) / f"res{res}", spec, workers=args.workers, progress=False)
                log(f"generated {spec.n_clips} clips at {res} px in {time.perf_counter() - start:.1f} s")
                sets[f"res{res}"] = {"folder": "generated", "path": Path(tmp) / f"res{res}"}

        timers = {}
        for name, s in sets.items():
            dataset, cfg = train_set(s["path"], args)
            rows = dataset.source.rows
            s.update(clips=len(dataset), bytes_per_clip=round(sum(r["nbytes"] for r in rows) / len(rows)),
                     frames_per_clip=round(statistics.fmean(r["frames"] for r in rows), 1))
            timers[f"decode:{name}"] = Timer(dataset, cfg, args.batches, emulate=False)
            timers[f"decode_emulate:{name}"] = Timer(dataset, cfg, args.batches, emulate=True)

        threads_before = torch.get_num_threads()
        torch.set_num_threads(1)
        core, cores_before = pin_one_core(args.core)
        try:
            rates = {name: [] for name in timers}
            wall = cpu = 0.0
            for r in range(args.repeats + 1):
                for name, timer in timers.items():
                    w0, c0 = time.perf_counter(), time.process_time()
                    rate = timer()
                    log(f"round {r} {name}: {rate:.2f} clips/s")
                    if r > 0:   # round 0 warms up (allocator, torchvision, page cache)
                        rates[name].append(rate)
                        wall += time.perf_counter() - w0
                        cpu += time.process_time() - c0
        finally:
            if cores_before is not None:
                os.sched_setaffinity(0, cores_before)
            torch.set_num_threads(threads_before)

    med = {name: round(statistics.median(v), 2) for name, v in rates.items()}
    names = list(sets)
    decode = {n: med[f"decode:{n}"] for n in names}
    both = {n: med[f"decode_emulate:{n}"] for n in names}
    emulate = {n: round(statistics.median(timers[f"decode_emulate:{n}"].emulate_rates[1:]), 2) for n in names}
    result = {
        "benchmark": "loader",
        "sets": {n: {k: v for k, v in s.items() if k != "path"} for n, s in sets.items()},
        "size": args.size, "load_size": load_size(args.size), "frames": 8, "stride": 2,
        "batch": args.batch, "batches": args.batches, "repeats": args.repeats,
        "threads": 1, "core": core, "cpu_per_wall": round(cpu / wall, 3),
        "decode_clips_per_s": decode,
        "decode_emulate_clips_per_s": both,
        "emulate_clips_per_s": emulate,
        "gpu_clips_per_s": gpu,
        "gpu_source": gpu_source,
        "cores_per_gpu": None if gpu is None else {
            "decode": {n: round(gpu / v, 2) for n, v in decode.items()},
            "decode_emulate": {n: round(gpu / v, 2) for n, v in both.items()}},
        "machine": {**machine(), "threads": 1, "cpus": os.cpu_count(), "load_average_start": load_start,
                    "load_average_end": [round(x, 2) for x in os.getloadavg()]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
