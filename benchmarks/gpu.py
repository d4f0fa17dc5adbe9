"""GPU check: TSM-ResNet50 training speed on one NVIDIA GPU, from clips on disk and from the on-the-fly stream.

    python benchmarks/gpu.py            # at most about 5 minutes; prints one JSON line
    python benchmarks/gpu.py --write    # and writes it to benchmarks/results/gpu.json (fractalvid plan reads it)

The paper's pre-training step (SPEC section 4): TSM-ResNet50, 8 frames of 112 x 112, batch 32, mixed
precision, the real-video emulation and the standard augmentation on the GPU, AdamW. Measured, each after a
warm-up epoch, as ``Run.train_one_epoch`` does it (so loading, augmentation and the step are all included):

- ``disk_clips_per_s``: a supervised fractal set generated at 128 px into a temporary folder (every core),
  read by ``--workers`` loader processes (default: every core);
- ``stream_clips_per_s``: ``FractalStream``, clips rendered in ``--workers`` loader processes;
- ``step_clips_per_s``: the same step on a batch held on the GPU (no loading): the ceiling;
- ``peak_gpu_memory_gib`` over the whole check;
- ``data_bound``: per source, whether loading held training back (its rate below 0.9 of the ceiling).

It refuses to run, saying so, where torch sees no CUDA device.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=os.cpu_count(), help="loader processes (default: every core)")
    p.add_argument("--batches", type=int, default=20, help="timed batches per measurement (default 20)")
    p.add_argument("--clips", type=int, default=1280, help="clips of the generated set (default 1280)")
    p.add_argument("--write", action="store_true",
                   help="also write the result to benchmarks/results/gpu.json, where fractalvid plan reads it")
    args = p.parse_args()
    if not torch.cuda.is_available():
        sys.exit("benchmarks/gpu.py needs an NVIDIA GPU that torch can use (torch.cuda.is_available() is False "
                 "here); run it on a GPU machine")
    for name in ("workers", "batches", "clips"):
        if getattr(args, name) < 1:
            sys.exit(f"--{name}={getattr(args, name)} is not accepted: expected an integer >= 1")

    from fractalvid import DatasetSpec, FractalConfig, generate
    from fractalvid.learning.train import Run, recipe

    batch, start = 32, time.perf_counter()
    common = dict(arch="tsm_r50", size=112, frames=8, batch_size=batch, workers=args.workers, val_split=None,
                  epochs=2, warmup_epochs=0, epoch_clips=batch * args.batches, amp=True)
    spec = DatasetSpec(classes=64, per_class=max(1, args.clips // 64), val_per_class=0, seed=0,
                       options=FractalConfig(res=128))
    result = {"benchmark": "gpu", "device": torch.cuda.get_device_name(0), "cpus": os.cpu_count(),
              "workers": args.workers, "arch": "tsm_r50", "size": 112, "frames": 8, "batch": batch, "amp": True}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        generate(f"{tmp}/fractal", spec, workers=os.cpu_count(), progress=False)
        result["generate_s_per_clip"] = round((time.perf_counter() - t) / spec.n_clips, 4)
        rates = {}
        for name, cfg in (("disk", recipe("supervised", data=f"{tmp}/fractal", **common)),
                          ("stream", recipe("supervised", stream=spec.to_dict(), **common))):
            run = Run(cfg, f"{tmp}/run-{name}", progress=False)
            run.train_one_epoch()                     # warm-up: workers, cuDNN autotuning, class set-up
            run.epoch = 1
            rates[name] = run.train_one_epoch()["clips_per_s"]
        # the ceiling: one batch already on the GPU, through the same augmentation and step
        run = Run(recipe("supervised", data=f"{tmp}/fractal", **common), f"{tmp}/run-step", progress=False)
        clips, labels = next(iter(torch.utils.data.DataLoader(run.train_set, batch_size=batch)))
        clips, labels = clips.cuda(), labels.cuda()
        gen = torch.Generator().manual_seed(0)
        for i in range(args.batches + 3):
            if i == 3:
                torch.cuda.synchronize()
                t = time.perf_counter()
            with torch.autocast("cuda"):
                loss = torch.nn.functional.cross_entropy(run.net(run._inputs(clips, gen, 0.0)).float(), labels)
            run.optimizer.zero_grad(set_to_none=True)
            run.scaler.scale(loss).backward()
            run.scaler.step(run.optimizer)
            run.scaler.update()
        torch.cuda.synchronize()
        step = batch * args.batches / (time.perf_counter() - t)
    result.update({"disk_clips_per_s": round(rates["disk"], 1), "stream_clips_per_s": round(rates["stream"], 1),
                   "step_clips_per_s": round(step, 1),
                   "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
                   "data_bound": {k: v < 0.9 * step for k, v in rates.items()},
                   "wall_s": round(time.perf_counter() - start, 1)})
    print(json.dumps(result))
    if args.write:
        from fractalvid.atomic import write_text

        write_text(Path(__file__).resolve().parent / "results" / "gpu.json", json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
