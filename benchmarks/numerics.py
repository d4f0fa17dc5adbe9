"""What the pinned numerics cost: training and rendering speed with the instruction sets capped at AVX2 (the
default, ``FRACTALVID_NUMERICS=pinned``) beside each library's own choice (``native``), in one job.

    python benchmarks/numerics.py --json      # one JSON line
    python benchmarks/numerics.py --rounds 5  # steadier

Each library reads its setting once per process, so every measurement is a fresh process; the rounds
alternate pinned and native, so both see the same machine load, and each figure is the median over rounds.

train_clips_per_s[mode]: params.yaml's pre-training recipe (``pretrain``: its ``threads`` and its layout,
``channels_last``) for --epochs epochs on a small set of params.yaml's fractal clips (--classes x
generate.per_class), held in memory: the clips per second of the training steps after the first epoch;
``native_plain`` is the native mode in the plain (not channels-last) layout. render_s_per_clip[mode]:
``make_clip`` of the paper's FractalConfig at 128 px over --render-clips clips (the kernels reassociate sums
only in native mode). pinned_vs_native: native rate / pinned rate in the same layout (above 1: pinning costs
that factor); pinned_vs_native_plain: the same against the native plain layout. same_weights: whether pinned
and native trained the same weights (on an AVX2 machine they may; on an AVX-512 one they do not).
"""
import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from fractalvid.numerics import PINNED_ISA

ROOT = Path(__file__).resolve().parents[1]
MODES = ("pinned", "native", "native_plain")   # native_plain: native, channels_last off


def measure(data: Path, out: Path, epochs: int, render_clips: int, plain: bool = False) -> dict:
    """In this process, under the mode its environment sets: the training rate, the render time, the weights."""
    import numpy as np
    import torch

    from fractalvid import DatasetSpec, FractalConfig, make_clip
    from fractalvid.learning.train import config_from_params, train

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    cfg = config_from_params(params["pretrain"], data=str(data), epochs=epochs, warmup_epochs=1, val_split=None,
                             **({"channels_last": False} if plain else {}))
    train(cfg, out, progress=False)
    model = torch.load(out / "model.pt", map_location="cpu", weights_only=False)
    rates = [row["clips_per_s"] for row in model["history"][1:]]
    spec = DatasetSpec(samples=render_clips, seed=3, options=FractalConfig(res=128))
    make_clip(spec, 0)   # compile (or load) the kernels first
    start = time.perf_counter()
    for i in range(render_clips):
        make_clip(spec, i)
    digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in model["encoder"].values())).hexdigest()
    return {"train_clips_per_s": float(np.median(rates)), "render_s_per_clip": (time.perf_counter() - start) / render_clips,
            "weights": digest, "capability": torch.backends.cpu.get_cpu_capability()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="training epochs per measurement (the first is not timed)")
    parser.add_argument("--classes", type=int, default=20, help="classes of the small pre-training set")
    parser.add_argument("--render-clips", type=int, default=6)
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    parser.add_argument("--measure", nargs=2, type=Path, metavar=("DATA", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:   # one measurement, in a process of its own
        print(json.dumps(measure(*args.measure, args.epochs, args.render_clips, args.plain)))
        return
    from fractalvid import DatasetSpec, generate

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    section = {k: v for k, v in params["generate"].items() if k not in ("out", "workers")}
    spec = DatasetSpec.from_dict({**section, "classes": args.classes})
    results = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "clips"
        generate(data, spec, progress=False)
        for r in range(args.rounds):
            for mode in MODES:
                # this process pinned its own environment on import: each child starts from one without it
                env = {**{k: v for k, v in os.environ.items() if k not in ("FRACTALVID_NUMERICS", *PINNED_ISA)},
                       "FRACTALVID_NUMERICS": mode.split("_")[0]}
                out = subprocess.run([sys.executable, __file__, "--measure", str(data), str(Path(tmp) / f"{mode}{r}"),
                                      "--epochs", str(args.epochs), "--render-clips", str(args.render_clips),
                                      *(["--plain"] if mode == "native_plain" else [])],
                                     env=env, capture_output=True, text=True, check=True)
                results[mode].append(json.loads(out.stdout.splitlines()[-1]))
    train = {m: statistics.median(x["train_clips_per_s"] for x in results[m]) for m in MODES}
    render = {m: statistics.median(x["render_s_per_clip"] for x in results[m]) for m in MODES}
    summary = {"train_clips_per_s": {m: round(v, 1) for m, v in train.items()},
               "render_s_per_clip": {m: round(v, 4) for m, v in render.items()},
               "pinned_vs_native": {"train": round(train["native"] / train["pinned"], 3),
                                    "render": round(render["pinned"] / render["native"], 3)},
               "pinned_vs_native_plain": {"train": round(train["native_plain"] / train["pinned"], 3)},
               "channels_last": params["pretrain"].get("channels_last", False),
               "capability": {m: results[m][0]["capability"] for m in MODES},
               "same_weights": results["pinned"][0]["weights"] == results["native"][0]["weights"],
               "rounds": args.rounds, "clips": spec.n_clips, "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps(summary))
    else:
        for k, v in summary.items():
            print(f"{k:18s} {v}")


if __name__ == "__main__":
    main()
