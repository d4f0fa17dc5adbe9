"""Which clips train, test and choose a recipe in one run: folds, labelled fraction, held-out clips.

- **Folds.** Every labelled clip of the dataset is pooled and cut into ``folds`` parts; run ``fold`` tests
  on part ``fold`` and trains on the others, so over the folds every clip is tested exactly once and no
  clip is in two test parts. Where clips share an identity (the built-in action benchmark's actors, or a
  prepared real set's ``group`` column: Weizmann's actors, UCF101's groups, source videos) the parts are
  whole identities, so test identities are never seen in training; a set without one (a generic folder,
  e.g. basketball5) is folded by class only when its section says ``split_by: class`` (:func:`set_protocol`).
  The folds depend on the dataset alone.
- **Labelled fraction.** ``label_fraction`` keeps that share of each class's training clips (at least
  one), drawn from (fold, seed): both initialisations of a seed see the same subset.
- **Validation.** ``holdout`` keeps that share of the training clips out of training as split "holdout":
  whole identities where clips have them (at least one actor), else that share of each class (at least
  one clip). Recipes (learning rate, epochs) are chosen on it, never on the test part.

:func:`split_indices` gives the row numbers of each split for one run (:mod:`fractalvid.learning.train`
builds its data with it; :mod:`fractalvid.evaluation.protocol` runs every fold).
"""
from __future__ import annotations

import numpy as np

from ..checks import check
from ..clips.actions import ActionConfig, clip_layout

PROTOCOL_SPLITS = ("train", "test", "holdout")
# A downstream set's protocol: the keys of its params.yaml section that say how its clips are split (the other
# keys say how the set is made). ``folds: null`` keeps the set's official train/test split; ``folds: N`` pools
# the clips and folds them by the identity they share (``split_by: identity``), or, for a set without one, by
# class if asked (``split_by: class``: clips of one scene or actor may then be on both sides).
PROTOCOL_KEYS = ("folds", "split_by")
SPLIT_BY = ("identity", "class")
# the sources whose clips carry an identity (fractalvid.storage.real.official's listers; the built-in benchmark's
# actors): every source but a generic folder
WITHOUT_IDENTITY = ("generic",)


def set_protocol(name: str, section: dict) -> dict:
    """``{"folds", "split_by"}`` of downstream set ``name`` (its params.yaml section), checked before any work.

    Refuses a missing key, a bad value, and ``folds`` on a set whose clips carry no identity unless
    ``split_by: class`` says that splitting by class is meant.
    """
    missing = [k for k in PROTOCOL_KEYS if k not in section]
    if missing:
        raise ValueError(f"downstream.{name} has no {' or '.join(missing)}: every downstream set states its "
                         "protocol, folds (null: the official split; N: N folds by identity) and split_by "
                         f"(one of {SPLIT_BY})")
    folds, split_by = section["folds"], section["split_by"]
    check(folds is None or (isinstance(folds, int) and not isinstance(folds, bool) and folds >= 2),
          f"downstream.{name}.folds", folds, "null (the official train/test split) or an integer >= 2")
    check(split_by in SPLIT_BY, f"downstream.{name}.split_by", split_by, f"one of {SPLIT_BY}")
    source = section.get("source", "actions" if section.get("family") == "actions" else None)
    if folds is not None and split_by == "identity" and source in WITHOUT_IDENTITY:
        raise ValueError(f"downstream.{name}: folds={folds} is refused: a {source} set's clips carry no identity "
                         "(actor, scene or source video) to fold by, so clips of one identity could land in both "
                         "train and test. Set folds: null for its own train/test split, or split_by: class to "
                         "fold by class knowingly")
    return {"folds": folds, "split_by": split_by}


def clip_groups(card: dict, rows: list[dict]) -> np.ndarray | None:
    """The identity of each clip that must not straddle train and test (an actor), or None.

    The built-in action benchmark plays the j-th clip of a class by actor ``j % actors`` (see
    :func:`fractalvid.clips.actions.clip_layout`); a prepared real set whose records carry a group (Weizmann's
    actor; :class:`fractalvid.storage.real.VideoRecord`) has it in the manifest's ``group`` column; other datasets
    carry no identity.
    """
    spec = card.get("settings") or {}
    if card.get("family") != "actions":
        if rows and all(r.get("group") for r in rows):
            return np.array([str(r["group"]) for r in rows])
        return None
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
