"""Synthetic clips made on the fly: :class:`FractalStream` renders them inside DataLoader workers (no disk)
and yields the same items as :class:`fractalvid.learning.data.VideoClips`."""
from __future__ import annotations

import itertools

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from ..checks import check_int as _check_int
from ..clips.generate import DatasetSpec, make_clip
from .data import PADS, _to_tensor, train_indices


class FractalStream(IterableDataset):
    """Synthetic clips rendered inside DataLoader workers (no disk): an endless stream of the items of VideoClips.

    Items are ``(clip uint8 (1, frames, R, R), label)``, the clips of
    ``spec`` (any family; rendered by :func:`fractalvid.clips.generate.make_clip`,
    so identical to those a generated dataset would hold before compression)
    sampled as :class:`VideoClips` does for training; labels are
    ``spec.label_split(index)[0]`` (-1 for unsupervised specs). Only clips of
    ``split`` (one of the spec's splits, e.g. "train" or "val") are drawn.

    Reproducibility: the stream is a fixed sequence for each (seed, epoch):
    round r of it is a permutation of the split's clip indices drawn from
    ``default_rng([seed, epoch, 0, r])``, and the clip taken at stream position
    p starts where ``default_rng([seed, epoch, 1, p])`` says. With n
    DataLoader workers, worker w renders the blocks of ``block`` consecutive
    positions numbered w, w + n, w + 2n, ...; the DataLoader takes batches
    from its workers in turn, so with ``block`` equal to the batch size the
    batches are exactly those of ``num_workers=0``, for any worker count.
    Call :meth:`set_epoch` before iterating (workers are started per epoch
    unless ``persistent_workers``, which would keep the old epoch).

    Each worker keeps the parameters of every class it has met (one
    ``make_clip`` class cache per label), so a class is drawn (and, for
    fractals, probed) once per worker rather than once per item.
    """

    def __init__(self, spec: DatasetSpec, frames: int = 8, stride: int = 2, seed: int = 0, split: str = "train",
                 block: int = 1, pad: str = "repeat"):
        if not isinstance(spec, DatasetSpec):
            raise ValueError(f"spec={spec!r} is not accepted: expected a fractalvid.DatasetSpec")
        for name, value in (("frames", frames), ("stride", stride), ("block", block)):
            _check_int(name, value, 1, "an integer >= 1")
        _check_int("seed", seed, 0, "an integer >= 0")
        if pad not in PADS:
            raise ValueError(f"pad={pad!r} is not accepted: expected one of {PADS}")
        splits = [spec.label_split(i)[1] for i in range(spec.n_clips)]
        if split not in splits:
            raise ValueError(f"split={split!r} is not accepted for this spec: expected one of "
                             f"{tuple(sorted(set(splits)))}")
        self.spec, self.frames, self.stride, self.seed = spec, frames, stride, seed
        self.split, self.block, self.pad = split, block, pad
        self.pool = np.array([i for i, s in enumerate(splits) if s == split])
        self.epoch = 0
        self._classes: dict = {}
        self._perm: tuple[int, np.ndarray] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self._perm = None

    def index_at(self, position: int) -> int:
        """The clip index at a stream position of the current epoch."""
        r, j = divmod(position, len(self.pool))
        if self._perm is None or self._perm[0] != r:
            self._perm = (r, np.random.default_rng([self.seed, self.epoch, 0, r]).permutation(len(self.pool)))
        return int(self.pool[self._perm[1][j]])

    def item(self, position: int) -> tuple[torch.Tensor, int]:
        """The item at a stream position of the current epoch (what iteration yields there)."""
        index = self.index_at(position)
        # make_clip keeps one class in the dict it is given: one dict per label keeps them all
        cache = self._classes.setdefault(self.spec.label_split(index)[0], {})
        frames, row = make_clip(self.spec, index, cache)
        rng = np.random.default_rng([self.seed, self.epoch, 1, position])
        idx = train_indices(frames.shape[0], self.frames, self.stride, rng, self.pad)
        return _to_tensor(frames[idx]), int(row["label"])

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        for b in itertools.count(worker, workers):
            for position in range(b * self.block, (b + 1) * self.block):
                yield self.item(position)
