"""What the tour (notebooks/00_tour.ipynb) shows, computed step by step with the generator's own parts.

The generator runs the chaos game in a numba kernel over thousands of walkers; here the same steps are
spelled out in plain numpy for one walker, and the renderer's stages (sigma factor, framing, tone map) are
taken apart so that each can be seen before and after. Slow by design: for teaching and tests only.

The interactive pieces are functions from a few settings to a figure (``*_figure``), their data cached;
:func:`live` puts ipywidgets controls on one, or shows it still where no kernel runs (the executed report).
Every image goes through :func:`picture`, so all figures stand one way up; :func:`slides_pdf` puts them
together for a lecture (``make slides``).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Callable

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
from matplotlib.figure import Figure

from .checks import check
from .clips.ifs import (CURVE_FUNCTIONS, ClipParams, FractalConfig, abs_det, compose, interpolate, perturb,
                        sample_clip, sample_key_frames, sample_sigma_factors)
from .clips.kernels import chaos_game
from .clips.render import Rendered, frame_view, map_tables, render_clip, splat_and_tone_map
from .learning.runs import read_history


def walk(coef: np.ndarray, steps: int, rng: np.random.Generator, start=(0.0, 0.0),
         probabilities=None) -> tuple[np.ndarray, np.ndarray]:
    """One walker of the chaos game: (points (steps + 1, 2), the map chosen at each step (steps,)).

    ``coef`` (K, 6) are one frame's affine maps as flame coefficients (a, b, c, d, e, f):
    x' = a x + b y + c, y' = d x + e y + f. Each step picks map i with probability proportional to
    |det W_i| (what the renderer's lookup tables encode), or ``probabilities`` (K,) when given, and applies
    it; after a few steps the points lie on the attractor whatever the start.
    """
    coef = np.asarray(coef, np.float64)
    check(coef.ndim == 2 and coef.shape[1] == 6 and len(coef) >= 1, "coef shape", coef.shape, "(K, 6) with K >= 1")
    check(isinstance(steps, int) and steps >= 1, "steps", steps, "an integer >= 1")
    det = np.abs(coef[:, 0] * coef[:, 4] - coef[:, 1] * coef[:, 3])
    p = det / det.sum() if det.sum() > 0 else np.full(len(coef), 1 / len(coef))
    if probabilities is not None:
        q = np.asarray(probabilities, float)
        check(q.shape == (len(coef),) and np.all(q >= 0) and q.sum() > 0, "probabilities", probabilities,
              f"{len(coef)} non-negative numbers, one per map, with a positive sum")
        p = q / q.sum()
    chosen = rng.choice(len(coef), size=steps, p=p)
    points = np.empty((steps + 1, 2))
    points[0] = start
    for n, i in enumerate(chosen):
        x, y = points[n]
        a, b, c, d, e, f = coef[i]
        points[n + 1] = a * x + b * y + c, d * x + e * y + f
    return points, chosen


def maps_with_alpha(rng: np.random.Generator, n_maps: int, alpha: float) -> np.ndarray:
    """(1, K, 6) coefficients of K random maps whose singular values sum to ``alpha`` (the sigma factor
    sum_i (s1_i + 2 s2_i)); the generator draws alpha in [(5 + K) / 2, (6 + K) / 2]. Smaller alphas
    shrink every map (the attractor falls to dust), larger ones hardly shrink them (it fills a blob)."""
    check(isinstance(n_maps, int) and n_maps >= 2, "n_maps", n_maps, "an integer >= 2")
    check(0 < alpha < 3 * n_maps, "alpha", alpha, f"a number in (0, 3 K = {3 * n_maps})")
    keys = sample_key_frames(rng, n_maps, p_const_bias=1.0)
    keys.sigma[0] = sample_sigma_factors(rng, n_maps, alpha)
    return interpolate(keys, np.zeros((1, n_maps)), "decomposed")


def render_stages(coef: np.ndarray, cfg: FractalConfig, rng: np.random.Generator) -> dict[str, dict]:
    """One still frame of maps ``coef`` (1, K, 6) at each stage of the renderer, name -> {"image": uint8,
    "hit": share of pixels a point lands on, "bright": share of the image at least half bright}: counted in
    the window the framing searches, [-w, w]^2; in the view it chose (the smallest box holding 90 % of the pixels
    a coarse game lights, plus a margin); each point splatted over splat x splat pixels; then, as the generator
    writes it, log(1 + count). All but the last scale counts linearly to 0..255. The splat changes which pixels
    are hit, the tone map only how bright they are."""
    coef = np.asarray(coef, np.float32)
    check(coef.ndim == 3 and coef.shape[0] == 1 and coef.shape[2] == 6, "coef shape", coef.shape, "(1, K, 6)")
    table = map_tables(coef)
    variation = np.zeros(1, np.int64)
    seeds = rng.integers(1, 2**32, (1, cfg.walkers), dtype=np.uint32)
    res, w, k = cfg.res, cfg.framing_window, cfg.splat
    fixed = np.array([[-w, -w, res / (2 * w), res / (2 * w)]], np.float32)
    view = frame_view(coef, table, variation, cfg, seeds)
    if view is None:
        raise ValueError("these maps put no point in the framing window: nothing to show")
    framed = np.array([[view[0], view[1], res / (view[2] - view[0]), res / (view[3] - view[1])]], np.float32)

    def counts_in(v, border=0):
        return chaos_game(coef, table, variation, v, res, border, cfg.steps, cfg.discard, seeds)[0]

    def stage(counts, image):
        return {"image": image, "hit": float((counts > 0).mean()), "bright": float((image >= 128).mean())}

    def linear(c):
        return (255 * c / max(int(c.max()), 1)).astype(np.uint8)

    one, bordered = counts_in(fixed)[0], counts_in(framed, k // 2)   # the splat reads counts past the frame
    framed_counts = bordered[0, k // 2:k // 2 + res, k // 2:k // 2 + res]
    splatted = sum(bordered[0, dy:dy + res, dx:dx + res].astype(np.int64) for dy in range(k) for dx in range(k))
    return {"fixed window, linear": stage(one, linear(one)),
            "framed, linear": stage(framed_counts, linear(framed_counts)),
            f"framed, {k}x{k} splat, linear": stage(splatted, linear(splatted)),
            f"framed, {k}x{k} splat, log tone map": stage(splatted, splat_and_tone_map(bordered, k, False)[0][0])}


def decomposition_steps(theta: float, phi: float, sigma=(0.8, 0.35), flip1=(1.0, 1.0),
                        flip2=(1.0, 1.0)) -> dict[str, np.ndarray]:
    """The matrices of one map ``W = R(theta) D1 diag(s1, s2) R(phi) D2``, built up step by step: each
    entry is the product so far (2, 2), so that the unit square's image after each step can be drawn:
    rotate by ``phi`` (with the sign flips D2), scale by (s1, s2) along the axes, rotate by ``theta`` (D1)."""
    check(len(sigma) == 2 and 0 <= sigma[1] <= sigma[0] <= 1, "sigma", sigma, "(s1, s2) with 0 <= s2 <= s1 <= 1")
    one = dict(theta=np.array([theta]), phi=np.array([phi]), sigma=np.array([sigma], float),
               flip1=np.array([flip1], float), flip2=np.array([flip2], float))
    first = compose(**{**one, "theta": np.zeros(1), "sigma": np.ones((1, 2)), "flip1": np.ones((1, 2))})[0]
    scaled = compose(**{**one, "theta": np.zeros(1), "flip1": np.ones((1, 2))})[0]
    return {f"rotate by phi = {np.degrees(phi):.0f} deg": first,
            f"scale by s = ({sigma[0]:g}, {sigma[1]:g})": scaled,
            f"rotate by theta = {np.degrees(theta):.0f} deg: W": compose(**one)[0]}


def collapse_ratios(seed: int, n_maps: int, tries: int = 200, p_const_bias: float = 0.2) -> np.ndarray:
    """For each of ``tries`` key-frame draws (seeds ``seed``, ``seed + 1``, ...), the least, over 19 frames, of
    sum |det W| under naive interpolation over the same under decomposed interpolation (1: no collapse)."""
    check(isinstance(tries, int) and tries >= 1, "tries", tries, "an integer >= 1")
    lam = np.linspace(0, 1, 19)[:, None].repeat(n_maps, 1)
    return np.array([float((abs_det(interpolate(keys, lam, "naive")).sum(1)
                            / abs_det(interpolate(keys, lam, "decomposed")).sum(1)).min())
                     for keys in (sample_key_frames(np.random.default_rng(s), n_maps, p_const_bias)
                                  for s in range(seed, seed + tries))])


@lru_cache(maxsize=16)   # the interpolation widget asks again at every press
def collapsing_draw(seed: int, n_maps: int, tries: int = 200, p_const_bias: float = 0.2):
    """Of ``tries`` key-frame draws, the one whose naive interpolation shrinks the most mid-clip (the least
    of :func:`collapse_ratios`): ``(keys, ratio)``. A draw to show what the decomposition prevents:
    entry-by-entry blending passes near singular matrices. The worst of them: their median is a typical one."""
    ratios = collapse_ratios(seed, n_maps, tries, p_const_bias)
    best = int(np.argmin(ratios))
    return sample_key_frames(np.random.default_rng(seed + best), n_maps, p_const_bias), float(ratios[best])


def attractor_points(coef: np.ndarray, depth: int = 11) -> np.ndarray:
    """Points of the attractor of the affine maps ``coef`` (K, 6): the images of map 0's fixed point (a point
    of the attractor) under every composition of ``depth`` maps, (K**depth, 2). Every attractor point lies
    within (largest contraction)**depth x its diameter of one of them."""
    coef = np.asarray(coef, float)
    check(coef.ndim == 2 and coef.shape[1] == 6, "coef shape", coef.shape, "(K, 6) affine maps")
    w, b = coef[:, [0, 1, 3, 4]].reshape(-1, 2, 2), coef[:, [2, 5]]
    points = np.linalg.solve(np.eye(2) - w[0], b[0])[None]       # p = W p + b
    for _ in range(depth):
        points = np.concatenate([points @ wi.T + bi for wi, bi in zip(w, b)])
    return points


def distance_to_attractor(point, coef: np.ndarray, depth: int = 11) -> float:
    """The distance from ``point`` to the attractor of ``coef`` (its points, not the shape's filled outline):
    each map, contracting by r, takes a point at distance d at most r d from the attractor, which it maps into
    itself; to within :func:`attractor_points`' resolution."""
    points = attractor_points(coef, depth)
    return float(np.sqrt(((points - np.asarray(point, float)) ** 2).sum(1).min()))


# ------------------------------------------------------------------ pictures, one orientation

def picture(ax, image: np.ndarray, y_up: bool = True, **style):
    """``image`` on ``ax``, no axis. ``y_up``: its row index is y, upwards, as in the renderer's frames and the
    plots of points (row 0 drawn at the bottom); else an ordinary image, row 0 at the top (the built-in actions,
    the other families). Grey 0..255 unless ``style`` (imshow's keywords) says otherwise."""
    style = {"cmap": "gray", "vmin": 0, "vmax": 255, **style}
    shown = ax.imshow(image, origin="lower" if y_up else "upper", **style)
    ax.set_xticks([]); ax.set_yticks([]); ax.spines[:].set_visible(False)   # no axis, but room for a label
    return shown


def as_rows_top_down(frames: np.ndarray) -> np.ndarray:
    """The renderer's frames (row index = y, upwards) with the top row first, for writers that assume it (a GIF)."""
    return np.ascontiguousarray(np.asarray(frames)[..., ::-1, :])


def show_images(images, titles, size: float = 2.2, suptitle: str | None = None, title_size: float = 9,
                y_up: bool = True) -> Figure:
    """Images side by side with their titles (:func:`picture`)."""
    check(len(images) == len(titles) >= 1, "images, titles", (len(images), len(titles)), "as many of each, >= 1")
    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size + 0.25 + 0.2 * title_size / 8))
    for ax, im, t in zip(np.atleast_1d(axes), images, titles):
        picture(ax, im, y_up); ax.set_title(t, fontsize=title_size)
    if suptitle:
        fig.suptitle(suptitle, fontsize=title_size + 2)
    fig.tight_layout()
    return fig


def frame_grid(rows: dict[str, np.ndarray], frames, y_up=True, size: float = 1.3) -> Figure:
    """Clips as rows (name -> frames (T, H, W)), the frames ``frames`` as columns, each row labelled at its left
    and each column by its frame at the top. ``y_up``: one bool for every row, or name -> bool (:func:`picture`)."""
    frames = list(frames)
    check(len(rows) >= 1 and len(frames) >= 1, "rows and frames", (len(rows), len(frames)), "at least one of each")
    fig, axes = plt.subplots(len(rows), len(frames), figsize=(size * len(frames) + 1.2, (size + 0.1) * len(rows)),
                             squeeze=False)
    for r, (name, clip) in enumerate(rows.items()):
        up = y_up[name] if isinstance(y_up, dict) else y_up
        for ax, t in zip(axes[r], frames):
            picture(ax, clip[min(t, len(clip) - 1)], up)
            if r == 0:
                ax.set_title(f"frame {t}", fontsize=9)
        axes[r, 0].set_ylabel(name, fontsize=9, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ what a student can change

SIERPINSKI = np.array([[0.5, 0, -0.5, 0, 0.5, -0.5], [0.5, 0, 0.5, 0, 0.5, -0.5], [0.5, 0, 0.0, 0, 0.5, 0.5]])


def _frozen(*arrays):
    for a in arrays:   # a cached result is shared by every caller: none may change it
        a.flags.writeable = False


@lru_cache(maxsize=128)   # a slider moved back to a value it had draws at once
def attractor(alpha: float, n_maps: int, res: int = 128, steps: int = 3000, seed: int = 0) -> Rendered:
    """The rendered still attractor of ``n_maps`` random maps with sigma factor ``alpha``
    (:func:`maps_with_alpha`, the maps drawn from ``seed + 1`` as in the tour's sigma-factor chapter)."""
    maps = maps_with_alpha(rng=np.random.default_rng(seed + 1), n_maps=n_maps, alpha=alpha)
    r = render_clip(ClipParams(coef=maps, variation=np.zeros(1, int)), FractalConfig(res=res, steps=steps),
                    np.random.default_rng(seed))
    _frozen(r.frames, r.coverage)
    return r


def attractor_figure(alpha: float = 4.5, n_maps: int = 3, res: int = 128, steps: int = 3000, seed: int = 0) -> Figure:
    """The attractor redrawn for a sigma factor and a number of maps, with its lit share and whether the
    generator would draw that alpha (it draws in [(5 + K) / 2, (6 + K) / 2])."""
    r = attractor(alpha, n_maps, res, steps, seed)
    lo, hi = (5 + n_maps) / 2, (6 + n_maps) / 2
    where = "in the generator's range" if lo <= alpha <= hi else ("below" if alpha < lo else "above") + \
        f" the generator's [{lo:g}, {hi:g}]"
    fig, ax = plt.subplots(figsize=(3.6, 3.9))
    picture(ax, r.frames[0])
    ax.set_title(f"alpha {alpha:g}, {n_maps} maps: {r.coverage[0]:.0%} of pixels lit\n{where}", fontsize=10)
    return fig


@lru_cache(maxsize=128)   # a slider moved back to a value it had draws at once
def density(steps: int, res: int = 128, walkers: int = 128, seed: int = 0) -> np.ndarray:
    """Points per pixel after ``steps`` chaos-game steps of ``walkers`` walkers on the Sierpinski maps,
    counted by the generator's kernel, no step discarded: (res, res), row index = y upwards."""
    check(isinstance(steps, int) and steps >= 1, "steps", steps, "an integer >= 1")
    coef = SIERPINSKI[None].astype(np.float32)
    view = np.array([[-1.1, -1.1, res / 2.2, res / 2.2]], np.float32)
    seeds = np.random.default_rng(seed).integers(1, 2**32, (1, walkers), dtype=np.uint32)
    counts, _ = chaos_game(coef=coef, table=map_tables(coef), variation=np.zeros(1, np.int64), view=view,
                           res=res, border=0, steps=steps, discard=0, seeds=seeds)
    _frozen(counts[0])
    return counts[0]


def density_figure(steps: int = 20, res: int = 128, walkers: int = 128, seed: int = 0) -> Figure:
    """The density building up: points per pixel after ``steps`` steps, log-scaled, with the lit share and
    a colour bar in points per pixel."""
    counts = density(steps, res, walkers, seed)
    fig, ax = plt.subplots(figsize=(4.3, 3.9))
    shown = picture(ax, np.log1p(counts), cmap="magma", vmin=0, vmax=max(np.log1p(counts.max()), 1e-9))
    bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    ticks = [n for n in (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if n <= counts.max()]
    bar.set_ticks(np.log1p(ticks), labels=[str(n) for n in ticks]); bar.set_label("points per pixel (log scale)")
    ax.set_title(f"{steps} steps x {walkers} walkers: {steps * walkers:,} points\n"
                 f"{(counts > 0).mean():.1%} of pixels lit, at most {int(counts.max())} on one", fontsize=10)
    return fig


@lru_cache(maxsize=32)   # a play tick shows another frame of the same clip: render it once
def motion_clip(curve: str, n_frames: int = 18, n_maps: int = 3, res: int = 96, steps: int = 2000, seed: int = 0):
    """A clip whose maps all move along one kind of motion curve (``ifs.CURVE_FUNCTIONS``), with decomposed
    interpolation between two random key frames: ``(lam, frames)``, lam (n_frames, n_maps)."""
    check(curve in CURVE_FUNCTIONS, "curve", curve, f"one of {tuple(CURVE_FUNCTIONS)}")
    keys = sample_key_frames(np.random.default_rng(seed), n_maps, p_const_bias=0.2)
    rng = np.random.default_rng(seed + 1)
    lam = np.stack([CURVE_FUNCTIONS[curve](rng=rng, n_frames=n_frames) for _ in range(n_maps)], axis=1)
    coef = interpolate(keys, lam=lam, motion="decomposed")
    r = render_clip(ClipParams(coef=coef, variation=np.zeros(n_frames, int)), FractalConfig(res=res, steps=steps),
                    np.random.default_rng(seed))
    _frozen(lam, r.frames)
    return lam, r.frames


def motion_figure(curve: str = "sharp", frame: int = 0, n_frames: int = 18, seed: int = 0) -> Figure:
    """A motion curve and its clip replayed: each map's lambda(t), the frame shown marked, and that frame."""
    check(isinstance(frame, int) and 0 <= frame < n_frames, "frame", frame, f"an integer in [0, {n_frames})")
    lam, frames = motion_clip(curve, n_frames=n_frames, seed=seed)
    fig, (ax_curve, ax_frame) = plt.subplots(1, 2, figsize=(7.2, 3.2), gridspec_kw={"width_ratios": [1.4, 1]})
    ax_curve.plot(lam, marker=".", lw=1)
    ax_curve.axvline(frame, color="k", ls=":")
    ax_curve.set_xlabel("frame"); ax_curve.set_ylabel("lambda (each map)")
    ax_curve.set_title(f"'{curve}' motion of {lam.shape[1]} maps", fontsize=10)
    picture(ax_frame, frames[frame]); ax_frame.set_title(f"frame {frame} of {n_frames}", fontsize=10)
    fig.tight_layout()
    return fig


@lru_cache(maxsize=8)   # the two buttons toggle between two clips: render each once
def interpolated_clip(motion: str, n_maps: int = 4, res: int = 96, seed: int = 0):
    """The tour's collapsing draw (:func:`collapsing_draw`) interpolated both ways over 19 frames:
    ``(coef by motion, frames of motion)``."""
    check(motion in ("decomposed", "naive"), "motion", motion, "'decomposed' or 'naive'")
    keys, _ = collapsing_draw(seed=seed, n_maps=n_maps)
    lam = np.linspace(0, 1, 19)[:, None].repeat(n_maps, 1)
    coef = {m: interpolate(keys, lam=lam, motion=m) for m in ("decomposed", "naive")}
    r = render_clip(ClipParams(coef=coef[motion], variation=np.zeros(len(lam), int)), FractalConfig(res=res),
                    np.random.default_rng(1))
    _frozen(r.frames, *coef.values())
    return coef, r.frames


def interpolation_figure(motion: str = "decomposed", n_maps: int = 4, res: int = 96, seed: int = 0) -> Figure:
    """The tour's collapsing draw interpolated one way: five of its frames and its sum of |det W| over the
    clip against the other way's."""
    coef, frames = interpolated_clip(motion, n_maps, res, seed)
    fig, axes = plt.subplots(1, 6, figsize=(11, 2.3), gridspec_kw={"width_ratios": [1.6, 1, 1, 1, 1, 1]})
    for m, c in coef.items():
        axes[0].plot(abs_det(c).sum(1), lw=2.5 if m == motion else 1, alpha=1 if m == motion else 0.4, label=m)
    axes[0].set_xlabel("frame", fontsize=8); axes[0].set_title("sum |det W_i|", fontsize=10)
    axes[0].legend(fontsize=7)
    for ax, t in zip(axes[1:], range(0, len(frames), 4)):
        picture(ax, frames[t]); ax.set_title(f"{motion}, frame {t}", fontsize=9)
    fig.tight_layout()
    return fig


def _show(fig: Figure) -> None:
    display(fig)
    plt.close(fig)   # shown once: the inline backend would draw an open figure again at the cell's end


def live(figure: Callable[..., Figure], controls: dict[str, ipywidgets.ValueWidget], interactive: bool,
         save_as: str | Path | None = None, extra: list[ipywidgets.Widget] = (), hint: str = "") -> None:
    """``figure(**values)`` under ipywidgets ``controls`` (keyword -> widget): with ``interactive`` (JupyterLab)
    redrawn whenever a control moves, under ``hint`` (what to move); without (the executed report, no kernel)
    the figure at the starting values alone, a still image with no hint. That figure is also written to
    ``save_as`` (a slide). ``extra`` widgets (a Play button) sit beside the controls. Returns nothing."""
    fig = figure(**{name: c.value for name, c in controls.items()})
    if save_as is not None:
        fig.savefig(save_as, dpi=120, bbox_inches="tight")
    if not interactive:
        _show(fig)
        return
    plt.close(fig)
    out = ipywidgets.interactive_output(lambda **values: _show(figure(**values)), controls)
    header = [ipywidgets.HTML(f"<b>Try it:</b> {hint}")] if hint else []
    display(ipywidgets.VBox([*header, ipywidgets.HBox([*extra, *controls.values()]), out]))


# ------------------------------------------------------------------ classes, instances and what goes wrong

def perturbation(base: ClipParams, cfg: FractalConfig, seed):
    """An instance of class ``base`` as the generator makes it (``ifs.perturb`` with ``default_rng(seed)``) and
    what it applied, ``(instance, scale (T, 6), offset (K, 6))``: instance = base x scale + offset for each
    present map. Read by perturbing probes with the same draws: p gives scale + offset, 2 p 2 scale + offset."""
    probe = np.array([1.0, 1.0, 1.0, 1.0, 2.0, 1.0])
    one, two = (perturb(np.random.default_rng(seed), ClipParams(np.broadcast_to(m * probe, base.coef.shape).copy(),
                                                               base.variation), cfg).coef for m in (1, 2))
    scale = (two - one) / probe
    return perturb(np.random.default_rng(seed), base, cfg), scale[:, 0], (one - scale * probe)[0]


def class_and_instances(cfg: FractalConfig, seed: int = 0, instances: int = 2, tries: int = 64):
    """A class (a random clip's maps and motion, redrawn until it renders well) and ``instances`` of it
    (:func:`perturbation`, each redrawn while degenerate, as the generator does): name -> (params, frames,
    scale, offset); the class's scale is 1 and its offset 0."""
    out = {}
    for attempt in range(tries):
        base = sample_clip(np.random.default_rng([seed, attempt]), cfg)
        if (r := render_clip(base, cfg, np.random.default_rng([seed, attempt]))).problem is None:
            out["class"] = (base, r.frames, np.ones((base.n_frames, 6)), np.zeros(base.coef.shape[1:]))
            break
    for i in range(1, instances + 1) if out else ():
        for attempt in range(tries):
            inst, scale, offset = perturbation(base, cfg, seed=[seed, i, attempt])
            if (r := render_clip(inst, cfg, np.random.default_rng([seed, i, attempt, 1]))).problem is None:
                out[f"instance {i}"] = (inst, r.frames, scale, offset)
                break
    if len(out) < instances + 1:
        raise RuntimeError(f"no usable class or instance in {tries} draws from seed {seed}: raise tries")
    return out


def what_goes_wrong(cfg: FractalConfig, seed: int = 0, draws: int = 120) -> dict:
    """``draws`` random clips (sample_clip) rendered with ``cfg``: "counts", problem -> draws ("kept": none);
    "examples", problem -> its first Rendered; "shrinking", the kept draw whose lit share falls most mid-clip,
    (Rendered, least lit share / the smaller of the end frames'): the view is chosen from the end frames."""
    counts, examples, shrinking = {}, {}, None
    for s in range(seed, seed + draws):
        rng = np.random.default_rng([s, 7])
        r = render_clip(sample_clip(rng, cfg), cfg, rng)
        counts[r.problem or "kept"] = counts.get(r.problem or "kept", 0) + 1
        examples.setdefault(r.problem, r)
        ratio = float(r.coverage.min() / min(r.coverage[0], r.coverage[-1])) if r.problem is None else 1.0
        if shrinking is None or ratio < shrinking[1]:
            shrinking = (r, ratio)
    return {"counts": counts, "examples": {k: v for k, v in examples.items() if k}, "shrinking": shrinking}


# ------------------------------------------------------------------ what the pipeline measured

def pipeline_results(seeds: list[int], root: str | Path = ".") -> dict | None:
    """The pipeline's results under ``root`` for the pre-training draws ``seeds`` (params.yaml's pretrain.seeds):
    {"results": reports/metrics/results.json, "pretrain": draw -> (reports/metrics/pretrain/<draw>.json,
    reports/plots/pretrain/<draw>.csv as columns), "generate": reports/metrics/generate.json or None}; None while
    results.json or a draw's files are absent. Only the listed draws: a profile with fewer leaves others' files."""
    metrics, plots = Path(root) / "reports/metrics", Path(root) / "reports/plots/pretrain"
    draws = [str(seed) for seed in seeds]
    if not (metrics / "results.json").exists() or not draws or not all((plots / f"{d}.csv").exists() for d in draws):
        return None
    return {"results": json.loads((metrics / "results.json").read_text()),
            "pretrain": {d: (json.loads((metrics / "pretrain" / f"{d}.json").read_text()),
                             read_history(plots / f"{d}.csv")) for d in draws},
            "generate": json.loads((metrics / "generate.json").read_text())
            if (metrics / "generate.json").exists() else None}


def pretraining_scale(params: dict, paper: dict, arch: str) -> dict:
    """The pipeline's pre-training beside the paper's, from ``params`` (params.yaml) and ``paper``
    (params-paper.yaml) as read and ``arch``, the network the metrics name: clip-passes of one network (epochs x
    training clips) and multiply-adds per clip (counted by torch on the meta device: nothing runs)."""
    from .learning.models import NARROW_WIDTHS, build_model   # torch and the networks: only here, not for
    from .learning.x3d import multiply_adds                   # the rest of the tour

    def one(p, arch):
        g, pre = p["generate"], p["pretrain"]
        return (pre["epochs"] * g["classes"] * (g["per_class"] - g["val_per_class"]), pre["size"],
                multiply_adds(build_model(arch, num_classes=g["classes"], frames=pre["frames"]), pre["frames"],
                              pre["size"]))

    (passes, size, madds), (paper_passes, paper_size, paper_madds) = one(params, arch), one(paper, paper["pretrain"]["arch"])
    return {"arch": arch, "width": NARROW_WIDTHS.get(arch, 64) / 64, "size": size, "clip_passes": passes,
            "madds_per_clip": madds, "paper_arch": paper["pretrain"]["arch"], "paper_size": paper_size,
            "paper_clip_passes": paper_passes, "paper_madds_per_clip": paper_madds,
            "less_compute": paper_passes * paper_madds / (passes * madds)}


def describe_set(name: str, downstream: dict) -> str:
    """What a downstream set is, from its params.yaml section: the built-in rendered actions or a real set."""
    section = downstream.get(name, {})
    return ("built-in actions: rendered figures, a stand-in, not real video" if section.get("family") == "actions"
            else f"real clips ({section['source']})" if "source" in section else name)


def result_figure(measured: dict, downstream: dict) -> Figure:
    """From :func:`pipeline_results`: left, the held-out pretext top-1 (val_top1) of every pre-training draw
    over its epochs; right, each downstream set's margin (fractal minus scratch top-1) with its 95 % interval
    and each draw's margin."""
    fig, (ax_pre, ax_fine) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1, 1.2]})
    for draw, (_, history) in measured["pretrain"].items():
        ax_pre.plot(history["epoch"], 100 * history["val_top1"], marker=".", label=f"draw {draw}")
    ax_pre.set_xlabel("pre-training epoch"); ax_pre.set_ylabel("held-out top-1 (%)"); ax_pre.legend(fontsize=8)
    ax_pre.set_title("pretext task on held-out fractal clips", fontsize=10)
    sets = [d for d, e in measured["results"].items() if isinstance(e, dict) and "margin_top1" in e]
    for k, d in enumerate(sets):
        m = measured["results"][d]["margin_top1"]
        mean, (lo, hi) = 100 * m["mean"], (100 * v for v in m["ci95"])
        ax_fine.errorbar([mean], [k], xerr=[[mean - lo], [hi - mean]], fmt="o", color="C1", capsize=6, lw=2,
                         label=None if k else "mean, 95 % interval")
        ax_fine.plot([100 * v for v in m["per_draw"]], [k] * len(m["per_draw"]), "|", color="k", ms=14,
                     label=None if k else "each pre-training draw")
        e = measured["results"][d]
        ax_fine.annotate(f"{mean:+.1f} [{lo:+.1f}, {hi:+.1f}]", (mean, k), xytext=(0, 10), fontsize=10,
                         textcoords="offset points", ha="center")
        ax_fine.annotate(f"{describe_set(d, downstream)}\nscratch {e['scratch_top1']:.1%}, fractal "
                         f"{e['fractal_top1']:.1%}, chance {e['chance']:.0%}", (mean, k), xytext=(0, -14), fontsize=8,
                         textcoords="offset points", ha="center", va="top")
    ax_fine.axvline(0, color="0.4", ls=":"); ax_fine.set_ylim(-0.8, len(sets) - 0.4)
    ax_fine.set_yticks(range(len(sets)), sets)
    ax_fine.legend(fontsize=8, loc="upper right"); ax_fine.set_xlabel("fractal minus scratch top-1 (points)")
    ax_fine.set_title("fine-tuned: the margin over training from scratch", fontsize=10)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ the slides

def slides_pdf(folder: str | Path, notebook: str | Path, out: str | Path) -> list[str]:
    """The tour's slide images, ``folder``/*.png, as one PDF at ``out``, a page each (a lecture without a
    notebook or a network): in the order the ``notebook``'s code names them, any others after. Returns them."""
    from PIL import Image   # Pillow, with matplotlib: only the slides need it

    folder, code = Path(folder), [c for c in json.loads(Path(notebook).read_text())["cells"] if c["cell_type"] == "code"]
    named = re.findall(r"[\"']([A-Za-z0-9_]+)(?:\.png)?[\"']", "".join("".join(c["source"]) for c in code))
    pages = [f"{n}.png" for n in dict.fromkeys(named) if (folder / f"{n}.png").exists()]
    pages += sorted(p.name for p in folder.glob("*.png") if p.name not in pages)
    check(len(pages) > 0, "folder", str(folder), "a folder holding the tour's PNG figures (run the tour first)")
    images = [Image.open(folder / n).convert("RGB") for n in pages]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    images[0].save(out, "PDF", resolution=120, save_all=True, append_images=images[1:])
    return pages
