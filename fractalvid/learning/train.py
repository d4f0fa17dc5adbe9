"""Training: supervised and self-supervised (MoCo, SimCLR, BYOL) pre-training, fine-tuning, evaluation.

The shape follows torchvision's ``references/video_classification``: build the
data, the model and the optimiser from one :class:`TrainConfig`, then loop
``train_one_epoch`` / ``evaluate``, writing a checkpoint after every epoch.

A run lives in one folder::

    last.pt, previous.pt   the two newest checkpoints (model, optimiser, scheduler,
                           scaler, epoch, history, config), while the run trains; a run
                           restarted in the same folder resumes from ``last.pt``
                           (``previous.pt`` if that one is corrupt; from scratch,
                           saying so, if neither is readable)
    best.pt                with ``select_split`` (early stopping), while the run trains:
                           the weights of the epoch that scored best on that split
    model.pt               the final weights (with ``select_split``: the best epoch's),
                           with the arch, class names, config and history; a finished
                           run keeps it alone (no optimiser state: nothing is left to
                           resume), and restarted it only reports
    history.csv            one row per epoch: losses, top-1/top-5, lr, clips/s (with
                           ``select_split``: its loss and top-1 instead of val_split's)
    metrics.json           the last epoch's numbers (what ``dvc metrics`` shows), and
                           train_minutes: the training steps' wall time over all epochs
    confusion.csv          the last evaluation's confusion matrix (rows: truth)

Reproducibility. Every source of randomness is re-derived from (seed, epoch)
at the start of an epoch: the shuffling order, the clip sampling of each item,
the augmentation generator and torch's global generator (dropout, MoCo's
queue). So a run killed mid-way and restarted from its last checkpoint redoes
the interrupted epoch exactly as an uninterrupted run does it, and ends with the
same metrics (bit for bit on the CPU, within float noise on a GPU).

Distributed training: launched with ``torchrun --nproc-per-node N``, each
process trains on 1/N of every epoch (``DistributedSampler``; on a stream each
process draws its own, seeded from the seed and its rank), gradients are
averaged by ``DistributedDataParallel``, the learning rate scales with the
global batch, validation sees every video once, and rank 0 alone writes files.
"""
from __future__ import annotations

import csv
import json
import math
import os
import time
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from ..atomic import replacing, write_json
from ..checks import check as _check
from ..clips.generate import DatasetSpec
from ..config import Settings, differing
from ..numerics import machine, set_threads
from ..progress import terminal
from ..storage.store import open_dataset
from .augment import AugmentConfig, RealVideoAugment, tint
from .data import MemoryClips, VideoClips
from .models import ARCHS, build_model, keep_stages, load_trunk, load_tsm_kinetics, trunk_stages
from .presets import StandardAugment, load_size, luminance, normalise, resize_center_crop
from .selfsup import BYOL, MoCo, SelfSupervised, SimCLR
from .splits import SPLIT_BY, clip_groups, set_protocol, split_indices
from .stream import FractalStream
from .x3d import INPUTS as X3D_INPUTS

SELF_SUPERVISED = ("moco", "simclr", "byol")   # two views per clip, no labels (fractalvid.learning.selfsup)
TASKS = ("supervised", *SELF_SUPERVISED, "finetune")
# the keys of params.yaml's pretrain section that are not settings of a run: where the runs go, and the seeds
# of its draws (one run each; notebook 02 gives each its seed)
PARAMS_ONLY = frozenset({"out", "seeds"})
HISTORY_FIELDS = ("epoch", "lr", "train_loss", "train_top1", "val_loss", "val_top1", "val_top5", "clips_per_s",
                  "epoch_s")
SELECT_FIELDS = ("select_loss", "select_top1")   # the history's extra columns of a run with select_split


@dataclass(frozen=True)
class TrainConfig(Settings):
    """One training run. Defaults are the paper's pre-training recipe;
    :func:`recipe` gives the fine-tuning one."""
    kind = "training"  # in messages: "unknown training setting(s) ..."

    task: str = "supervised"            # supervised | moco (pre-training) | finetune
    data: str = ""                      # a dataset folder (generated or prepared)
    train_split: str = "train"
    val_split: str | None = "val"       # None: no evaluation
    stream: dict | None = None          # pre-train on fractals rendered on the fly: a DatasetSpec dict
    epoch_clips: int | None = None      # clips per epoch (required with stream; else the whole split)
    init: str = "scratch"               # scratch | path to a fractalvid checkpoint | kinetics:PATH
    arch: str = "tsm_r50"
    frames: int = 8
    stride: int = 2
    size: int = 112
    epochs: int = 25
    warmup_epochs: int = 3
    batch_size: int = 32
    lr: float = 8e-4                    # for a global batch of 32; scaled linearly with it
    weight_decay: float = 0.01
    clip_grad: float = 5.0
    dropout: float = 0.8
    crop_scale: tuple[float, float] = (0.9, 1.0)
    real_video: bool = True             # the real-video emulation (augment.RealVideoAugment)
    augment: dict = field(default_factory=dict)  # AugmentConfig overrides (the ablation switches)
    randaugment: bool = True
    val_clips: int = 10                 # clips per validation video, evenly spaced; scores averaged
    val_crops: int = 1                  # spatial crops per clip: 1 the centre (the paper); 3 across the frame
    # the evaluation protocol (fractalvid.evaluation.protocol): k-fold test parts, a labelled fraction, a validation holdout
    folds: int | None = None            # pool every clip and test on part `fold` of `folds` (None: the manifest's splits)
    split_by: str = "identity"          # folds of whole identities (actors, scenes; refused where clips have none), or
                                        # "class": stratified by class (downstream.SET.split_by, splits.set_protocol)
    fold: int = 0
    label_fraction: float = 1.0         # keep this share of each class's training clips (drawn from fold and seed)
    holdout: float = 0.0                # this share of the training clips out, as split "holdout": whole actors
                                        # where clips have them, else that share of each class
    in_memory: bool = False             # decode the clips once into RAM and load them without worker processes
    channels_last: bool = False         # weights and activations in channels-last layout: on 2 cores the small
                                        # TSM's step is about 1.2x faster (benchmarks/train.py --recipe)
    grey: bool = False                  # see colour clips as their luma, as the grey pre-training clips (a diagnostic)
    tint: bool = False                  # give grey clips random foreground and background colours (augment.tint)
    tint_fg: tuple[float, float] = (0.0, 1.0)  # the range of each channel of a tinted clip's foreground colour
    tint_bg: tuple[float, float] = (0.0, 1.0)  # and of its background's: (0.6, 1) over (0, 0.3) keeps the fractal
                                               # brighter than its background, and the pretext task learnable
    probe: bool = False                 # fine-tuning: train the head alone on the frozen trunk, its batch-norm
                                        # statistics frozen too (a linear probe of what the trunk's features hold)
    trunk_lr: float = 1.0               # fine-tuning a pre-trained network: the trunk's lr as a share of lr (the
                                        # new head keeps lr), so the trunk moves less than its fresh head; 1: one lr
                                        # for all, and always for scratch (finetune_config sets it)
    head_epochs: int = 0                # fine-tuning a pre-trained network: the trunk's lr is 0 for this many
                                        # epochs while the new head learns on its features, then warms up again
                                        # and follows the schedule (LP-FT: a random head's first gradients
                                        # would otherwise reshape the trunk); 0 always for scratch
    reinit: tuple[str, ...] = ()        # fine-tuning a pre-trained network: these trunk stages (models.trunk_stages,
                                        # e.g. conv1 and bn1, the stem that saw grey clips only, or layer4, the
                                        # stage nearest the pretext task) keep the random weights a scratch run
                                        # of the same seed starts from; () always for scratch
    select_split: str | None = None     # early stopping: score this split (e.g. "holdout") after every epoch
                                        # instead of val_split, end with the weights of its best epoch, and
                                        # score val_split once, with those weights
    patience: int | None = None         # with select_split: stop this many epochs after the best one (None:
                                        # train every epoch, still ending with the best one's weights)
    workers: int = 2
    threads: int | None = None          # torch's threads (None: its own choice); the digits depend on the count
                                        # (fractalvid.numerics), so the pipeline fixes it
    seed: int = 0
    amp: bool = True                    # mixed precision (GPU only; the CPU trains in float32)
    # the self-supervised tasks' settings, named after MoCo's: the embedding size (moco, simclr, byol), MoCo's
    # queue, the target networks' momentum (moco, byol) and the softmax temperature (moco, simclr)
    moco_dim: int = 128
    moco_queue: int = 16384
    moco_momentum: float = 0.999
    moco_temperature: float = 0.07

    def __post_init__(self):
        validate(self)



def recipe(task: str, **overrides) -> TrainConfig:
    """The paper's recipe for a task, with overrides: pre-training (supervised,
    moco) is 25 epochs at frame stride 2; fine-tuning 100 epochs (10 warm-up) at
    stride 6 with crops of scale 0.2-1 and no real-video emulation; fine-tuning
    from Kinetics uses lr 1e-5 and weight decay 0.1. X3D networks take the X3D
    paper's clips (x3d_s: 13 frames, stride 6, 160 px; x3d_m: 16, 5, 224 px).

    The warm-up rule, the same wherever settings come from (params.yaml, ``dvc exp run -S``, ``--set``,
    ``finetune.scratch``): ``warmup_epochs`` is never derived from ``epochs``; it is what the settings say, and a
    warm-up longer than the run is refused. Changing ``epochs`` below the recipe's warm-up (3, or 10 for
    fine-tuning) therefore needs ``warmup_epochs`` too."""
    base = dict(task=task)
    if task == "finetune":
        base.update(epochs=100, warmup_epochs=10, stride=6, crop_scale=(0.2, 1.0), real_video=False, val_split="test")
        if str(overrides.get("init", "")).startswith("kinetics:"):
            base.update(lr=1e-5, weight_decay=0.1)
    if overrides.get("arch") in X3D_INPUTS:  # X3D's own clips (frames, stride, crop), unless given
        base.update(X3D_INPUTS[overrides["arch"]])
    return TrainConfig.from_dict({**base, **overrides})


def config_from_params(section: dict, task: str = "supervised", **overrides) -> TrainConfig:
    """A params.yaml training section with overrides, on the recipe of its ``task`` key (``task`` when it has
    none). The pretrain section is one run (its ``out`` left out); the finetune section keeps the settings of
    a run under ``recipe``, beside the lists a DVC matrix expands into runs."""
    settings = dict(section["recipe"]) if "recipe" in section else \
        {k: v for k, v in section.items() if k not in PARAMS_ONLY}
    settings.update(overrides)
    return recipe(settings.pop("task", task), **settings)


INITS = ("scratch", "fractal", "kinetics")


def finetune_config(section: dict, dataset: str, init: str, seed: int, pretrained: str | os.PathLike,
                    downstream: dict | None = None) -> TrainConfig:
    """One fine-tuning run of the pipeline: ``section["recipe"]`` on downstream set ``data/<dataset>``, with the
    set's protocol (``downstream``, its params.yaml section: ``folds`` and ``split_by``,
    :func:`fractalvid.learning.splits.set_protocol`).

    ``init``: scratch, with ``section["scratch"]`` on top of the recipe (a recipe of its own, e.g. its own
    epochs; empty in the default); fractal (the pre-trained network ``pretrained``, a model.pt); or kinetics
    (the section's ``kinetics.checkpoint``, fine-tuned with its ``kinetics.lr`` and ``kinetics.weight_decay``).
    """
    if "folds" in (section.get("recipe") or {}):
        raise ValueError("finetune.recipe.folds is not accepted: the protocol is each set's own, "
                         f"downstream.{dataset}.folds (and split_by)")
    protocol = set_protocol(dataset, downstream) if downstream is not None else {}
    scratch = section.get("scratch") or {}
    _check(isinstance(scratch, dict) and not set(scratch) & {"folds", "split_by", "init", "data", "seed"},
           "finetune.scratch", scratch, "a mapping of recipe settings for the scratch runs ({} for none; the "
           "protocol, data, init and seed are not the recipe's)")
    extra = {}
    if init == "scratch":   # random weights: no pre-trained trunk to slow, so one lr for all
        start, extra = "scratch", {"trunk_lr": 1.0, "head_epochs": 0, "reinit": (), **scratch}
    elif init == "fractal":
        start = str(pretrained)
    elif init == "kinetics":
        kinetics = section.get("kinetics") or {}
        if not kinetics.get("checkpoint"):
            raise ValueError("init='kinetics' needs finetune.kinetics.checkpoint: the path of the public TSM "
                             "Kinetics-400 ResNet-50 checkpoint (see the README)")
        start = "kinetics:" + kinetics["checkpoint"]
        extra = dict(lr=kinetics.get("lr", 1e-5), weight_decay=kinetics.get("weight_decay", 0.1))
    else:
        raise ValueError(f"init={init!r} is not accepted: expected one of {INITS}")
    return config_from_params(section, "finetune", data=str(Path("data") / dataset), init=start, seed=seed,
                              **protocol, **extra)


def validate(c: TrainConfig) -> None:
    """Raise ValueError naming the first bad setting and what would be accepted."""
    _check(c.task in TASKS, "task", c.task, f"one of {TASKS}")
    _check(c.arch in ARCHS, "arch", c.arch, f"one of {ARCHS}")
    _check(bool(c.data) != (c.stream is not None), "data/stream", (c.data, c.stream),
           "exactly one of data (a dataset folder) or stream (fractals rendered on the fly)")
    _check(c.stream is None or c.epoch_clips is not None, "epoch_clips", c.epoch_clips,
           "an integer >= 1 when training on a stream")
    _check(c.task != "finetune" or c.stream is None, "stream", c.stream, "None when fine-tuning")
    for name in ("frames", "stride", "size", "epochs", "batch_size", "val_clips", "val_crops", "moco_dim",
                 "moco_queue"):
        v = getattr(c, name)
        _check(isinstance(v, int) and not isinstance(v, bool) and v >= 1, name, v, "an integer >= 1")
    _check(c.epoch_clips is None or (isinstance(c.epoch_clips, int) and c.epoch_clips >= 1), "epoch_clips",
           c.epoch_clips, "an integer >= 1 or None")
    _check(isinstance(c.warmup_epochs, int) and 0 <= c.warmup_epochs <= c.epochs, "warmup_epochs", c.warmup_epochs,
           f"an integer in [0, epochs={c.epochs}] (it is never derived from epochs: set warmup_epochs with them)")
    _check(isinstance(c.workers, int) and c.workers >= 0, "workers", c.workers, "an integer >= 0")
    _check(c.threads is None or (isinstance(c.threads, int) and not isinstance(c.threads, bool) and c.threads >= 1),
           "threads", c.threads, "None (torch's own choice) or an integer >= 1")
    _check(c.folds is None or (isinstance(c.folds, int) and not isinstance(c.folds, bool) and c.folds >= 2),
           "folds", c.folds, "None or an integer >= 2")
    _check(c.split_by in SPLIT_BY, "split_by", c.split_by, f"one of {SPLIT_BY}")
    _check(isinstance(c.fold, int) and 0 <= c.fold < (c.folds or 1), "fold", c.fold,
           f"an integer in [0, folds={c.folds})" if c.folds else "0 when folds is None")
    _check(isinstance(c.label_fraction, (int, float)) and 0 < c.label_fraction <= 1, "label_fraction",
           c.label_fraction, "a number in (0, 1]")
    _check(isinstance(c.holdout, (int, float)) and 0 <= c.holdout < 1, "holdout", c.holdout, "a number in [0, 1)")
    _check(isinstance(c.in_memory, bool), "in_memory", c.in_memory, "true or false")
    _check(isinstance(c.grey, bool), "grey", c.grey, "true or false")
    _check(isinstance(c.tint, bool), "tint", c.tint, "true or false")
    for name in ("tint_fg", "tint_bg"):
        v = getattr(c, name)
        numbers = isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                               for x in v)
        _check(numbers and 0 <= v[0] <= v[1] <= 1, name, v, "two numbers 0 <= lo <= hi <= 1, e.g. [0.6, 1.0]")
    _check(c.probe is False or (c.probe is True and c.task == "finetune"), "probe", c.probe,
           "false, or true with task 'finetune' (a linear probe trains a new head on a trunk)")
    _check(isinstance(c.trunk_lr, (int, float)) and not isinstance(c.trunk_lr, bool) and 0 < c.trunk_lr <= 1
           and (c.trunk_lr == 1 or (c.task == "finetune" and c.init != "scratch")), "trunk_lr", c.trunk_lr,
           "a number in (0, 1], below 1 only when fine-tuning a pre-trained network (it slows the trunk "
           "against its new head)")
    _check(isinstance(c.head_epochs, int) and not isinstance(c.head_epochs, bool) and 0 <= c.head_epochs < c.epochs
           and (c.head_epochs == 0 or (c.task == "finetune" and c.init != "scratch" and not c.probe)),
           "head_epochs", c.head_epochs, f"an integer in [0, epochs={c.epochs}), above 0 only when fine-tuning a "
           "pre-trained network without probe (its trunk waits while the new head learns)")
    _check(isinstance(c.reinit, tuple) and all(isinstance(n, str) for n in c.reinit)
           and (not c.reinit or (c.task == "finetune" and c.init != "scratch")), "reinit", c.reinit,
           "a list of trunk stages, empty unless fine-tuning a pre-trained network (they keep random weights)")
    if c.reinit and c.arch in ARCHS:
        stages = trunk_stages(c.arch)
        _check(set(c.reinit) <= set(stages), "reinit", c.reinit, f"names among the trunk stages of {c.arch}: "
               f"{list(stages)}")
    _check(c.select_split is None or (isinstance(c.select_split, str) and c.task not in SELF_SUPERVISED
                                      and c.select_split not in (c.train_split, c.val_split)),
           "select_split", c.select_split, "None, or a split other than train_split and val_split to choose the "
           "epoch on (e.g. 'holdout' with holdout > 0), in a supervised or fine-tuning run")
    _check(c.patience is None or (c.select_split is not None and isinstance(c.patience, int)
                                  and not isinstance(c.patience, bool) and c.patience >= 1), "patience", c.patience,
           "None, or an integer >= 1 with select_split (the epochs to wait for a better score there)")
    _check(c.val_crops == 1 or not c.in_memory, "val_crops", c.val_crops,
           "1 with in_memory (clips are held as centre squares), or in_memory: false for crops across the frame")
    _check(c.stream is None or (c.folds is None and c.label_fraction == 1 and c.holdout == 0 and not c.in_memory
                                and c.select_split is None),
           "stream", c.stream, "None with folds, label_fraction, holdout, select_split or in_memory (they split "
           "stored clips)")
    for name in ("lr", "weight_decay", "clip_grad", "moco_temperature"):
        v = getattr(c, name)
        _check(isinstance(v, (int, float)) and v >= 0 and math.isfinite(v), name, v, "a finite number >= 0")
    _check(c.lr > 0, "lr", c.lr, "a number > 0")
    _check(c.moco_temperature > 0, "moco_temperature", c.moco_temperature, "a number > 0")
    _check(0 <= c.dropout < 1, "dropout", c.dropout, "a number in [0, 1)")
    _check(len(c.crop_scale) == 2 and 0 < c.crop_scale[0] <= c.crop_scale[1] <= 1, "crop_scale", c.crop_scale,
           "two numbers 0 < lo <= hi <= 1")
    _check(0 <= c.moco_momentum < 1, "moco_momentum", c.moco_momentum, "a number in [0, 1)")
    _check(c.init == "scratch" or c.init.startswith("kinetics:") or c.init.endswith(".pt"), "init", c.init,
           "'scratch', a fractalvid checkpoint path ending in .pt, or 'kinetics:PATH'")
    AugmentConfig.from_dict(dict(c.augment))  # raises on a bad augmentation setting


# -------------------------------------------------------------- distributed

def setup_device() -> tuple[torch.device, int, int]:
    """(device, rank, world size); starts the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local), rank, world
    return torch.device("cpu"), rank, world


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


# -------------------------------------------------------------------- data

def _seed(*parts: int) -> int:
    """A 63-bit seed from integers (numpy's SeedSequence mixes them well)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def _class_names(source) -> list[str]:
    if getattr(source, "class_names", None):
        return list(source.class_names)
    n = int(source.card.get("classes") or 0) or int(source.labels.max(initial=-1)) + 1
    return [str(c) for c in range(n)]


def build_data(cfg: TrainConfig, rank: int = 0, world: int = 1):
    """(train dataset, val dataset or None, select dataset or None, class names) for process ``rank`` of
    ``world``; the select dataset is ``cfg.select_split``'s (the split that chooses the epoch).

    A stream is one endless sequence per seed, which no sampler can split: each rank of a
    distributed run draws its own (seeded from seed and rank), in blocks of its share of the batch.
    Self-supervised tasks never evaluate, so they build no validation set (unsupervised sets have no "val"
    split).
    """
    if cfg.stream is not None:
        spec = DatasetSpec.from_dict(cfg.stream)
        seed = cfg.seed if world == 1 else _seed(cfg.seed, rank, 4)
        train = FractalStream(spec, frames=cfg.frames, stride=cfg.stride, seed=seed,
                              block=max(1, cfg.batch_size // world))
        return train, None, None, [str(c) for c in range(spec.classes)] if spec.supervised else []
    if not Path(cfg.data, "manifest.csv").exists():
        raise FileNotFoundError(
            f"data={cfg.data!r}: no dataset there (looked for {Path(cfg.data, 'manifest.csv')}). Make it with "
            "`fractalvid generate` (synthetic clips) or `fractalvid data prepare` (real videos; see the README)")
    everything = open_dataset(cfg.data)
    groups = clip_groups(everything.card, everything.rows) if cfg.split_by == "identity" else None
    if cfg.folds is not None and cfg.split_by == "identity" and groups is None:
        raise ValueError(f"folds={cfg.folds} with split_by='identity' is refused for {cfg.data}: its clips carry no "
                         "identity (actor, scene or source video) to fold by. Use folds: null for its own "
                         "train/test split, or split_by: 'class' to fold by class knowingly")
    splits = split_indices(everything.labels, [r["split"] for r in everything.rows],
                           groups, folds=cfg.folds, fold=cfg.fold,
                           label_fraction=cfg.label_fraction, holdout=cfg.holdout, seed=cfg.seed)
    evaluated = cfg.val_split is not None and cfg.task not in SELF_SUPERVISED
    wanted = [cfg.train_split] + ([cfg.val_split] if evaluated else []) + [s for s in [cfg.select_split] if s]
    for split in wanted:
        if split not in splits:
            raise ValueError(f"split={split!r} is not in {cfg.data} with these settings: expected one of "
                             f"{sorted(splits)}")

    def clips(split: str):
        part = everything.subset(splits[split])
        return MemoryClips(part, load_size(cfg.size)) if cfg.in_memory else part

    # items come as squares of the size the crops are taken from (the paper: 112 from 128)
    train = VideoClips(clips(cfg.train_split), frames=cfg.frames, stride=cfg.stride, train=True, seed=cfg.seed,
                       load_size=load_size(cfg.size))

    def scored(split: str | None):
        if split is None:
            return None
        return VideoClips(clips(split), frames=cfg.frames, stride=cfg.stride, train=False,
                          num_clips=cfg.val_clips, seed=cfg.seed, size=cfg.size, crops=cfg.val_crops)

    return train, scored(cfg.val_split if evaluated else None), scored(cfg.select_split), _class_names(everything)


def _loader(dataset, cfg: TrainConfig, epoch: int, train: bool, world: int) -> DataLoader:
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
    sampler, shuffle, gen = None, None, None
    if isinstance(dataset, torch.utils.data.IterableDataset):
        pass
    elif world > 1 and train:
        sampler = DistributedSampler(dataset, shuffle=True, seed=cfg.seed, drop_last=True)
        sampler.set_epoch(epoch)
    elif world > 1:  # every video once: DistributedSampler would pad the last round with repeats
        sampler = range(dist.get_rank(), len(dataset), world)
    elif train:
        shuffle, gen = True, torch.Generator().manual_seed(_seed(cfg.seed, epoch, 1))
    batch = max(1, cfg.batch_size // world) if train else max(1, cfg.batch_size // (2 * world))
    return DataLoader(dataset, batch_size=batch, shuffle=shuffle, sampler=sampler, generator=gen,
                      num_workers=0 if cfg.in_memory else cfg.workers, drop_last=train and len(dataset) >= batch if hasattr(dataset, "__len__")
                      else train, pin_memory=torch.cuda.is_available(),
                      persistent_workers=False)


# ------------------------------------------------------------------ models

def load_checkpoint(path: str | os.PathLike) -> dict:
    """torch.load with a clear error for a missing or corrupt file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # a truncated or overwritten file raises many kinds of errors
        raise ValueError(f"checkpoint {path} is corrupt and was not loaded ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or "encoder" not in state or "arch" not in state:
        raise ValueError(f"checkpoint {path} is not a fractalvid checkpoint (expected keys 'arch' and 'encoder')")
    return state


def build_model_for(cfg: TrainConfig, num_classes: int) -> nn.Module:
    """The network of a run, initialised as ``cfg.init`` says."""
    model = build_model(cfg.arch, max(num_classes, 1), frames=cfg.frames, dropout=cfg.dropout)
    fresh = keep_stages(model, cfg.reinit)   # the random weights of the stages to re-initialise
    if cfg.init.startswith("kinetics:"):
        load_tsm_kinetics(model, cfg.init.split(":", 1)[1])
    elif cfg.init != "scratch":
        state = load_checkpoint(cfg.init)
        if state["arch"] != cfg.arch:
            raise ValueError(f"init={cfg.init!r} holds a {state['arch']} network, but arch={cfg.arch!r}: "
                             f"set arch: {state['arch']} or choose a {cfg.arch} checkpoint")
        load_trunk(model, state["encoder"])
    model.load_state_dict(fresh, strict=False)
    if cfg.task == "moco":
        return MoCo(model, cfg.moco_dim, cfg.moco_queue, cfg.moco_momentum, cfg.moco_temperature)
    if cfg.task == "simclr":
        return SimCLR(model, cfg.moco_dim, cfg.moco_temperature)
    if cfg.task == "byol":
        return BYOL(model, cfg.moco_dim, cfg.moco_momentum)
    return model


def cosine_with_warmup(epochs: int, warmup: int, steps_per_epoch: int):
    """lr factor per step: linear warm-up over ``warmup`` epochs, then cosine to 0."""
    total, ramp = max(1, epochs * steps_per_epoch), warmup * steps_per_epoch

    def factor(step: int) -> float:
        if step < ramp:
            return (step + 1) / ramp
        return 0.5 * (1 + math.cos(math.pi * (step - ramp) / max(1, total - ramp)))

    return factor


def held_then_warmed(schedule, held: int, warmup: int, steps_per_epoch: int):
    """``schedule``'s lr factor per step, but 0 for the first ``held`` epochs, then ramped linearly from 0 over
    ``warmup`` epochs (at least one) back onto ``schedule``: the pre-trained trunk's lr under head_epochs.
    With ``held`` 0 it is ``schedule`` itself."""
    if held == 0:
        return schedule
    start, ramp = held * steps_per_epoch, max(1, warmup) * steps_per_epoch

    def factor(step: int) -> float:
        if step < start:
            return 0.0
        return min(1.0, (step - start + 1) / ramp) * schedule(step)

    return factor


# ---------------------------------------------------------------- one epoch

def topk_correct(logits: torch.Tensor, labels: torch.Tensor, ks=(1, 5)) -> list[int]:
    top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices
    hit = top == labels[:, None]
    return [int(hit[:, :k].any(1).sum()) for k in ks]


@torch.no_grad()
def evaluate(model: nn.Module, dataset, cfg: TrainConfig, num_classes: int, device: torch.device,
             amp: bool = False, world: int = 1) -> tuple[dict, torch.Tensor]:
    """Top-1/top-5 and loss of scores averaged over each video's clips, and the confusion matrix (rows:
    truth); under DDP every rank scores its share and the sums are gathered."""
    model.eval()
    k = num_classes
    confusion = torch.zeros(k, k, dtype=torch.long)
    total = loss_sum = top1 = top5 = 0
    for clips, labels in _loader(dataset, cfg, 0, train=False, world=world):
        b, n = clips.shape[:2]
        x = clips.flatten(0, 1).to(device).float().div_(255)  # already resized and cropped
        x = normalise(luminance(x) if cfg.grey else x)
        with torch.autocast(device.type, enabled=amp):
            scores = model(x).float().softmax(1).view(b, n, -1).mean(1)
        labels = labels.to(device)
        loss_sum += float(F.nll_loss(scores.clamp_min(1e-8).log(), labels, reduction="sum"))
        c1, c5 = topk_correct(scores, labels)
        top1, top5, total = top1 + c1, top5 + c5, total + b
        confusion += torch.bincount((labels * k + scores.argmax(1)).cpu(), minlength=k * k).view(k, k)
    if _distributed():
        sums = torch.tensor([loss_sum, top1, top5, total], dtype=torch.float64, device=device)
        dist.all_reduce(sums)
        loss_sum, top1, top5, total = sums.tolist()
        confusion = confusion.to(device)
        dist.all_reduce(confusion)
        confusion = confusion.cpu()
    return {"val_loss": loss_sum / max(total, 1), "val_top1": top1 / max(total, 1),
            "val_top5": top5 / max(total, 1)}, confusion


class Run:
    """Everything a training run holds; ``fit()`` runs (or resumes) it."""

    def __init__(self, cfg: TrainConfig, out: str | os.PathLike, progress: bool = True,
                 keep_checkpoint: bool = False):
        self.cfg, self.out, self.progress, self.keep_checkpoint = cfg, Path(out), progress, keep_checkpoint
        self.device, self.rank, self.world = setup_device()
        set_threads(cfg.threads)
        self.machine = machine()   # what the digits depend on, recorded in the metrics
        torch.manual_seed(_seed(cfg.seed, 0, 0))
        self.train_set, self.val_set, self.select_set, self.classes = build_data(cfg, self.rank, self.world)
        num_classes = len(self.classes)
        if cfg.task not in SELF_SUPERVISED and num_classes < 2:
            raise ValueError(f"data={cfg.data or cfg.stream!r} has {num_classes} labelled classes: supervised "
                             "training needs at least 2 (use task: moco, simclr or byol for unlabelled clips)")
        self.model = build_model_for(cfg, num_classes).to(self.device)
        if cfg.channels_last:  # the layout only: the same weights, saved and loaded as in any run
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net = self.model
        if self.world > 1:
            self.net = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.amp = cfg.amp and self.device.type == "cuda"
        self.real_video = RealVideoAugment(AugmentConfig.from_dict(dict(cfg.augment))) if cfg.real_video else None
        self.train_tf = StandardAugment(train=True, size=cfg.size, crop_scale=cfg.crop_scale,
                                        randaugment=cfg.randaugment)
        self.steps_per_epoch = max(1, self._train_len() // cfg.batch_size)
        if cfg.probe:
            self.model.trunk.requires_grad_(False)
        lr = cfg.lr * cfg.batch_size / 32
        params = [p for p in self.model.parameters() if p.requires_grad]
        schedule = cosine_with_warmup(cfg.epochs, cfg.warmup_epochs, self.steps_per_epoch)
        if cfg.trunk_lr != 1 or cfg.head_epochs:  # the head's group first: the history's "lr" is the head's
            trunk = {id(p) for p in self.model.trunk.parameters()}
            params = [{"params": [p for p in params if id(p) not in trunk]},
                      {"params": [p for p in params if id(p) in trunk], "lr": lr * cfg.trunk_lr}]
            schedule = [schedule, held_then_warmed(schedule, cfg.head_epochs, cfg.warmup_epochs,
                                                   self.steps_per_epoch)]
        self.optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.epoch, self.history = 0, []
        # early stopping (select_split): the best epoch's weights, kept in memory and in best.pt for a resume
        self.best_state, self.loaded_finished = None, False

    def _train_len(self) -> int:
        n = self.cfg.epoch_clips if self.cfg.stream is not None else len(self.train_set)
        return min(n, self.cfg.epoch_clips or n)

    # ------------------------------------------------------------ checkpoints
    def weights(self) -> dict:
        """What model.pt holds: the network (self-supervised: the encoder being pre-trained), its arch, classes,
        settings, history."""
        encoder = self.model.encoder if isinstance(self.model, SelfSupervised) else self.model
        return {"arch": self.cfg.arch, "task": self.cfg.task, "classes": self.classes, "config": self.cfg.to_dict(),
                "epoch": self.epoch, "history": self.history, "encoder": encoder.state_dict()}

    def state(self) -> dict:
        """What last.pt holds: the weights and everything needed to go on training."""
        return {**self.weights(), "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict()}

    def save(self) -> None:
        if self.rank != 0:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        last = self.out / "last.pt"
        with replacing(last) as tmp:
            torch.save(self.state(), tmp)
            if last.exists():   # the one before stays until the new one is whole
                os.replace(last, self.out / "previous.pt")

    def resume(self) -> str | None:
        """Load the newest readable checkpoint of this folder (a finished run's model.pt last); say what
        happened."""
        notes = []
        for name in ("last.pt", "previous.pt", "model.pt"):
            path = self.out / name
            if not path.exists():
                continue
            try:
                state = load_checkpoint(path)
            except ValueError as e:
                notes.append(str(e))
                continue
            old, new = _comparable(state["config"]), _comparable(self.cfg.to_dict())
            if old != new:
                changed = differing(old, new)
                raise ValueError(f"{self.out} holds a run with other settings (differing: {changed}); "
                                 "choose another folder or delete it")
            if name == "model.pt":  # a finished run: its weights and history, nothing left to train
                self.epoch, self.history = state.get("epoch", 0), state.get("history", [])
                if "history" not in state or not self.finished():
                    self.epoch, self.history = 0, []
                    notes.append(f"{path} is not a finished run of these settings")
                    continue
                weights = self.model.encoder if isinstance(self.model, SelfSupervised) else self.model
                weights.load_state_dict(state["encoder"])   # with select_split: the best epoch's
                self.loaded_finished = True
            else:
                self.model.load_state_dict(state["model"])
                self.optimizer.load_state_dict(state["optimizer"])
                self.scheduler.load_state_dict(state["scheduler"])
                self.scaler.load_state_dict(state["scaler"])
            self.epoch, self.history = state["epoch"], state["history"]
            notes.append(f"resumed from {path} after epoch {self.epoch}")
            break
        else:
            if notes:
                notes.append(f"no readable checkpoint in {self.out}: starting from scratch")
        return "; ".join(notes) or None

    # ---------------------------------------------------------------- epochs
    def _inputs(self, clips: torch.Tensor, gen: torch.Generator, progress: float) -> torch.Tensor:
        x = clips.to(self.device, non_blocking=True).float().div_(255)
        if self.cfg.grey:
            x = luminance(x)
        x = resize_center_crop(x, load_size(self.cfg.size), load_size(self.cfg.size))  # a stream's clips
        if self.real_video is not None:
            x = self.real_video(x, gen, epoch=progress)
        if not self.cfg.tint:
            return self.train_tf(x, gen)
        # tinted after the crop, which then works on one channel instead of three: the same clips as tinting first
        return self.train_tf(x, gen, recolour=lambda v: tint(v, gen, fg=self.cfg.tint_fg, bg=self.cfg.tint_bg))

    def train_one_epoch(self) -> dict:
        cfg, epoch = self.cfg, self.epoch
        torch.manual_seed(_seed(cfg.seed, epoch, 2))  # dropout
        gen = torch.Generator().manual_seed(_seed(cfg.seed, epoch, 3, self.rank))
        loader = _loader(self.train_set, cfg, epoch, train=True, world=self.world)
        self.net.train()
        if cfg.probe:  # frozen features: batch norm keeps the trunk's running statistics
            self.model.trunk.eval()
        total = loss_sum = correct = 0
        start = time.perf_counter()
        bar = tqdm(loader, total=self.steps_per_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   disable=not self.progress or self.rank != 0 or not terminal(), leave=False)
        for step, (clips, labels) in enumerate(bar):
            if step >= self.steps_per_epoch:
                break
            progress = epoch + step / self.steps_per_epoch
            labels = labels.to(self.device)
            with torch.autocast(self.device.type, enabled=self.amp):
                if cfg.task in SELF_SUPERVISED:  # two views; labels: each clip's other view among the scores
                    loss, logits, labels = self.net(self._inputs(clips, gen, progress),
                                                    self._inputs(clips, gen, progress))
                else:
                    logits = self.net(self._inputs(clips, gen, progress))
                    loss = F.cross_entropy(logits.float(), labels)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if cfg.clip_grad > 0:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            n = len(labels)
            total += n
            loss_sum += loss.item() * n
            correct += topk_correct(logits.detach(), labels, (1,))[0]
            bar.set_postfix(loss=f"{loss_sum / total:.3f}")
        seconds = time.perf_counter() - start
        if _distributed():  # the whole epoch's numbers, not rank 0's share
            sums = torch.tensor([loss_sum, correct, total], dtype=torch.float64, device=self.device)
            dist.all_reduce(sums)
            loss_sum, correct, total = sums.tolist()
        return {"train_loss": loss_sum / max(total, 1), "train_top1": correct / max(total, 1),
                "clips_per_s": total / seconds, "epoch_s": seconds}

    def evaluate(self) -> dict:
        """Top-1/top-5 and loss on the validation set; keeps its confusion matrix for the reports."""
        if self.val_set is None or self.cfg.task in SELF_SUPERVISED:
            return {}
        metrics, self.confusion = evaluate(self.model, self.val_set, self.cfg, len(self.classes), self.device,
                                           self.amp, self.world)
        return metrics

    # ---------------------------------------------------------- early stopping
    def score_selection(self) -> dict:
        """Loss and top-1 on ``select_split``, the split that chooses the epoch."""
        metrics, _ = evaluate(self.model, self.select_set, self.cfg, len(self.classes), self.device, self.amp,
                              self.world)
        return {"select_loss": metrics["val_loss"], "select_top1": metrics["val_top1"]}

    def best_epoch(self) -> int:
        """The epoch (from 1) with the highest select_top1 so far, the lower select_loss breaking ties; 0 if
        none was scored."""
        scored = [(r["select_top1"], -r["select_loss"], -r["epoch"]) for r in self.history if "select_top1" in r]
        return -max(scored)[2] if scored else 0

    def finished(self) -> bool:
        """Every epoch trained, or (with ``patience``) that many epochs past the best one."""
        patience = self.cfg.patience
        return self.epoch >= self.cfg.epochs or (patience is not None and self.epoch - self.best_epoch() >= patience)

    def save_best(self) -> None:
        self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            _save_atomic({"epoch": self.epoch, "model": self.best_state}, self.out / "best.pt")

    def restore_best(self) -> None:
        """Load the best epoch's weights (a finished run loaded from model.pt already holds them)."""
        if self.loaded_finished:
            return
        if self.best_state is None:  # resumed mid-run: the best epoch so far was saved beside last.pt
            path = self.out / "best.pt"
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing: this early-stopped run (select_split="
                                        f"{self.cfg.select_split!r}) cannot restore its best epoch "
                                        f"({self.best_epoch()}); delete {self.out} and run it again")
            self.best_state = torch.load(path, map_location="cpu", weights_only=False)["model"]
        self.model.load_state_dict(self.best_state)

    # ---------------------------------------------------------------- fitting
    def fit(self) -> dict:
        """Train to ``cfg.epochs`` (resuming if this folder has a checkpoint); returns the metrics. With
        ``select_split`` each epoch is scored there, the run may stop early (``patience``), and it ends with the
        best epoch's weights, which score ``val_split`` once."""
        note = self.resume()
        if note and self.rank == 0:
            print(note)
        selecting = self.select_set is not None
        while not self.finished():
            row = {"epoch": self.epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
            row.update(self.train_one_epoch())
            row.update(self.score_selection() if selecting else self.evaluate())
            self.epoch += 1
            self.history.append(row)
            if selecting and self.best_epoch() == self.epoch:
                self.save_best()   # before last.pt: a resume never finds a newer epoch than its best.pt knows
            self.save()
            if self.rank == 0:
                self.write_reports()
                if self.progress and (terminal() or self.epoch in _quarters(self.cfg.epochs)):
                    # every epoch at a terminal; in a log or an executed notebook the first, each quarter, the last
                    print(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
        if selecting:
            self.restore_best()
            self.final = self.evaluate()
        elif not hasattr(self, "confusion"):
            # a resumed, already finished run still reports its confusion matrix; every rank takes part,
            # as evaluate() sums over ranks
            self.evaluate()
        if self.rank == 0:
            self.write_reports()
            _save_atomic(self.weights(), self.out / "model.pt")
            # the training checkpoints are only needed while training (a finished run resumes from
            # model.pt); keeping them would triple what a finished run stores, e.g. in DVC's cache
            for name in ("previous.pt", "best.pt") if self.keep_checkpoint else ("previous.pt", "last.pt", "best.pt"):
                (self.out / name).unlink(missing_ok=True)
        return self.metrics()

    # ---------------------------------------------------------------- reports
    def metrics(self) -> dict:
        last = dict(self.history[-1]) if self.history else {}
        best = max((r.get("val_top1", 0.0) for r in self.history), default=0.0)
        minutes = sum(r.get("epoch_s", 0.0) for r in self.history) / 60   # training steps only, no evaluation
        out = {**{k: v for k, v in last.items() if k != "lr"}, "best_val_top1": best, "epochs": self.epoch,
               "train_minutes": round(minutes, 3), "task": self.cfg.task, "arch": self.cfg.arch,
               "init": self.cfg.init, "machine": self.machine}
        if self.cfg.select_split is not None:   # val_* are the best epoch's weights' (None until the run ends)
            final = getattr(self, "final", {})
            best_epoch = self.best_epoch()
            out.update(final, best_val_top1=final.get("val_top1"), best_epoch=best_epoch,
                       select_top1=self.history[best_epoch - 1]["select_top1"] if best_epoch else None)
        return out

    def write_reports(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        with replacing(self.out / "history.csv") as tmp, open(tmp, "w", newline="") as f:
            fields = HISTORY_FIELDS + (SELECT_FIELDS if self.cfg.select_split is not None else ())
            w = csv.DictWriter(f, fields, extrasaction="ignore")
            w.writeheader()
            w.writerows(self.history)
        write_json(self.out / "metrics.json", self.metrics())
        if getattr(self, "confusion", None) is not None:
            with replacing(self.out / "confusion.csv") as tmp, open(tmp, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["truth"] + list(self.classes))
                for name, row in zip(self.classes, self.confusion.tolist()):
                    w.writerow([name] + row)


def _quarters(epochs: int) -> set[int]:
    """The epochs a log shows: the first, the end of each quarter, the last."""
    return {1, epochs} | {max(1, round(epochs * q / 4)) for q in (1, 2, 3)}


def _comparable(config: dict) -> dict:
    """Settings as JSON has them (tuples nested in dicts become lists, as after a round trip through a
    checkpoint or params.yaml), without ``workers``: items do not depend on the loader's process count. A
    setting the config lacks (one added to TrainConfig after its checkpoint was saved) counts at its default,
    which is what the run trained with."""
    defaults = {f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
                for f in dataclasses.fields(TrainConfig)}
    full = {**{k: v for k, v in defaults.items() if v is not dataclasses.MISSING}, **config}
    return {k: v for k, v in json.loads(json.dumps(full)).items() if k != "workers"}


def _save_atomic(obj, path: Path) -> None:
    with replacing(path) as tmp:
        torch.save(obj, tmp)


def train(cfg: TrainConfig, out: str | os.PathLike, progress: bool = True, keep_checkpoint: bool = False) -> dict:
    """Run (or resume) the training run ``cfg`` in folder ``out``; returns its metrics.

    ``keep_checkpoint`` keeps the final training state (``last.pt``: optimiser, scheduler, MoCo's queue,
    the target networks)
    beside ``model.pt``, for inspecting it; by default a finished run keeps ``model.pt`` alone."""
    return Run(cfg, out, progress, keep_checkpoint).fit()


def evaluate_checkpoint(checkpoint: str | os.PathLike, data: str, split: str = "test", val_clips: int = 10,
                        batch_size: int = 16, workers: int = 2, crops: int = 1) -> dict:
    """Top-1/top-5 of a saved model on a split of a dataset (the whole split: no folds), as it was trained
    to see clips (arch, frames, stride, size); ``val_clips`` x ``crops`` views per video (10 x 3: the usual
    multi-view protocol), scores averaged."""
    state = load_checkpoint(checkpoint)
    # train_split too: the evaluated set need not have the split the model was trained on
    cfg = TrainConfig.from_dict({**state["config"], "data": data, "stream": None, "train_split": split,
                                 "val_split": split, "val_clips": val_clips, "batch_size": batch_size,
                                 "workers": workers, "task": "finetune", "init": "scratch", "epoch_clips": None,
                                 "folds": None, "fold": 0, "label_fraction": 1.0, "holdout": 0.0,
                                 "in_memory": False, "val_crops": crops})
    _, dataset, _, classes = build_data(cfg)
    if len(classes) != len(state["classes"]):
        raise ValueError(f"{checkpoint} was trained on {len(state['classes'])} classes but {data} split {split!r} "
                         f"has {len(classes)}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = build_model(cfg.arch, len(classes), frames=cfg.frames, dropout=cfg.dropout).to(device)
    model.load_state_dict(state["encoder"])
    return evaluate(model, dataset, cfg, len(classes), device, amp=cfg.amp and device.type == "cuda")[0]
