"""What the tour (notebooks/00_tour.ipynb) shows, computed step by step with the generator's own parts.

The generator runs the chaos game in a numba kernel over thousands of walkers; here the same steps are
spelled out in plain numpy for one walker, and the renderer's stages (sigma factor, framing, tone map) are
taken apart so that each can be seen before and after. Slow by design: for teaching and tests only.
"""
from __future__ import annotations

import numpy as np

from .checks import check
from .clips.ifs import FractalConfig, abs_det, compose, interpolate, sample_key_frames, sample_sigma_factors
from .clips.kernels import chaos_game
from .clips.render import frame_view, map_tables, splat_and_tone_map


def walk(coef: np.ndarray, steps: int, rng: np.random.Generator, start=(0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """One walker of the chaos game: (points (steps + 1, 2), the map chosen at each step (steps,)).

    ``coef`` (K, 6) are one frame's affine maps as flame coefficients (a, b, c, d, e, f):
    x' = a x + b y + c, y' = d x + e y + f. Each step picks map i with probability proportional to
    |det W_i| (what the renderer's lookup tables encode) and applies it; after a few steps the points
    lie on the attractor whatever the start.
    """
    coef = np.asarray(coef, np.float64)
    check(coef.ndim == 2 and coef.shape[1] == 6 and len(coef) >= 1, "coef shape", coef.shape, "(K, 6) with K >= 1")
    check(isinstance(steps, int) and steps >= 1, "steps", steps, "an integer >= 1")
    det = np.abs(coef[:, 0] * coef[:, 4] - coef[:, 1] * coef[:, 3])
    p = det / det.sum() if det.sum() > 0 else np.full(len(coef), 1 / len(coef))
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


SIERPINSKI_CORNERS = np.array([[-1.0, -1.0], [1.0, -1.0], [0.0, 1.0]])   # the triangle of the tour's three maps


def distance_to_triangle(point, corners: np.ndarray = SIERPINSKI_CORNERS) -> float:
    """The distance from ``point`` to the filled triangle ``corners`` (3, 2): 0 inside, else to its nearest edge."""
    p, c = np.asarray(point, float), np.asarray(corners, float)
    check(c.shape == (3, 2), "corners shape", c.shape, "(3, 2)")
    cross = [np.cross(c[(i + 1) % 3] - c[i], p - c[i]) for i in range(3)]
    if all(x >= 0 for x in cross) or all(x <= 0 for x in cross):
        return 0.0
    edges = []
    for i in range(3):
        a, b = c[i], c[(i + 1) % 3]
        t = np.clip(np.dot(p - a, b - a) / np.dot(b - a, b - a), 0, 1)
        edges.append(np.linalg.norm(p - (a + t * (b - a))))
    return float(min(edges))
