"""The tour's chapter 12b (notebooks/00_tour.ipynb): the clips the pipeline trained on beside the clips it is
tested on, and what pre-training on fractal clips changed in the network's first layer.

Both read what the pipeline made: a clip store (:func:`read_store`: ``data/fractal``, ``data/actions``, a prepared
real set) and a pre-training checkpoint (:func:`first_layer`), whose starting weights are rebuilt from its seed
as the training run built them. Every image goes through :func:`fractalvid.tour.picture`, so these figures stand
the same way up as the tour's others.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .checks import check
from .learning.loaders import _seed   # the seed a training run draws its network from (Run.__init__)
from .learning.models import build_model, load_checkpoint
from .learning.presets import IMAGENET_STD
from .storage.store import open_dataset
from .tour import picture

BLACK = 16   # of 255: a pixel below it is black (no point landed, in a fractal frame)
CHANGE = 16  # of 255: a pixel that changes by more from one frame to the next moves


# ------------------------------------------------------------------ clips beside clips

def read_store(path: str | Path, class_name: str | None = None, sample: int = 12) -> dict | str:
    """The first clip of the dataset at ``path`` (the first of class ``class_name`` where the set names its classes
    and has that one) and what its clips look like: {"frames": (T, H, W) grey or (T, H, W, 3) colour, "label":
    which clip, "y_up": its rows count y upwards (a fractal set: the renderer's frames), "black": the share of
    pixels below BLACK, "changing": the share that change by more than CHANGE from one frame to the next, each
    the median over ``sample`` clips spread over the set}. Where ``path`` holds no finished dataset (the stage
    that makes it has not run), a sentence saying so: a figure shows it in place of the clip."""
    check(isinstance(sample, int) and sample >= 1, "sample", sample, "an integer >= 1")
    if not (Path(path) / "manifest.csv").exists():
        return f"absent, no prepared set at {path} (docs/data.md: how to prepare one)"
    ds = open_dataset(path)
    names = ds.class_names or []
    first = next((i for i, r in enumerate(ds.rows) if class_name in names and names[r["label"]] == class_name), 0)
    label = names[ds.rows[first]["label"]] if names else f"class {ds.rows[first]['label']}"
    picks = np.unique(np.linspace(0, len(ds) - 1, min(sample, len(ds))).round().astype(int))
    return _described(ds.read(first), f"{label}, clip {first} of {len(ds)}", ds.card.get("family") == "fractal",
                      [ds.read(int(i)) for i in picks])


def rendered_actions(section: dict, class_name: str = "jack", sample: int = 12) -> dict:
    """:func:`read_store`'s dict for the built-in benchmark of ``section`` (params.yaml's downstream.actions),
    its clips rendered again from (seed, index) as the ``downstream@actions`` stage renders them before
    encoding (:func:`fractalvid.clips.actions.clip_for_index` is pure in them): the tour needs no prepared set."""
    from .clips.actions import ACTIONS, ActionConfig, clip_for_index   # the renderer: only for this figure

    check(class_name in ACTIONS, "class_name", class_name, f"one of {ACTIONS}")
    cfg, per_class = ActionConfig(**(section.get("options") or {})), section["per_class"]
    clips = section["classes"] * per_class
    first = ACTIONS.index(class_name) * per_class
    picks = np.unique(np.linspace(0, clips - 1, min(sample, clips)).round().astype(int))
    render = lambda i: clip_for_index(section["seed"], int(i), per_class, cfg)[0]
    return _described(render(first), f"{class_name}, clip {first} of {clips}", False, [render(i) for i in picks])


def _described(frames: np.ndarray, label: str, y_up: bool, sample: list[np.ndarray]) -> dict:
    """A clip to draw and its set's look: the median over ``sample`` of the share of black pixels and of the
    share that change by more than CHANGE from one frame to the next."""
    black, changing = [], []
    for clip in sample:
        grey = clip.astype(np.float32)
        grey = grey.mean(-1) if grey.ndim == 4 else grey
        black.append(float((grey < BLACK).mean()))
        changing.append(float((np.abs(np.diff(grey, axis=0)) > CHANGE).mean()) if len(grey) > 1 else 0.0)
    return {"frames": frames, "label": label, "y_up": y_up, "black": float(np.median(black)),
            "changing": float(np.median(changing))}


def clips_figure(rows: dict[str, dict | str], columns: int = 5, size: float = 1.4) -> Figure:
    """Clips as rows (name -> :func:`read_store`'s dict), ``columns`` frames of each spread from its start to its
    end, each row labelled with its name, its clip and its set's black and changing shares; a row whose store is
    absent (name -> a sentence) says so instead."""
    check(len(rows) >= 1 and isinstance(columns, int) and columns >= 2, "rows, columns", (len(rows), columns),
          "at least one row and two columns")
    heights = [0.3 if isinstance(clip, str) else 1 for clip in rows.values()]   # an absent row: one line
    fig, axes = plt.subplots(len(rows), columns, figsize=(size * columns + 2.4, (size + 0.3) * sum(heights)),
                             squeeze=False, gridspec_kw={"height_ratios": heights})
    for r, (name, clip) in enumerate(rows.items()):
        if isinstance(clip, str):
            for ax in axes[r]:
                ax.axis("off")
            axes[r, 0].text(0, 0.5, f"{name}: {clip}", transform=axes[r, 0].transAxes, va="center", fontsize=10,
                            in_layout=False)   # it runs across the row's empty axes
            continue
        frames = clip["frames"]
        for k, ax in enumerate(axes[r]):
            t = round(k * (len(frames) - 1) / (columns - 1))
            picture(ax, frames[t], clip["y_up"])
            ax.set_xlabel(f"frame {t}", fontsize=7)
            if r == 0 or isinstance(list(rows.values())[r - 1], str):
                ax.set_title("start" if k == 0 else "end" if k == columns - 1 else f"{k / (columns - 1):.0%}",
                             fontsize=9)
        axes[r, 0].set_ylabel(f"{name}\n{clip['label']}\nits set: {clip['black']:.0%} of pixels black,\n"
                              f"{clip['changing']:.0%} change per frame", fontsize=8, rotation=0, ha="right",
                              va="center")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ the first layer

def first_conv(state: dict) -> np.ndarray:
    """The weights of a network's first convolution, the one that reads the 3 input channels, from its state
    dict: (filters, 3, k, k) (TSM-ResNets' trunk.conv1, TSM-MobileNetV2's first; a 3D one summed over time)."""
    w = next((v for v in state.values() if v.ndim in (4, 5) and v.shape[1] == 3), None)
    check(w is not None, "state", f"{len(state)} tensors", "a network whose first convolution reads 3 channels")
    w = w.detach().float().numpy()
    return w.sum(2) if w.ndim == 5 else w


def grey_filters(weights: np.ndarray) -> np.ndarray:
    """What each filter (filters, 3, k, k) does to a grey frame, (filters, k, k): the network's input repeats the
    grey frame in 3 channels, each normalised by its ImageNet std (``presets.normalise``), so a frame meets
    sum_c W_c / std_c (the means only add a constant)."""
    return np.einsum("fcyx,c->fyx", np.asarray(weights, np.float64), 1 / np.asarray(IMAGENET_STD))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    norm = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / norm) if norm > 0 else 0.0


def neighbour_correlation(filters: np.ndarray) -> float:
    """The correlation of every weight of ``filters`` (..., k, k) with its right and its lower neighbour: about 0
    for independent random weights, towards 1 for smooth filters; 0 for constant ones."""
    f = np.asarray(filters, np.float64)
    return _correlation(np.concatenate([f[..., :, :-1].ravel(), f[..., :-1, :].ravel()]),
                        np.concatenate([f[..., :, 1:].ravel(), f[..., 1:, :].ravel()]))


def channel_agreement(weights: np.ndarray) -> float:
    """How alike the input channels of each filter (filters, channels, k, k) are: the correlation of each pair of
    its channels' weights, averaged over pairs and filters (about 0 for random weights; 0 where nothing varies)."""
    w = np.asarray(weights, np.float64)
    pairs = [(i, j) for i in range(w.shape[1]) for j in range(i + 1, w.shape[1])]
    return float(np.mean([_correlation(f[i], f[j]) for f in w for i, j in pairs]))


def initial_state(checkpoint: dict) -> dict:
    """The weights a training run started from, rebuilt from its checkpoint (:func:`load_checkpoint`) as
    ``fractalvid.learning.train.Run`` built them: torch seeded from the run's seed, then the network of its arch,
    classes, frames and dropout. A run from scratch only; torch's global generator is left as it was."""
    cfg = checkpoint.get("config", {})
    check(cfg.get("init", "scratch") == "scratch", "init", cfg.get("init"), "'scratch': a run that started from "
          "random weights (any other started from a checkpoint)")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_seed(cfg["seed"], 0, 0))
        model = build_model(checkpoint["arch"], max(len(checkpoint["classes"]), 1), frames=cfg["frames"],
                            dropout=cfg["dropout"])
    return model.state_dict()


def first_layer(path: str | Path) -> dict:
    """What pre-training changed in the first layer of the network saved at ``path`` (a run's model.pt, trained from
    scratch): {"arch", "initial": its weights at the start (:func:`initial_state`), "trained": at the end, each
    (filters, 3, k, k); "grey": name -> :func:`grey_filters` of the initial, trained weights and of the change;
    "smooth": name -> :func:`neighbour_correlation` of those; "channels": :func:`channel_agreement` of the change;
    "relative_change": |trained - initial| / |initial|; "same_start": the correlation of trained and initial
    weights (about 0 had the start not been rebuilt right)}."""
    checkpoint = load_checkpoint(path)
    initial, trained = first_conv(initial_state(checkpoint)), first_conv(checkpoint["encoder"])
    check(initial.shape == trained.shape, "first layer", trained.shape, f"{initial.shape}, as the rebuilt network's")
    grey = {"initial": grey_filters(initial), "trained": grey_filters(trained), "change": grey_filters(trained - initial)}
    return {"arch": checkpoint["arch"], "initial": initial, "trained": trained, "grey": grey,
            "smooth": {name: neighbour_correlation(f) for name, f in grey.items()},
            "channels": channel_agreement(trained - initial),
            "relative_change": float(np.linalg.norm(trained - initial) / np.linalg.norm(initial)),
            "same_start": _correlation(trained.ravel(), initial.ravel())}


def filter_mosaic(filters: np.ndarray, scale: float, columns: int | None = None, y_up: bool = True) -> np.ndarray:
    """Filters (n, k, k) tiled in a grid (``columns`` wide, square by default), the first at the top left, as an
    image with its top row first: 0 is mid grey, +-``scale`` white and black (clipped), the gaps NaN (not drawn).
    ``y_up``: a filter's row index is y upwards, as on the renderer's frames it learned from, so each is drawn
    the way up a pattern it matches is drawn on those frames."""
    f = np.asarray(filters, np.float64)
    check(f.ndim == 3 and len(f) >= 1 and scale > 0, "filters, scale", (f.shape, scale), "(n, k, k) and scale > 0")
    n, k, _ = f.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = -(-n // columns)
    out = np.full((rows * (k + 1) - 1, columns * (k + 1) - 1), np.nan)
    for i, tile in enumerate(f[:, ::-1] if y_up else f):
        r, c = divmod(i, columns)
        out[r * (k + 1):r * (k + 1) + k, c * (k + 1):c * (k + 1) + k] = 127.5 + 127.5 * np.clip(tile / scale, -1, 1)
    return out


def filters_figure(learned: dict, size: float = 2.6) -> Figure:
    """:func:`first_layer`'s grey filters side by side: at the start, after pre-training, and the change, on one
    grey scale (mid grey 0), each titled with its neighbour correlation."""
    grey = learned["grey"]
    scale = float(np.percentile(np.abs(np.concatenate([g.ravel() for g in grey.values()])), 99)) or 1.0
    titles = {"initial": "at the start (rebuilt from\nthe run's seed)", "trained": "after pre-training",
              "change": "the change: trained - start"}
    fig, axes = plt.subplots(1, len(grey), figsize=(size * len(grey), size + 0.7))
    for ax, (name, filters) in zip(np.atleast_1d(axes), grey.items()):
        picture(ax, filter_mosaic(filters, scale), y_up=False)   # the mosaic is top row first, its tiles y-up
        ax.set_title(f"{titles.get(name, name)}\nneighbour correlation {learned['smooth'][name]:.2f}", fontsize=9)
    fig.suptitle(f"{learned['arch']}'s first layer: {len(grey['trained'])} filters as a grey frame meets them",
                 fontsize=10)
    fig.tight_layout()
    return fig


def filter_claims_apply(params: dict, pretext_val_top1: float) -> bool:
    """Whether the first-layer claims hold for the pipeline's draw 0: a network that learned its pretext task
    (held-out top-1 at least 5x chance) from grey clips (no ``real_video``); a smoke run's few steps need not."""
    return pretext_val_top1 >= 5 / params["generate"]["classes"] and not params["pretrain"].get("real_video")
