"""Generator speed at the paper's settings, beside the chaos-game speed limit, in one job.

    python benchmarks/generate.py --json          # one JSON line
    python benchmarks/generate.py --clips 200     # a longer, steadier run
    python benchmarks/generate.py --clips 100 --write   # and write benchmarks/results/generate.json (fractalvid plan reads it)

s_per_clip: wall time of `generate` over --clips unsupervised clips at paper
settings with every core, redraws, framing, tone map and H.264 storage
included (s_per_clip_supervised: the same for two classes of --clips / 2
instances, class draws and instance redraws included); points_per_s: the kept clips' chaos-game points over that wall
time. s_per_clip_perlin, s_per_clip_dead_leaves, s_per_clip_octopus: the same as
s_per_clip for the comparison families at their default (paper-like) settings,
256 px (mostly H.264 encoding: their frames render in about 0.01 s).
points_per_s_per_core: chaos-game points (walkers x steps x frames)
per second of one process rendering clips end to end (render_clip), divided
by ../shared/bench/chaos_limit.py's rate measured in the same job:
ratio_to_limit.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fractalvid import DatasetSpec, FractalConfig, generate, open_dataset
from fractalvid.atomic import write_text
from fractalvid.numerics import machine
from fractalvid.clips.generate import FAMILIES
from fractalvid.clips.ifs import sample_clip
from fractalvid.clips.render import render_clip

LIMIT = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "chaos_limit.py"


def limit_rate() -> float | None:
    if not LIMIT.exists():
        return None
    out = subprocess.run([sys.executable, str(LIMIT)], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["points_per_s_per_core"]


def renderer_rate(cfg: FractalConfig, n_clips: int) -> float:
    """Points per second of one process rendering whole clips (draws degenerate or not)."""
    render_clip(sample_clip(np.random.default_rng(10**6), cfg), cfg, np.random.default_rng(0))  # compile
    points, seconds = 0, 0.0
    for i in range(n_clips):
        rng = np.random.default_rng([7, i])
        params = sample_clip(rng, cfg)
        start = time.perf_counter()
        render_clip(params, cfg, rng)
        seconds += time.perf_counter() - start
        points += params.n_frames * cfg.walkers * cfg.steps
    return points / seconds


def timed_generate(spec: DatasetSpec, args) -> tuple[float, dict, int]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        card = generate(Path(tmp) / "bench", spec, workers=args.workers, progress=not args.json)
        wall = time.perf_counter() - start
        frames = sum(r["frames"] for r in open_dataset(Path(tmp) / "bench").rows)
    return wall, card, frames


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=96, help="clips generated for s_per_clip")
    parser.add_argument("--render-clips", type=int, default=40, help="clips rendered for the point rate")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    parser.add_argument("--write", action="store_true",
                        help="also write the result to benchmarks/results/generate.json, where fractalvid plan reads it")
    args = parser.parse_args()
    cfg = FractalConfig()
    limit = limit_rate()
    per_core = renderer_rate(cfg, args.render_clips)
    paper_spec = DatasetSpec(samples=args.clips, seed=1, chunk_size=max(1, args.clips // 4), options=cfg)
    wall, card, frames = timed_generate(paper_spec, args)
    # supervised at paper scale per class (200 clips), so class set-up weighs as it does at 100k clips
    per_class = max(args.clips // 2, 2)
    wall_sup, _, _ = timed_generate(DatasetSpec(classes=2, per_class=per_class, val_per_class=1, seed=1,
                                                chunk_size=per_class, options=cfg), args)
    other = {}
    for family in FAMILIES:
        if family == "actions":  # the downstream benchmark is labelled only: its 10 actions, clips spread evenly
            per = -(-args.clips // 10)
            spec = DatasetSpec(family=family, classes=10, per_class=per, val_per_class=0, seed=1,
                               chunk_size=max(1, args.clips // 4))
            other["s_per_clip_actions"] = round(timed_generate(spec, args)[0] / (10 * per), 4)
        elif family != "fractal":
            spec = DatasetSpec(family=family, samples=args.clips, seed=1, chunk_size=max(1, args.clips // 4))
            other[f"s_per_clip_{family}"] = round(timed_generate(spec, args)[0] / args.clips, 4)
    result = {
        "benchmark": "generate",
        "s_per_clip": round(wall / args.clips, 4),
        "s_per_clip_supervised": round(wall_sup / (2 * per_class), 4),
        **other,
        "points_per_s": round(frames * cfg.walkers * cfg.steps / wall),
        "points_per_s_per_core": round(per_core),
        "limit_points_per_s_per_core": limit,
        "ratio_to_limit": round(per_core / limit, 3) if limit else None,
        "cores": args.workers,
        "bytes_per_clip": card["bytes_per_clip"],
        "rejected_per_clip": round(sum(card["rejected_draws"].values()) / args.clips, 3),
        "settings": settings(cfg, paper_spec, args.clips),
        "machine": machine(),
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    if args.write:
        write_text(Path(__file__).resolve().parent / "results" / "generate.json", json.dumps(result, indent=1) + "\n")


def settings(cfg: FractalConfig, spec: DatasetSpec, clips: int) -> str:
    """What was generated, read from the settings themselves (the clips' size, the chaos game's work, the
    storage's encoding), so the results file cannot say other than what ran."""
    return (f"the paper's clips: {cfg.res} px, {cfg.walkers} walkers x {cfg.steps} steps, H.264 crf {spec.crf} "
            f"preset {spec.preset} (benchmarks/generate.py --clips {clips})")


if __name__ == "__main__":
    main()
