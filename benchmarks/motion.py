"""How much moves, fractal clips against action clips: the motion the pretext shows beside the motion the actions have.

    python benchmarks/motion.py [--clips 200]     # writes benchmarks/results/motion.json

For each set, per pair of frames read ``gap`` frames apart (the networks read pre-training clips 2 apart,
or 1 with ``pretrain.stride: 1``, and fine-tuning clips 2 apart): the *motion energy*, the mean absolute
change of a pixel (0..1 of full scale), and the *moving share*, the share of pixels that change by more than
16 of 255. Both are also given per lit pixel (divided by the share of pixels above 16 in the first frame), so
that a small fractal on black and an actor filling a lit frame compare as shapes. Grey levels (colour clips
are averaged over channels); every clip of the set, or the first ``--clips`` of each.

The sets are the pipeline's (``data/``): the fractal pre-training set, the built-in actions, and Weizmann when a
run made it (e.g. ``dvc exp run -S 'finetune.datasets=[actions,weizmann]'``, docs/data.md).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from fractalvid.atomic import write_text
from fractalvid.numerics import machine
from fractalvid.storage.store import open_dataset

HERE = Path(__file__).resolve().parent
LIT = 16   # of 255: a pixel brighter than this is lit, a change larger than this is motion


def clip_motion(frames: np.ndarray, gap: int) -> dict:
    """Motion statistics of one clip (T, H, W[, C]) uint8 at one frame gap."""
    grey = frames.astype(np.float32).mean(-1) if frames.ndim == 4 else frames.astype(np.float32)
    diff = np.abs(grey[gap:] - grey[:-gap])
    lit = max(float((grey[0] > LIT).mean()), 1e-3)
    energy, moving = float(diff.mean() / 255), float((diff > LIT).mean())
    return {"energy": energy, "moving": moving, "lit": lit, "energy_per_lit": energy / lit,
            "moving_per_lit": moving / lit}


def set_motion(folder: Path, clips: int, gaps=(1, 2)) -> dict:
    """Each statistic's mean over the set's first ``clips`` clips (train split), per gap."""
    ds = open_dataset(folder)
    n = min(clips, len(ds))
    out = {"folder": folder.relative_to(HERE.parent).as_posix(), "clips": n}
    for gap in gaps:
        rows = [clip_motion(ds.read(i), gap) for i in range(n)]
        out[f"gap_{gap}"] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=200, help="clips per set (default 200)")
    p.add_argument("--data", type=Path, default=HERE.parent / "data", help="the pipeline's data folder")
    p.add_argument("--out", type=Path, default=HERE / "results" / "motion.json")
    a = p.parse_args(argv)
    sets = {name: a.data / folder for name, folder in (("pretrain", "fractal"), ("actions", "actions"),
                                                       ("weizmann", "weizmann"))}
    missing = [str(f) for f in sets.values() if not (f / "manifest.csv").exists()]
    if missing:
        raise SystemExit(f"not made: {missing}: run the pipeline with Weizmann in finetune.datasets first "
                         "(docs/data.md)")
    result = {"benchmark": "motion", "lit_threshold": LIT, "machine": machine(),
              "sets": {name: set_motion(folder, a.clips) for name, folder in sets.items()}}
    write_text(a.out, json.dumps(result, indent=1) + "\n")
    for name, s in result["sets"].items():
        print(name, {g: {k: round(v, 4) for k, v in s[g].items()} for g in ("gap_1", "gap_2")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
