"""The evaluation protocol: which clips train and test a fine-tuning run, and how two initialisations compare.

A few points of top-1 on a downstream set of a few hundred clips are within the noise of one split and
one seed, so a comparison of initialisations (fractal against scratch) is made like this:

- **Folds.** Every labelled clip of the dataset is pooled and cut into ``folds`` parts; run ``fold`` tests
  on part ``fold`` and trains on the others, so over the folds every clip is tested exactly once and no
  clip is in two test parts. Where clips share an identity (the built-in action benchmark's actors, or a
  prepared real set's ``group`` column, e.g. Weizmann's actors) the parts are whole identities, so test
  actors are never seen in training; otherwise (real clips with no identity, e.g. basketball5) the parts
  are stratified by class. The folds depend on the dataset alone.
- **Labelled fraction.** ``label_fraction`` keeps that share of each class's training clips (at least
  one), drawn from (fold, seed): both initialisations of a seed see the same subset.
- **Validation.** ``holdout`` keeps that share of the training clips out of training as split "holdout":
  whole identities where clips have them (at least one actor), else that share of each class (at least
  one clip). Recipes (learning rate, epochs) are chosen on it, never on the test part.
- **Paired seeds.** The same seeds, hence the same subsets, data order and augmentation, for both
  initialisations; the margin of a seed is its fractal accuracy minus its scratch accuracy, pooled over
  the folds; :func:`paired_margin` reports their mean with a 95 % Student-t interval.
- **Pre-training draws.** One pre-trained network is one draw of its recipe's luck (another pre-training
  seed trained the default to a margin half as large), so a claim about the recipe needs several: fine-tuning
  seed ``s`` starts from draw :func:`pretraining_draw` ``(s, draws)``, and :func:`margin_over_draws` averages
  the seeds of each draw and puts the interval over the draw means.

:func:`split_indices` gives the row numbers of each split for one run; :func:`pooled_accuracy`,
:func:`paired_margin` and :func:`margin_over_draws` do the statistics.
"""
from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np

from .checks import check

PROTOCOL_SPLITS = ("train", "test", "holdout")
# two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (beyond: the normal's 1.96 is within 2 %)
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def clip_groups(card: dict, rows: list[dict]) -> np.ndarray | None:
    """The identity of each clip that must not straddle train and test (an actor), or None.

    The built-in action benchmark plays the j-th clip of a class by actor ``j % actors`` (see
    :func:`fractalvid.actions.clip_layout`); a prepared real set whose records carry a group (Weizmann's
    actor; :class:`fractalvid.real.VideoRecord`) has it in the manifest's ``group`` column; other datasets
    carry no identity.
    """
    spec = card.get("settings") or {}
    if card.get("family") != "actions":
        if rows and all(r.get("group") for r in rows):
            return np.array([str(r["group"]) for r in rows])
        return None
    from .actions import ActionConfig, clip_layout

    cfg = ActionConfig(**{k: v for k, v in (spec.get("options") or {}).items() if k in ("actors", "test_actors")})
    return np.array([clip_layout(int(r["index"]), int(spec["per_class"]), cfg)[1] for r in rows])


def fold_of(labels: np.ndarray, groups: np.ndarray | None, folds: int) -> np.ndarray:
    """The fold (0..folds-1) of each clip: whole groups dealt round-robin in sorted order, or, without groups,
    each class's clips dealt round-robin in a fixed shuffled order (stratified). A function of the data only."""
    labels = np.asarray(labels)
    out = np.empty(len(labels), dtype=np.int64)
    if groups is not None:
        ids = np.unique(groups)
        check(len(ids) >= folds, "folds", folds, f"at most the number of clip identities ({len(ids)})")
        for k, g in enumerate(ids):
            out[groups == g] = k % folds
        return out
    rng = np.random.default_rng([20241126, folds])
    offset = 0
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        out[rng.permutation(idx)] = (offset + np.arange(len(idx))) % folds
        offset += len(idx)  # classes start where the last one stopped, so fold sizes stay even
    return out


def _per_class_take(idx: np.ndarray, labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A random ``fraction`` of each class's clips among ``idx`` (rounded, at least one per class)."""
    keep = []
    for c in np.unique(labels[idx]):
        members = idx[labels[idx] == c]
        n = max(1, round(fraction * len(members)))
        keep.append(rng.choice(members, size=min(n, len(members)), replace=False))
    return np.sort(np.concatenate(keep)) if keep else idx[:0]


def split_indices(labels, manifest_splits, groups=None, *, folds: int | None = None, fold: int = 0,
                  label_fraction: float = 1.0, holdout: float = 0.0, seed: int = 0) -> dict[str, np.ndarray]:
    """Row numbers of each split of one run: {"train", "test" or the manifest's splits, "holdout" if asked}.

    Without ``folds`` the manifest's splits are kept (``manifest_splits``: each row's split name); with it,
    every row is pooled and fold ``fold`` is "test". Then ``holdout`` and ``label_fraction`` (see the
    module's docstring) shrink "train"; both are drawn from (fold, seed).
    """
    labels = np.asarray(labels)
    if folds is not None:
        check(isinstance(folds, int) and folds >= 2, "folds", folds, "None or an integer >= 2")
        check(isinstance(fold, int) and 0 <= fold < folds, "fold", fold, f"an integer in [0, folds={folds})")
        where = fold_of(labels, groups, folds)
        splits = {"train": np.flatnonzero(where != fold), "test": np.flatnonzero(where == fold)}
    else:
        names = np.asarray(manifest_splits)
        splits = {str(s): np.flatnonzero(names == s) for s in np.unique(names)}
    check(0 < label_fraction <= 1, "label_fraction", label_fraction, "a number in (0, 1]")
    check(0 <= holdout < 1, "holdout", holdout, "a number in [0, 1)")
    if "train" not in splits:
        return splits
    rng = np.random.default_rng([20241126, fold, seed])
    train = splits["train"]
    if holdout > 0 and groups is not None:  # hold out whole identities, as the test part does
        ids = np.unique(np.asarray(groups)[train])
        check(len(ids) >= 2, "holdout", holdout, f"0: the training part has {len(ids)} identity, none to spare")
        out = rng.choice(ids, size=min(len(ids) - 1, max(1, round(holdout * len(ids)))), replace=False)
        splits["holdout"] = train[np.isin(np.asarray(groups)[train], out)]
        train = np.setdiff1d(train, splits["holdout"])
    elif holdout > 0:
        splits["holdout"] = _per_class_take(train, labels, holdout, rng)
        train = np.setdiff1d(train, splits["holdout"])
    if label_fraction < 1:
        train = _per_class_take(train, labels, label_fraction, rng)
    splits["train"] = train
    return splits


# ------------------------------------------------------------------ statistics

def t975(df: int) -> float:
    """The two-sided 95 % quantile of Student's t with ``df`` degrees of freedom."""
    check(isinstance(df, int) and df >= 1, "df", df, "an integer >= 1")
    return T975[df - 1] if df <= len(T975) else 1.96


def mean_ci95(values) -> dict:
    """{"mean", "ci95": [lo, hi], "n"}: the mean and its 95 % Student-t interval (a zero-width one for n = 1)."""
    values = [float(v) for v in values]
    check(len(values) >= 1, "values", values, "at least one number")
    mean = statistics.fmean(values)
    half = t975(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return {"mean": mean, "ci95": [mean - half, mean + half], "n": len(values)}


def pooled_accuracy(correct_by_fold, total_by_fold) -> float:
    """Accuracy over every test clip of every fold (each clip is tested once)."""
    total = sum(total_by_fold)
    return sum(correct_by_fold) / total if total else 0.0


def paired_margin(baseline: dict, treated: dict) -> dict:
    """Margin of ``treated`` over ``baseline``, both {seed: accuracy}, paired by seed.

    Returns {"mean", "ci95", "n", "per_seed": [treated - baseline per seed, in seed order], "seeds",
    "wins": seeds where treated is better}. Raises when the two do not have the same seeds.
    """
    check(set(baseline) == set(treated) and len(baseline) >= 1, "seeds", (sorted(baseline), sorted(treated)),
          "the same, non-empty, set of seeds for both initialisations (paired)")
    seeds = sorted(baseline)
    diffs = [treated[s] - baseline[s] for s in seeds]
    return {**mean_ci95(diffs), "per_seed": diffs, "seeds": seeds, "wins": sum(d > 0 for d in diffs)}


def pretraining_draw(seed: int, draws) -> int:
    """The pre-training draw (a pre-training seed, one of ``draws``) that fine-tuning seed ``seed`` starts
    from: ``draws[seed % len(draws)]``. With draws [0, 1, 2] and seeds [0, 1, 2] every seed has a network of
    its own; with one draw every seed shares it. It depends on the seed alone, so adding a seed changes no
    other seed's draw."""
    draws = list(draws)
    check(len(draws) >= 1 and all(isinstance(d, int) and not isinstance(d, bool) for d in draws), "draws",
          draws, "a non-empty list of integer pre-training seeds")
    check(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0, "seed", seed, "an integer >= 0")
    return draws[seed % len(draws)]


def margin_over_draws(baseline: dict, treated: dict, draws: dict | None = None) -> dict:
    """:func:`paired_margin`, with its interval over pre-training draws: ``draws`` maps each seed to the draw
    its ``treated`` run started from (None: no pre-training, e.g. a Kinetics start).

    The seeds of each draw are averaged first; with two draws or more, ``mean`` and ``ci95`` are the mean and
    Student-t interval of those draw means, which covers the pre-training's luck as well as the fine-tuning's
    (``over``: "pre-training draws"). With one draw the interval is over seeds, which covers the
    fine-tuning's luck only (``over``: "fine-tuning seeds"). Adds ``draws`` (the draws, sorted) and
    ``per_draw`` (their means); ``per_seed``, ``seeds``, ``wins`` and ``n`` stay per seed."""
    m = paired_margin(baseline, treated)
    if draws is None:
        return {**m, "draws": [], "per_draw": [], "over": "fine-tuning seeds"}
    check(set(m["seeds"]) <= set(draws), "draws", draws, f"a draw for every seed of {m['seeds']}")
    by_draw: dict = {}
    for seed, diff in zip(m["seeds"], m["per_seed"]):
        by_draw.setdefault(draws[seed], []).append(diff)
    keys = sorted(by_draw)
    per_draw = [statistics.fmean(by_draw[k]) for k in keys]
    out = {**m, "draws": keys, "per_draw": per_draw, "over": "fine-tuning seeds"}
    if len(keys) >= 2:
        over = mean_ci95(per_draw)
        out.update(mean=over["mean"], ci95=over["ci95"], over="pre-training draws")
    return out


# ------------------------------------------------------------------ running it

def train_folds(cfg, out, progress: bool = True) -> dict:
    """Fine-tune ``cfg`` (a :class:`~fractalvid.train.TrainConfig` with ``folds`` set) once per fold, in
    ``out/fold<k>``, and pool the test clips of all folds (each clip is tested once).

    Returns {"top1", "top5", "test_clips", "train_top1" (mean over folds), "folds": [each fold's metrics],
    "confusion": counts[truth, prediction] summed over folds, "classes", "machine" (what the digits depend on,
    fractalvid.numerics.machine)}; resumes finished folds.
    """
    from .report import read_confusion
    from .train import train

    check(cfg.folds is not None, "folds", cfg.folds, "an integer >= 2 (train_folds runs every fold)")
    folds, correct5, total, confusion, classes = [], 0.0, 0, None, None
    for k in range(cfg.folds):
        run = Path(out) / f"fold{k}"
        m = train(cfg.replace(fold=k), run, progress=progress)
        classes, counts = read_confusion(run)
        n = int(counts.sum())
        confusion = counts if confusion is None else confusion + counts
        correct5 += m["val_top5"] * n
        total += n
        folds.append({"fold": k, "test_clips": n, **m})
    return {"top1": float(np.trace(confusion)) / total, "top5": correct5 / total, "test_clips": total,
            "train_top1": statistics.fmean(f["train_top1"] for f in folds), "folds": folds,
            "confusion": confusion.tolist(), "classes": classes, "machine": folds[-1]["machine"]}
