"""Datasets for training: made from a params.yaml section, and sampled into clips.

1. :func:`make_dataset` turns a params.yaml dataset section into a dataset on disk: synthetic clips
   generated (:mod:`fractalvid.clips.generate`) or a real dataset prepared (:mod:`fractalvid.storage.real`).
2. Clip sampling (the paper's recipe): :class:`VideoClips` turns a stored dataset into torch items
   ``(uint8 clip (C, T, H, W), label)`` for training, or ``(uint8 clips (num_clips, C, T, H, W), label)``
   for validation; :class:`MemoryClips` holds a small dataset decoded once in RAM.
   :class:`fractalvid.learning.stream.FractalStream` yields the same items from clips rendered on the fly.

All randomness is derived from explicit seeds: an item's draws come from
``np.random.default_rng([seed, epoch, index])``, so results depend neither on
the number of DataLoader workers nor on the order items are asked for.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from ..checks import check_int as _check_int
from ..clips.generate import DatasetSpec, generate
from ..progress import terminal
from ..storage.real import prepare_dataset
from ..storage.store import ClipDataset, open_dataset
from .presets import eval_views, resize_center_crop
from .splits import PROTOCOL_KEYS, set_protocol

PADS = ("repeat", "loop")


def make_dataset(name: str, section: dict, out: str | os.PathLike, overwrite: bool = False) -> dict:
    """A params.yaml dataset section -> the dataset in ``out``; returns its card.

    A section with ``source`` is a real dataset (source: one of fractalvid.storage.real.DATASETS, root, split,
    short_side, square), prepared from the videos unpacked at ``root``; any other section is a
    :class:`~fractalvid.clips.generate.DatasetSpec` of synthetic clips (plus its run key ``workers``).
    A dataset already in ``out`` with the same settings is resumed (complete: left as it is); one made
    with other settings raises FileExistsError unless ``overwrite``. (``dvc repro`` removes a stage's
    outputs before running it, so the pipeline never needs ``overwrite``.)
    """
    set_protocol(name, section) if name != "pretrain" else None   # a bad protocol is refused before any work
    section = {k: v for k, v in section.items() if k not in PROTOCOL_KEYS}   # how the set is split, not made
    if "source" not in section:
        return generate(out, DatasetSpec.from_params(section), workers=section.get("workers"), overwrite=overwrite)
    root = Path(section["root"])
    if not root.exists():
        raise FileNotFoundError(
            f"{name}: the real videos are not at {root}. Fetch and unpack the official archive there "
            f"(README, 'Real data': `dvc update data.dvc` / `dvc import-url`, then unpack), or remove "
            f"{name!r} from finetune.datasets in params.yaml")
    return prepare_dataset(section["source"], root, out, split=section.get("split", 1),
                           short_side=section.get("short_side", 128), classes=section.get("classes"),
                           square=section.get("square", False), overwrite=overwrite)


# ===================================================================== sampling

def _fit_stride(n: int, frames: int, stride: int) -> int:
    """``stride``, or for a short video the largest smaller stride whose span fits in its n frames (at least 1)."""
    if frames == 1:
        return stride
    return max(1, min(stride, (n - 1) // (frames - 1)))


def _clip_at(start: int, n: int, frames: int, stride: int, pad: str) -> np.ndarray:
    idx = start + stride * np.arange(frames)
    if idx[-1] >= n:  # only when n < frames: even stride 1 runs past the end
        idx = np.minimum(idx, n - 1) if pad == "repeat" else idx % n
    return idx


def train_indices(n: int, frames: int, stride: int, rng: np.random.Generator, pad: str = "repeat") -> np.ndarray:
    """Frame numbers (frames,) of one training clip of a video of n frames: a uniformly random start, fixed stride.

    Short videos: the stride shrinks to the largest that fits (see
    :class:`VideoClips`); below ``frames`` frames the clip is padded.
    """
    s = _fit_stride(n, frames, stride)
    span = (frames - 1) * s + 1
    start = int(rng.integers(0, n - span + 1)) if span <= n else 0
    return _clip_at(start, n, frames, s, pad)


def eval_indices(n: int, frames: int, stride: int, num_clips: int, pad: str = "repeat") -> np.ndarray:
    """Frame numbers (num_clips, frames) of evenly spaced validation clips.

    With ``last`` the latest possible start, clip k starts at
    ``round(last * (k + 1/2) / num_clips)``: the centres of num_clips equal
    parts (one clip: the middle of the video). Short videos repeat clips.
    """
    s = _fit_stride(n, frames, stride)
    last = max(0, n - ((frames - 1) * s + 1))
    starts = np.rint(last * (np.arange(num_clips) + 0.5) / num_clips).astype(int)
    return np.stack([_clip_at(int(t), n, frames, s, pad) for t in starts])


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W) grey or (T, H, W, 3) RGB numpy -> uint8 tensor (C, T, H, W)."""
    t = torch.from_numpy(np.ascontiguousarray(frames))
    return t.unsqueeze(0) if t.ndim == 3 else t.permute(3, 0, 1, 2).contiguous()


class VideoClips(Dataset):
    """Clips of a stored dataset as torch items (the paper's recipe).

    ``source`` is a dataset folder (opened with ``open_dataset(source, split)``),
    a :class:`~fractalvid.storage.store.ClipDataset` (generated grey: C = 1; prepared
    real: C = 3), or any sequence whose items are ``(frames, label)`` with
    frames (T, H, W) or (T, H, W, 3).

    - ``train=True``: ``(clip uint8 (C, frames, H, W), label)``, one clip of
      ``frames`` frames ``stride`` apart from a uniformly random start. The
      stride is not jittered. With ``load_size`` the clip is resized (short
      side ``load_size``) and centre-cropped to a ``load_size`` square, so
      real videos of different aspect ratios batch together (for data
      prepared at short side 128, ``load_size=128`` only crops); without it
      items come at the stored size. Random crops are the augmentation's job.
    - ``train=False``: ``(clips uint8 (num_clips, C, frames, H, W), label)``,
      evenly spaced clips (:func:`eval_indices`); ``size`` (the network's input, the paper's 112) applies
      :func:`~fractalvid.learning.presets.eval_views`: with ``crops=1`` the short side resized to
      ``load_size(size)`` and the centre ``size`` crop; with ``crops=3``, three ``size`` crops across the
      frame resized to short side ``size`` (then ``num_clips * crops`` views, whose scores are averaged).

    Short videos: when ``(frames - 1) * stride + 1`` exceeds the video, the
    stride shrinks to the largest that fits (a 7-frame video at frames=8,
    stride=2 is read at stride 1); when the video has fewer than ``frames``
    frames, ``pad="repeat"`` repeats its last frame and ``pad="loop"`` starts
    it again. Validation clips of a short video may repeat.

    Randomness: item i of epoch e draws from
    ``np.random.default_rng([seed, e, i])``, whatever the worker, so batches
    do not depend on ``num_workers``. Call :meth:`set_epoch` before each
    epoch; DataLoader workers see it when they start, so keep the default
    ``persistent_workers=False``.
    """

    def __init__(self, source, frames: int = 8, stride: int = 2, train: bool = True, num_clips: int = 10,
                 seed: int = 0, split: str | None = None, pad: str = "repeat", load_size: int | None = None,
                 size: int | None = None, crops: int = 1):
        for name, value in (("frames", frames), ("stride", stride), ("num_clips", num_clips), ("seed", seed),
                            ("crops", crops)):
            _check_int(name, value, 0 if name == "seed" else 1, "an integer >= " + ("0" if name == "seed" else "1"))
        for name, value in (("load_size", load_size), ("size", size)):
            if value is not None:
                _check_int(name, value, 1, "None or an integer >= 1")
        if pad not in PADS:
            raise ValueError(f"pad={pad!r} is not accepted: expected one of {PADS}")
        if isinstance(source, (str, os.PathLike)):
            source = open_dataset(source, split)
        elif split is not None:
            raise ValueError(f"split={split!r} is only accepted with a dataset folder: pass open_dataset(..., split)")
        self.source, self.frames, self.stride, self.train = source, frames, stride, train
        self.num_clips, self.seed, self.pad = num_clips, seed, pad
        self.load_size, self.size, self.crops = load_size, size, crops
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.source)

    @property
    def labels(self) -> np.ndarray:
        if isinstance(self.source, (ClipDataset, MemoryClips)):
            return self.source.labels
        return np.array([self.source[i][1] for i in range(len(self.source))])

    def _frames(self, i: int, idx: np.ndarray) -> tuple[np.ndarray, int]:
        if isinstance(self.source, ClipDataset):  # decode only up to the last frame needed
            return self.source.read(i, idx), self.source.rows[i]["label"]
        frames, label = self.source[i]
        return np.asarray(frames)[idx], label

    def _n_frames(self, i: int) -> int:
        if isinstance(self.source, ClipDataset):
            return self.source.rows[i]["frames"]
        return len(self.source[i][0])

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} is out of range for {len(self)} videos")
        n = self._n_frames(i)
        if self.train:
            idx = train_indices(n, self.frames, self.stride, np.random.default_rng([self.seed, self.epoch, i]),
                                self.pad)
            frames, label = self._frames(i, idx)
            clip = _to_tensor(frames)
            if self.load_size is not None:
                clip = resize_center_crop(clip, self.load_size, self.load_size)
            return clip, int(label)
        idx = eval_indices(n, self.frames, self.stride, self.num_clips, self.pad)
        frames, label = self._frames(i, idx.ravel())
        clips = torch.stack([_to_tensor(f) for f in frames.reshape(self.num_clips, self.frames, *frames.shape[1:])])
        if self.size is not None:
            clips = eval_views(clips, self.size, self.crops)
        return clips, int(label)


class MemoryClips:
    """Every clip of a stored dataset decoded once and kept in RAM, as square centre crops of side ``load_size``.

    A sequence of ``(frames uint8 (T, load_size, load_size[, 3]), label)`` for :class:`VideoClips`, which
    then samples, crops and evaluates exactly as from disk (its resize to ``load_size`` is then a no-op). At the
    sizes a CPU trains at, a few thousand clips fit in a few hundred MB, and training reads them with no
    DataLoader workers competing with the compute threads for the cores.
    """

    def __init__(self, source: ClipDataset, load_size: int, progress: bool = False):
        _check_int("load_size", load_size, 1, "an integer >= 1")
        self.class_names, self.card = source.class_names, source.card
        self.clips, labels = [], []
        for i in tqdm(range(len(source)), desc="decoding into memory", leave=False,
                      disable=not progress or not terminal()):
            frames, label = source[i]
            clip = resize_center_crop(_to_tensor(frames), load_size, load_size)   # (C, T, S, S)
            self.clips.append(clip[0].numpy() if clip.shape[0] == 1 else clip.permute(1, 2, 3, 0).numpy())
            labels.append(int(label))
        self._labels = np.array(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return self.clips[i], int(self._labels[i])

    @property
    def labels(self) -> np.ndarray:
        return self._labels

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.clips)
