from pathlib import Path

import av
import numpy as np
import pytest

from fractalvid import DatasetSpec, FractalConfig

# Small but real: every stage of the generator runs, at a fraction of the paper's cost.
TINY = dict(res=64, walkers=32, steps=500, discard=50, framing_res=64, framing_steps=400)


@pytest.fixture
def tiny_cfg():
    return FractalConfig(**TINY)


@pytest.fixture
def tiny_spec(tiny_cfg):
    return DatasetSpec(classes=3, per_class=4, val_per_class=1, seed=5, chunk_size=5, options=tiny_cfg)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ------------------------------------------------------------------ little real videos

def pattern(n: int, h: int = 32, w: int = 40, seed: int = 0) -> np.ndarray:
    """A smooth moving colour pattern (T, H, W, 3): compresses well, so decoding errors stay small."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    ph = np.random.default_rng(seed).uniform(0, 6, 3)
    frames = [np.stack([128 + 90 * np.sin(x / 7 + t / 2 + ph[0]), 128 + 80 * np.cos(y / 6 - t / 3 + ph[1]),
                        128 + 60 * np.sin((x + y) / 9 + ph[2])], -1) for t in range(n)]
    return np.stack(frames).astype(np.uint8)


def write_video(path: Path, n: int = 12, h: int = 32, w: int = 40, seed: int = 0, faststart: bool = False,
                codec: str | None = None, frames: np.ndarray | None = None) -> np.ndarray:
    """A real little video file of ``frames`` (default: the pattern), returned: MPEG-4 part 2 in .avi, H.264
    in other containers (moov first with faststart), or ``codec`` ("png": lossless rgb24)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = pattern(n, h, w, seed) if frames is None else frames
    codec = codec or ("mpeg4" if path.suffix == ".avi" else "libx264")
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as c:
        s = c.add_stream(codec, rate=25)
        s.height, s.width = frames.shape[1:3]
        s.pix_fmt = "rgb24" if codec == "png" else "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return frames


def project_copy(dest: Path) -> dict:
    """The project's files (tracked and not ignored) copied into ``dest`` as a fresh git repository with one
    commit, as a clone would be; returns an environment whose PATH starts with this Python's bin folder (dvc,
    papermill, fractalvid)."""
    import os
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=root,
                           capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (root / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / f, dest / f)
    git = lambda *a: subprocess.run(["git", *a], cwd=dest, check=True, capture_output=True)
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm", "the project")
    return {**os.environ, "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ['PATH']}"}


# ------------------------------------------------------------------ the public TSM Kinetics-400 checkpoint, faked

TSM_KINETICS_FILE = "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e50.pth"


def tsm_kinetics_state_dict(with_net: bool = True, seed: int = 0) -> dict:
    """Keys as the public TSM code names them, random tensors: torchvision ResNet-50 names under
    "module.base_model.", the shifted conv1 of every block wrapped as ".net", the torchvision fc dropped, the
    400-class head as "module.new_fc"."""
    import re

    import torch
    import torchvision

    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k, v in torchvision.models.resnet50(weights=None).state_dict().items():
        if k.startswith("fc."):
            continue
        if with_net:
            k = re.sub(r"^(layer\d\.\d+\.conv1)\.", r"\1.net.", k)
        sd["module.base_model." + k] = (torch.randint(0, 1000, v.shape, generator=g) if v.dtype == torch.int64
                                         else torch.rand(v.shape, generator=g))
    sd["module.new_fc.weight"] = torch.randn(400, 2048, generator=g)
    sd["module.new_fc.bias"] = torch.randn(400, generator=g)
    return sd


def write_tsm_kinetics_checkpoint(folder: Path, sd: dict) -> Path:
    """``sd`` saved in ``folder`` under the published file's name, in the dict main.py of the TSM code saves."""
    import torch

    path = Path(folder) / TSM_KINETICS_FILE
    torch.save({"epoch": 50, "arch": "resnet50", "state_dict": sd, "best_prec1": 74.1,
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.01, "params": [0, 1], "name": "bn"}]}}, path)
    return path
