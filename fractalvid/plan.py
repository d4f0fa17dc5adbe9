"""A plan before a long run: what a params file will make and cost, and whether this machine has what it needs.

    fractalvid plan params-paper.yaml     # the estimates, then each missing prerequisite; exit 1 if one is missing

The estimates come from the params file and from throughputs the benchmarks measured and committed
(``benchmarks/results/*.json``); each figure names its source, and a figure no benchmark measured is said to
be unknown rather than guessed. The prerequisites: the real sets unpacked where the params file says, the
Kinetics checkpoint where it is asked for, a CUDA GPU for a network meant for one, and free disk for the
generated clips. ``make paper`` runs the plan first and stops before generating anything if one is missing.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import yaml

from .checks import check
from .clips.generate import DatasetSpec
from .learning.splits import PROTOCOL_KEYS, set_protocol
from .learning.train import INITS, config_from_params, finetune_config
from .storage.real.listing import DATASETS, list_videos

GENERATE_BENCH = "benchmarks/results/generate.json"   # benchmarks/generate.py at the paper's clip settings
GPU_BENCH = "benchmarks/results/gpu.json"             # benchmarks/gpu.py on a GPU, when one was lent
CPU_ARCHS = ("tsm_r18_w16", "tsm_r18_w32")            # networks meant for a CPU; any other wants a GPU
DISK_MARGIN = 1.5                                      # free disk asked for: the clips' estimate times this


# the keys of the sections no config class reads whole (the others are DatasetSpec's and TrainConfig's, which
# refuse any other): a real set's section (fractalvid.learning.data.make_dataset), finetune's lists that the
# DVC matrix expands and its Kinetics recipe (fractalvid.learning.train.finetune_config), and the notebooks'
REAL_SET_KEYS = ("source", "root", "split", "short_side", "square", "classes", *PROTOCOL_KEYS)
FINETUNE_KEYS = ("datasets", "pretrained", "seeds", "kinetics", "scratch", "recipe")
KINETICS_KEYS = ("checkpoint", "lr", "weight_decay")
NOTEBOOK_KEYS = {"figures": ("gallery_clips", "gallery_res", "label"),   # notebooks/04_figures.ipynb
                 "tour": ("res", "steps", "seed")}                       # notebooks/00_tour.ipynb


def _known(section: dict, name: str, keys) -> None:
    unknown = sorted(set(section) - set(keys))
    check(not unknown, name, unknown, f"only the keys {', '.join(keys)}")


def check_params(params: dict) -> None:
    """Raise ValueError, naming the key, unless every key of every section of ``params`` is one the pipeline
    reads and its value is accepted: a mistyped key would otherwise be left unread and its default used, which
    a long run shows only at its end."""
    check(isinstance(params, dict), "params", type(params).__name__, "a mapping of sections")
    DatasetSpec.from_params(params["generate"])
    for name, section in params.get("downstream", {}).items():
        set_protocol(name, section)
        if "source" in section:
            _known(section, f"downstream.{name}", REAL_SET_KEYS)
            check(section["source"] in DATASETS, f"downstream.{name}.source", section["source"],
                  f"one of {', '.join(DATASETS)}")
        else:
            DatasetSpec.from_params({k: v for k, v in section.items() if k not in PROTOCOL_KEYS})
    config_from_params(params["pretrain"])
    finetune = params["finetune"]
    _known(finetune, "finetune", FINETUNE_KEYS)
    _known(finetune.get("kinetics") or {}, "finetune.kinetics", KINETICS_KEYS)
    config_from_params(finetune, task="finetune", data=".")   # the data folder is each run's own
    for name in finetune["datasets"]:
        check(name in params.get("downstream", {}), "finetune.datasets", name, "a section of downstream")
        finetune_config(finetune, name, "scratch", 0, "x.pt", params["downstream"][name])   # finetune.scratch too
    for init in finetune.get("pretrained", []):
        check(init in INITS[1:], "finetune.pretrained", init, f"any of {', '.join(INITS[1:])}")
    for name, keys in NOTEBOOK_KEYS.items():
        if name in params:
            _known(params[name], name, keys)


def _load(root: Path, name: str) -> dict | None:
    path = root / name
    return json.loads(path.read_text()) if path.exists() else None


def estimate(params: dict, root: Path) -> dict:
    """The run's size: clips, their disk, generation core-hours, training clip-passes, GPU-hours (each with
    its source, or None where nothing measured it)."""
    g, pre = params["generate"], params["pretrain"]
    supervised = g.get("classes") is not None
    clips = g["classes"] * g["per_class"] if supervised else g["samples"]
    train_clips = g["classes"] * (g["per_class"] - g["val_per_class"]) if supervised else clips
    bench = _load(root, GENERATE_BENCH)
    out = {"clips": clips, "pretrain_clip_passes": pre["epochs"] * train_clips * len(pre.get("seeds") or [0]),
           "pretrain_draws": len(pre.get("seeds") or [0])}
    res = DatasetSpec.from_params(g).res   # the frame size, wherever the family keeps it: options
    if bench and res == 256:   # the benchmark's clips are the paper's (256 px)
        per_clip_s = bench["s_per_clip_supervised" if supervised else "s_per_clip"]
        out["disk_gb"] = round(clips * bench["bytes_per_clip"] / 1e9, 1)
        out["generation_core_hours"] = round(clips * per_clip_s * bench["cores"] / 3600, 1)
        out["generation_source"] = (f"{GENERATE_BENCH}: {per_clip_s} s per clip on {bench['cores']} cores, "
                                    f"{bench['bytes_per_clip']:,} bytes per clip ({bench['machine']['cpu']})")
    else:
        out["disk_gb"] = out["generation_core_hours"] = None
        out["generation_source"] = (f"not measured at {res} px: {GENERATE_BENCH} holds the paper's 256 px clips "
                                    "(python benchmarks/generate.py measures them)")
    gpu = _load(root, GPU_BENCH)
    if gpu and gpu.get("disk_clips_per_s"):   # training from clips on disk, as the pipeline pre-trains
        rate = gpu["disk_clips_per_s"]
        out["gpu_hours"] = round(out["pretrain_clip_passes"] / rate / 3600, 1)
        out["gpu_source"] = (f"{GPU_BENCH}: {rate} clips/s pre-training TSM-ResNet50 from disk on one "
                             f"{gpu.get('device', 'GPU')} with {gpu.get('workers')} loader workers "
                             f"(the step alone: {gpu.get('step_clips_per_s')} clips/s)")
    else:
        out["gpu_hours"] = None
        out["gpu_source"] = (f"no GPU throughput is measured here: {GPU_BENCH} is written by python "
                             "benchmarks/gpu.py on the GPU; no published figure is quoted in its place")
    return out


def missing_prerequisites(params: dict, root: Path, estimates: dict, cuda: bool | None = None) -> list[str]:
    """Each prerequisite this machine lacks, with how to get it."""
    missing = []
    for name in params["finetune"]["datasets"]:
        section = params["downstream"].get(name, {})
        if "source" not in section:
            continue
        where = (f"unpack its official archive into {section['root']} (docs/data.md says where each set comes "
                 "from and the layout expected)")
        if not (root / section["root"]).is_dir():
            missing.append(f"the real set {name}: {where}")
            continue
        try:   # the layout: the set's own lister reads its folders and list files (no video is decoded)
            videos, _ = list_videos(section["source"], root / section["root"], section.get("split", 1))
        except (ValueError, FileNotFoundError, OSError) as e:
            missing.append(f"the real set {name}: {section['root']} is not in the official layout ({e}); {where}")
            continue
        if not videos:
            missing.append(f"the real set {name}: {section['root']} lists no videos; {where}")
    if "kinetics" in params["finetune"].get("pretrained", []):
        checkpoint = (params["finetune"].get("kinetics") or {}).get("checkpoint")
        if not checkpoint or not (root / checkpoint).is_file():
            missing.append(f"the Kinetics-400 checkpoint: finetune.kinetics.checkpoint={checkpoint!r} is not a file "
                           "(the public TSM Kinetics-400 ResNet-50 .pth; docs/paper-scale.md)")
    if params["pretrain"]["arch"] not in CPU_ARCHS:
        if cuda is None:
            import torch   # only here: the plan's other checks need no torch

            cuda = torch.cuda.is_available()
        if not cuda:
            missing.append(f"a CUDA GPU: pretrain.arch={params['pretrain']['arch']} is meant for one (torch sees "
                           "none); run on a GPU machine with the same requirements.lock")
    if estimates.get("disk_gb"):
        out = root / params["generate"]["out"]
        where = next(p for p in (out, *out.parents) if p.exists())
        free = shutil.disk_usage(where).free / 1e9
        if free < DISK_MARGIN * estimates["disk_gb"]:
            missing.append(f"free disk: {free:.0f} GB free at {where}, {DISK_MARGIN * estimates['disk_gb']:.0f} GB "
                           f"wanted ({estimates['disk_gb']} GB of clips, times {DISK_MARGIN})")
    return missing


def report(path: str | os.PathLike, root: str | os.PathLike = ".", cuda: bool | None = None) -> tuple[str, list]:
    """(the plan as text, the missing prerequisites) for params file ``path`` in the project at ``root``."""
    path, root = Path(path), Path(root)
    check(path.is_file(), "params", str(path), "a params file, e.g. params-paper.yaml")
    params = yaml.safe_load(path.read_text())
    check_params(params)   # a mistyped key stops the plan, and with it make paper, before anything runs
    e = estimate(params, root)
    missing = missing_prerequisites(params, root, e, cuda)
    lines = [f"plan of {path}:",
             f"  clips: {e['clips']:,} ({params['generate']['family']}), on disk: "
             + (f"{e['disk_gb']} GB" if e["disk_gb"] is not None else "unknown"),
             "  generation: " + (f"{e['generation_core_hours']} core-hours" if e["generation_core_hours"] is not None
                                 else "unknown") + f" ({e['generation_source']})",
             f"  pre-training: {e['pretrain_clip_passes']:,} clip-passes over {e['pretrain_draws']} draw(s)",
             "  GPU-hours for pre-training: " + (str(e["gpu_hours"]) if e["gpu_hours"] is not None else "unknown")
             + f" ({e['gpu_source']})",
             "  fine-tuning: " + ", ".join(params["finetune"]["datasets"]) + f", {len(params['finetune']['seeds'])} "
             f"seeds x {1 + len(params['finetune'].get('pretrained', []))} starts"]
    unused = [f"downstream.{name}" for name in params.get("downstream", {}) if name not in params["finetune"]["datasets"]]
    if unused:   # a section the run reads nothing of: said, so that a set meant to be fine-tuned on is not missed
        lines.append(f"  not used by this run: {', '.join(unused)} (not in finetune.datasets)")
    lines += ["missing before this run can start:"] + [f"  - {m}" for m in missing] if missing else \
        ["every prerequisite is here"]
    return "\n".join(lines), missing
