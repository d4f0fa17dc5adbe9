"""Where a run trains and what it reads: the device (and torchrun's process group), the datasets a config names
(:func:`build_data`: its splits, folds and held-out clips, on disk or in RAM, or a stream) and their loaders,
each epoch's order re-derived from (seed, epoch)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from ..clips.generate import DatasetSpec
from ..storage.store import open_dataset
from .data import MemoryClips, VideoClips
from .presets import load_size
from .settings import SELF_SUPERVISED, TrainConfig
from .splits import clip_groups, split_indices
from .stream import FractalStream


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
