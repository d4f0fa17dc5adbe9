"""The evaluation protocol, run: every fold of a fine-tuning recipe, pooled so that each clip is tested once.

Which clips each fold trains and tests on is :mod:`fractalvid.learning.splits`; how two initialisations
compare (paired seeds, pre-training draws, intervals) is :mod:`fractalvid.evaluation.stats`.
"""
from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np

from ..checks import check
from ..learning.runs import read_confusion
from ..learning.train import train


def train_folds(cfg, out, progress: bool = True) -> dict:
    """Fine-tune ``cfg`` (a :class:`~fractalvid.learning.train.TrainConfig`) once per fold, in ``out/fold<k>``,
    and pool the test clips of all folds (each clip is tested once). With ``folds`` None (a real set's official
    split) there is one run, in ``out/fold0``: it trains on the set's train split and tests on its test split.

    Returns {"top1", "top5", "test_clips", "train_top1" (mean over folds), "folds": [each fold's metrics],
    "confusion": counts[truth, prediction] summed over folds, "classes", "machine" (what the digits depend on,
    fractalvid.numerics.machine)}; resumes finished folds.
    """
    check(cfg.folds is None or cfg.folds >= 2, "folds", cfg.folds, "None (the official split) or an integer >= 2")
    folds, correct5, total, confusion, classes = [], 0.0, 0, None, None
    for k in range(cfg.folds or 1):
        run = Path(out) / f"fold{k}"
        m = train(cfg if cfg.folds is None else cfg.replace(fold=k), run, progress=progress)
        classes, counts = read_confusion(run)
        n = int(counts.sum())
        confusion = counts if confusion is None else confusion + counts
        correct5 += m["val_top5"] * n
        total += n
        folds.append({"fold": k, "test_clips": n, **m})
    return {"top1": float(np.trace(confusion)) / total, "top5": correct5 / total, "test_clips": total,
            "train_top1": statistics.fmean(f["train_top1"] for f in folds), "folds": folds,
            "confusion": confusion.tolist(), "classes": classes, "machine": folds[-1]["machine"]}
