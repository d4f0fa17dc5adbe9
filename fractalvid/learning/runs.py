"""A training run's folder, read back: its per-epoch history and its last evaluation's confusion matrix.

:mod:`fractalvid.learning.train` writes ``history.csv`` and ``confusion.csv`` into each run's folder; the
evaluation (:mod:`fractalvid.evaluation.protocol` pools the folds, :mod:`fractalvid.evaluation.report`
draws them) reads them with these functions.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

# a run that chooses its epoch on held-out training clips (TrainConfig.select_split) scores them every epoch
# in these columns, and its test part once, after the run: its val_* columns stay empty per epoch
SELECT_COLUMNS = ("select_loss", "select_top1")


def read_history(run: str | Path) -> dict[str, np.ndarray]:
    """A run's history.csv (give the run folder or the file) as columns (missing values are NaN)."""
    path = Path(run)
    with open(path / "history.csv" if path.is_dir() else path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) if r[k] not in ("", None) else np.nan for r in rows]) for k in rows[0]} \
        if rows else {}


def read_confusion(run: str | Path) -> tuple[list[str], np.ndarray]:
    """(class names, counts[truth, prediction]) of a run's last evaluation."""
    with open(Path(run) / "confusion.csv", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0][1:], np.array([[int(v) for v in r[1:]] for r in rows[1:]])


def pooled_history(runs: list[str | Path]) -> dict[str, np.ndarray]:
    """The per-epoch curves of the folds of one protocol run, pooled: validation top-1/top-5 and loss
    weighted by each fold's number of test clips (its confusion matrix's total), the rest averaged. Each
    epoch pools the folds that have a value there: folds stopped early (``select_split``) leave the later
    epochs to the folds that trained on. The held-out split's columns (``SELECT_COLUMNS``) are always there,
    NaN in runs without one, so that a plot of either top-1 exists for every run (dvc.yaml names both)."""
    histories = [read_history(r) for r in runs]
    weights = np.array([read_confusion(r)[1].sum() for r in runs], dtype=float)
    epochs = max(len(h["epoch"]) for h in histories)
    pooled = {"epoch": np.arange(1, epochs + 1, dtype=float)}
    for key in [*histories[0], *(k for k in SELECT_COLUMNS if k not in histories[0])]:
        if key == "epoch":
            continue
        stack = np.full((len(runs), epochs), np.nan)
        for row, h in zip(stack, histories):
            if key in h:
                row[:len(h[key])] = h[key]
        w = np.where(np.isnan(stack), 0.0, (weights if key.startswith("val_") else np.ones(len(runs)))[:, None])
        with np.errstate(invalid="ignore"):   # an epoch no fold has a value for stays NaN
            pooled[key] = (np.nan_to_num(stack) * w).sum(0) / w.sum(0)
    return pooled


def write_history(history: dict[str, np.ndarray], path: str | Path) -> None:
    """Columns as :func:`read_history` gives them back to a CSV file (DVC plots read it)."""
    keys = list(history)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(keys)
        for row in zip(*(history[k] for k in keys)):
            w.writerow(["" if np.isnan(v) else (int(v) if k == "epoch" else f"{v:.6g}") for k, v in zip(keys, row)])
