"""One training run's settings: :class:`TrainConfig`, the paper's recipes, params.yaml sections as configs, and
:func:`validate`, the one place every setting is checked (a bad value is refused, naming what is accepted).

The warm-up rule holds wherever settings come from (params.yaml, ``dvc exp run -S``, ``--set``,
``finetune.scratch``): ``warmup_epochs`` is never derived from ``epochs``.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..checks import check as _check
from ..config import Settings
from .augment import AugmentConfig
from .models import ARCHS, trunk_stages
from .splits import SPLIT_BY, set_protocol
from .x3d import INPUTS as X3D_INPUTS

SELF_SUPERVISED = ("moco", "simclr", "byol")   # two views per clip, no labels (fractalvid.learning.selfsup)
TASKS = ("supervised", *SELF_SUPERVISED, "finetune")
# the keys of params.yaml's pretrain section that are not settings of a run: where the runs go, and the seeds
# of its draws (one run each; notebook 02 gives each its seed)
PARAMS_ONLY = frozenset({"out", "seeds"})


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
    eval_every: int = 1                 # score val_split every this many epochs and at the last (the training
                                        # curve keeps every epoch); it never chooses anything, so scoring it
                                        # less often costs nothing but points on its curve
    # the evaluation protocol (fractalvid.evaluation.protocol): k-fold test parts, a labelled fraction, a validation holdout
    folds: int | None = None            # pool every clip and test on part `fold` of `folds` (None: the manifest's splits)
    split_by: str = "identity"          # folds of whole identities (actors, scenes; refused where clips have none), or
                                        # "class": stratified by class (downstream.SET.split_by, splits.set_protocol)
    fold: int = 0
    label_fraction: float = 1.0         # keep this share of each class's training clips (drawn from fold and seed)
    holdout: float = 0.0                # this share of the training clips out, as split "holdout": whole actors
                                        # where clips have them, else that share of each class
    in_memory: bool = False             # decode the clips once into RAM and load them without worker processes
    compile: bool = False               # torch.compile the network (inductor; on the CPU it needs a C++
                                        # compiler): other digits than eager, the same on every rerun
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
    for name in ("frames", "stride", "size", "epochs", "batch_size", "val_clips", "val_crops", "eval_every",
                 "moco_dim", "moco_queue"):
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
    _check(isinstance(c.compile, bool), "compile", c.compile, "true or false")
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
