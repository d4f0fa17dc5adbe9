"""What the tour (notebooks/00_tour.ipynb) shows, computed step by step with the generator's own parts.

The generator runs the chaos game in a numba kernel over thousands of walkers; here the same steps are
spelled out in plain numpy for one walker, and the renderer's stages (sigma factor, framing, tone map) are
taken apart so that each can be seen before and after. Slow by design: for teaching and tests only.

The tour's interactive pieces are plain functions from a few settings to a matplotlib figure
(:func:`attractor_figure`, :func:`density_figure`, :func:`motion_figure`, :func:`interpolation_figure`);
:func:`live` puts ipywidgets controls on one in JupyterLab, and shows its default as a still figure where
no kernel runs (the executed report).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
from matplotlib.figure import Figure

from .checks import check
from .clips.ifs import (CURVE_FUNCTIONS, ClipParams, FractalConfig, abs_det, compose, interpolate, sample_key_frames,
                        sample_sigma_factors)
from .clips.kernels import chaos_game
from .clips.render import frame_view, map_tables, render_clip, splat_and_tone_map


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


def render_stages(coef: np.ndarray, cfg: FractalConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One still frame of maps ``coef`` (1, K, 6) at each stage of the renderer, as uint8 images:

    - "fixed window, linear": the points counted in the window the framing searches, [-w, w]^2,
      counts scaled linearly to 0..255 (a few pixels hold most points, the rest is dark);
    - "framed, linear": the same counts in the view the framing chose (90 % of the points, plus a margin);
    - "framed, splat and log tone map": what the generator writes: each point spread over splat x splat
      pixels, then log(1 + count) scaled to 0..255.
    """
    coef = np.asarray(coef, np.float32)
    check(coef.ndim == 3 and coef.shape[0] == 1 and coef.shape[2] == 6, "coef shape", coef.shape, "(1, K, 6)")
    table = map_tables(coef)
    variation = np.zeros(1, np.int64)
    seeds = rng.integers(1, 2**32, (1, cfg.walkers), dtype=np.uint32)
    res, w = cfg.res, cfg.framing_window
    fixed = np.array([[-w, -w, res / (2 * w), res / (2 * w)]], np.float32)
    view = frame_view(coef, table, variation, cfg, seeds)
    if view is None:
        raise ValueError("these maps put no point in the framing window: nothing to show")
    framed = np.array([[view[0], view[1], res / (view[2] - view[0]), res / (view[3] - view[1])]], np.float32)

    def counts_in(v):
        return chaos_game(coef, table, variation, v, res, 0, cfg.steps, cfg.discard, seeds)[0][0]

    def linear(c):
        return (255 * c / max(int(c.max()), 1)).astype(np.uint8)

    framed_counts = counts_in(framed)
    bordered = np.pad(framed_counts, cfg.splat // 2)[None]  # the tone map takes counts with the splat's border
    return {"fixed window, linear": linear(counts_in(fixed)), "framed, linear": linear(framed_counts),
            "framed, splat and log tone map": splat_and_tone_map(bordered, cfg.splat, False)[0][0]}


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


def collapsing_draw(seed: int, n_maps: int, tries: int = 200, p_const_bias: float = 0.2):
    """Of ``tries`` key-frame draws (seeds ``seed``, ``seed + 1``, ...), the one whose naive interpolation
    shrinks the most mid-clip: ``(keys, ratio)``, ``ratio`` the least, over 19 frames, of sum |det W| under
    naive interpolation over the same under decomposed interpolation (1: no collapse). A draw to show what
    the decomposition prevents: entry-by-entry blending passes near singular matrices."""
    check(isinstance(tries, int) and tries >= 1, "tries", tries, "an integer >= 1")
    lam = np.linspace(0, 1, 19)[:, None].repeat(n_maps, 1)
    best = None
    for s in range(seed, seed + tries):
        keys = sample_key_frames(np.random.default_rng(s), n_maps, p_const_bias)
        ratio = float((abs_det(interpolate(keys, lam, "naive")).sum(1)
                       / abs_det(interpolate(keys, lam, "decomposed")).sum(1)).min())
        if best is None or ratio < best[1]:
            best = (keys, ratio)
    return best


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


# ------------------------------------------------------------------ what a student can change

SIERPINSKI = np.array([[0.5, 0, -0.5, 0, 0.5, -0.5], [0.5, 0, 0.5, 0, 0.5, -0.5], [0.5, 0, 0.0, 0, 0.5, 0.5]])


def attractor(alpha: float, n_maps: int, res: int = 128, steps: int = 3000, seed: int = 0):
    """The rendered still attractor of ``n_maps`` random maps with sigma factor ``alpha``
    (:func:`maps_with_alpha`, the maps drawn from ``seed + 1`` as in the tour's chapter 3)."""
    maps = maps_with_alpha(rng=np.random.default_rng(seed + 1), n_maps=n_maps, alpha=alpha)
    return render_clip(ClipParams(coef=maps, variation=np.zeros(1, int)), FractalConfig(res=res, steps=steps),
                       np.random.default_rng(seed))


def attractor_figure(alpha: float = 4.5, n_maps: int = 3, res: int = 128, steps: int = 3000, seed: int = 0) -> Figure:
    """The attractor redrawn for a sigma factor and a number of maps, with its lit share and whether the
    generator would draw that alpha (it draws in [(5 + K) / 2, (6 + K) / 2])."""
    r = attractor(alpha, n_maps, res, steps, seed)
    lo, hi = (5 + n_maps) / 2, (6 + n_maps) / 2
    where = "in the generator's range" if lo <= alpha <= hi else ("below" if alpha < lo else "above") + \
        f" the generator's [{lo:g}, {hi:g}]"
    fig, ax = plt.subplots(figsize=(3.6, 3.9))
    ax.imshow(r.frames[0], cmap="gray", vmin=0, vmax=255, origin="lower"); ax.axis("off")
    ax.set_title(f"alpha {alpha:g}, {n_maps} maps: {r.coverage[0]:.0%} of pixels lit\n{where}", fontsize=9)
    return fig


def density(steps: int, res: int = 128, walkers: int = 128, seed: int = 0) -> np.ndarray:
    """Points per pixel after ``steps`` chaos-game steps of ``walkers`` walkers on the Sierpinski maps,
    counted by the generator's kernel, no step discarded: (res, res)."""
    check(isinstance(steps, int) and steps >= 1, "steps", steps, "an integer >= 1")
    coef = SIERPINSKI[None].astype(np.float32)
    view = np.array([[-1.1, -1.1, res / 2.2, res / 2.2]], np.float32)
    seeds = np.random.default_rng(seed).integers(1, 2**32, (1, walkers), dtype=np.uint32)
    counts, _ = chaos_game(coef=coef, table=map_tables(coef), variation=np.zeros(1, np.int64), view=view,
                           res=res, border=0, steps=steps, discard=0, seeds=seeds)
    return counts[0]


def density_figure(steps: int = 20, res: int = 128, walkers: int = 128, seed: int = 0) -> Figure:
    """The density building up: points per pixel after ``steps`` steps, log-scaled, with the lit share."""
    counts = density(steps, res, walkers, seed)
    fig, ax = plt.subplots(figsize=(3.6, 3.9))
    ax.imshow(np.log1p(counts), cmap="magma", origin="lower"); ax.axis("off")
    ax.set_title(f"{steps} steps x {walkers} walkers: {steps * walkers:,} points\n"
                 f"{(counts > 0).mean():.1%} of pixels lit, at most {int(counts.max())} on one", fontsize=9)
    return fig


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
    return lam, r.frames


def motion_figure(curve: str = "sharp", frame: int = 0, n_frames: int = 18, seed: int = 0) -> Figure:
    """A motion curve and its clip replayed: each map's lambda(t), the frame shown marked, and that frame."""
    check(isinstance(frame, int) and 0 <= frame < n_frames, "frame", frame, f"an integer in [0, {n_frames})")
    lam, frames = motion_clip(curve, n_frames=n_frames, seed=seed)
    fig, (ax_curve, ax_frame) = plt.subplots(1, 2, figsize=(7.2, 3.2), gridspec_kw={"width_ratios": [1.4, 1]})
    ax_curve.plot(lam, marker=".", lw=1)
    ax_curve.axvline(frame, color="k", ls=":")
    ax_curve.set_xlabel("frame"); ax_curve.set_ylabel("lambda (each map)")
    ax_curve.set_title(f"'{curve}' motion of {lam.shape[1]} maps", fontsize=9)
    ax_frame.imshow(frames[frame], cmap="gray", vmin=0, vmax=255, origin="lower"); ax_frame.axis("off")
    ax_frame.set_title(f"frame {frame} of {n_frames}", fontsize=9)
    fig.tight_layout()
    return fig


def interpolation_figure(motion: str = "decomposed", n_maps: int = 4, res: int = 96, seed: int = 0) -> Figure:
    """The tour's collapsing draw (:func:`collapsing_draw`) interpolated one way: five of its frames and its
    sum of |det W| over the clip against the other way's."""
    check(motion in ("decomposed", "naive"), "motion", motion, "'decomposed' or 'naive'")
    keys, _ = collapsing_draw(seed=seed, n_maps=n_maps)
    lam = np.linspace(0, 1, 19)[:, None].repeat(n_maps, 1)
    coef = {m: interpolate(keys, lam=lam, motion=m) for m in ("decomposed", "naive")}
    r = render_clip(ClipParams(coef=coef[motion], variation=np.zeros(len(lam), int)), FractalConfig(res=res),
                    np.random.default_rng(1))
    fig, axes = plt.subplots(1, 6, figsize=(11, 2.3), gridspec_kw={"width_ratios": [1.6, 1, 1, 1, 1, 1]})
    for m, c in coef.items():
        axes[0].plot(abs_det(c).sum(1), lw=2.5 if m == motion else 1, alpha=1 if m == motion else 0.4, label=m)
    axes[0].set_xlabel("frame", fontsize=8); axes[0].set_title("sum |det W_i|", fontsize=9)
    axes[0].legend(fontsize=7)
    for ax, t in zip(axes[1:], range(0, len(lam), 4)):
        ax.imshow(r.frames[t], cmap="gray", vmin=0, vmax=255, origin="lower"); ax.axis("off")
        ax.set_title(f"{motion}, frame {t}", fontsize=8)
    fig.tight_layout()
    return fig


def _show(fig: Figure) -> None:
    display(fig)
    plt.close(fig)   # shown once: the inline backend would draw an open figure again at the cell's end


def live(figure: Callable[..., Figure], controls: dict[str, ipywidgets.ValueWidget], interactive: bool,
         save_as: str | Path | None = None, extra: list[ipywidgets.Widget] = ()) -> None:
    """``figure(**values)`` under ipywidgets ``controls`` (keyword -> widget): with ``interactive`` (JupyterLab)
    the figure is redrawn whenever a control moves; without (the executed report, read without a kernel)
    only the figure at the controls' starting values is shown, a still image. That starting figure is also
    written to ``save_as`` (a PNG for slides). ``extra`` widgets (a Play button linked to a slider) sit
    beside the controls. Displays what it shows and returns nothing (a cell ending in it shows it once)."""
    fig = figure(**{name: c.value for name, c in controls.items()})
    if save_as is not None:
        fig.savefig(save_as, dpi=120, bbox_inches="tight")
    if not interactive:
        _show(fig)
        return
    plt.close(fig)
    out = ipywidgets.interactive_output(lambda **values: _show(figure(**values)), controls)
    box = ipywidgets.VBox([ipywidgets.HBox([*extra, *controls.values()]), out])
    display(box)
