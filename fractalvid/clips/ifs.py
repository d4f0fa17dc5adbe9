"""Sampling fractal clips: iterated function systems that move.

Everything here is plain numpy driven by an explicit ``np.random.Generator``,
so a clip is a pure function of the generator's seed. The numbers follow
the settings of the paper's public implementation; each one is a
field of :class:`FractalConfig` so that an ablation is a change of settings.

A clip's maps are stored per frame as affine coefficients ``(a, b, c, d, e, f)``
meaning ``x' = a x + b y + c``, ``y' = d x + e y + f`` (the flame convention).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..checks import check as _check
from ..config import Settings

from .kernels import DEFAULT_VARIATIONS, VARIATIONS

MOTIONS = ("decomposed", "naive")
CURVES = ("linear", "sharp", "curve", "periodic")


@dataclass(frozen=True)
class FractalConfig(Settings):
    """Every setting of a fractal clip; defaults are the paper's values."""
    kind = "fractal"  # in messages: "unknown fractal setting(s) ..."

    # maps and shapes
    min_maps: int = 3
    max_maps: int = 8
    p_nonlinear: float = 0.5
    variations: tuple[str, ...] = DEFAULT_VARIATIONS
    # motion
    motion: str = "decomposed"          # or "naive": interpolate composed matrices
    linear_motion: bool = False         # ablation: every map moves with t/(T-1)
    min_frames: int = 18
    max_frames: int = 20
    p_const_bias: float = 0.2
    p_all_linear: float = 0.2
    p_shared_curve: float = 0.4
    curve_weights: tuple[float, float, float] = (0.2, 0.55, 0.25)  # sharp, curve, periodic
    # rendering
    res: int = 256
    walkers: int = 128
    steps: int = 7500
    discard: int = 200
    splat: int = 3
    # framing
    framing_res: int = 128
    framing_window: float = 6.0
    framing_steps: int = 3000
    framing_keep: float = 0.9
    framing_margin: float = 0.1
    # image mode (FractalDB-like): independent still frames
    image: bool = False
    image_frames: int = 16
    # class instances
    perturb_knots: tuple[int, int] = (4, 7)
    perturb_scale: tuple[float, float] = (0.6, 1.4)
    perturb_offset: float = 0.2
    # one fractal (1p-frac: Nakamura et al., ECCV 2024, in video): > 0 makes class c class 0's fractal with each
    # map coefficient shifted by U(-one_fractal, one_fractal), the same in every frame, and every clip of a class
    # that clip exactly (instance perturbations would move a clip further than the classes lie apart); 0: every
    # class its own fractal (the paper)
    one_fractal: float = 0.0
    class_probes: int = 2         # instances a class must render well to be kept
    # degenerate draws
    min_coverage: float = 0.02    # every frame lights at least this fraction of pixels
    max_coverage: float = 0.85    # ... and at most this fraction (else washed out)
    min_in_view: float = 0.5      # fraction of a frame's points that land in view
    max_attempts: int = 64

    def __post_init__(self):
        validate_config(self)


def validate_config(c: FractalConfig) -> None:
    """Raise ValueError naming the first bad setting and what would be accepted."""
    _check(isinstance(c.min_maps, int) and 2 <= c.min_maps <= c.max_maps, "min_maps", c.min_maps,
           "an integer in [2, max_maps]")
    _check(isinstance(c.max_maps, int) and c.max_maps <= 8, "max_maps", c.max_maps, "an integer in [min_maps, 8]")
    for name in ("p_nonlinear", "p_const_bias", "p_all_linear", "p_shared_curve", "framing_keep",
                 "framing_margin", "min_coverage", "max_coverage", "min_in_view"):
        v = getattr(c, name)
        _check(isinstance(v, (int, float)) and 0.0 <= v <= 1.0, name, v, "a probability in [0, 1]")
    _check(c.min_coverage < c.max_coverage, "max_coverage", c.max_coverage, f"a value above min_coverage={c.min_coverage}")
    _check(len(c.curve_weights) == 3 and all(w >= 0 for w in c.curve_weights) and sum(c.curve_weights) > 0,
           "curve_weights", c.curve_weights, "three non-negative weights (sharp, curve, periodic) with a positive sum")
    _check(c.motion in MOTIONS, "motion", c.motion, f"one of {MOTIONS}")
    bad = [v for v in c.variations if v not in VARIATIONS]
    _check(not bad and len(c.variations) > 0, "variations", bad or c.variations,
           f"a non-empty list of names from {sorted(VARIATIONS)}")
    _check(isinstance(c.min_frames, int) and 2 <= c.min_frames <= c.max_frames, "min_frames", c.min_frames,
           "an integer in [2, max_frames]")
    _check(isinstance(c.max_frames, int) and c.max_frames <= 1000, "max_frames", c.max_frames, "an integer in [min_frames, 1000]")
    _check(isinstance(c.res, int) and c.res >= 16 and c.res % 2 == 0 and c.res <= 4096, "res", c.res,
           "an even integer in [16, 4096]")
    _check(isinstance(c.walkers, int) and 1 <= c.walkers <= 65536, "walkers", c.walkers, "an integer in [1, 65536]")
    _check(isinstance(c.steps, int) and c.steps > c.discard, "steps", c.steps, f"an integer above discard={c.discard}")
    _check(isinstance(c.discard, int) and c.discard >= 0, "discard", c.discard, "a non-negative integer")
    _check(c.splat in (1, 3, 5, 7), "splat", c.splat, "one of 1, 3, 5, 7")
    _check(isinstance(c.framing_res, int) and c.framing_res >= 16, "framing_res", c.framing_res, "an integer >= 16")
    _check(c.framing_window > 0, "framing_window", c.framing_window, "a positive half-width")
    _check(isinstance(c.framing_steps, int) and c.framing_steps > c.discard, "framing_steps", c.framing_steps,
           f"an integer above discard={c.discard}")
    _check(isinstance(c.image_frames, int) and 1 <= c.image_frames <= 1000, "image_frames", c.image_frames,
           "an integer in [1, 1000]")
    _check(isinstance(c.one_fractal, (int, float)) and not isinstance(c.one_fractal, bool)
           and 0 <= c.one_fractal <= 1 and (c.one_fractal == 0 or not c.image), "one_fractal", c.one_fractal,
           "a number in [0, 1] (the largest shift of a coefficient; 0: no single fractal), 0 in image mode")
    lo, hi = c.perturb_knots
    _check(2 <= lo <= hi, "perturb_knots", c.perturb_knots, "two integers 2 <= lo <= hi")
    lo, hi = c.perturb_scale
    _check(0 < lo <= hi, "perturb_scale", c.perturb_scale, "two numbers 0 < lo <= hi")
    _check(c.perturb_offset >= 0, "perturb_offset", c.perturb_offset, "a non-negative number")
    _check(isinstance(c.class_probes, int) and c.class_probes >= 0, "class_probes", c.class_probes,
           "an integer >= 0")
    _check(isinstance(c.max_attempts, int) and c.max_attempts >= 1, "max_attempts", c.max_attempts, "an integer >= 1")


# --------------------------------------------------------------------------- maps

def sample_sigma_factors(rng: np.random.Generator, n_maps: int, alpha: float | None = None) -> np.ndarray:
    """Singular values (s1, s2) of ``n_maps`` maps with sum(s1 + 2 s2) == alpha.

    The "sigma factor" of Anderson & Farrell (WACV 2022): alpha ~ U[(5+K)/2, (6+K)/2]
    and each value drawn in turn so that 0 <= s2 <= s1 <= 1 always remains
    satisfiable. Returns shape (K, 2).
    """
    k = n_maps
    if alpha is None:
        alpha = rng.uniform((5 + k) / 2, (6 + k) / 2)
    lo, hi = alpha - 3 * k + 3, alpha
    out = np.empty((k, 2))
    for i in range(k - 1):
        s1 = rng.uniform(max(0.0, lo / 3), min(1.0, hi))
        lo, hi = lo - s1, hi - s1
        s2 = rng.uniform(max(0.0, lo / 2), min(s1, hi / 2))
        lo, hi = lo - 2 * s2 + 3, hi - 2 * s2
        out[i] = s1, s2
    s2 = rng.uniform(max(0.0, (hi - 1) / 2), hi / 3)
    out[k - 1] = hi - 2 * s2, s2
    return out


def rotation(angle: np.ndarray) -> np.ndarray:
    """Rotation matrices, shape angle.shape + (2, 2)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def compose(theta, phi, sigma, flip1, flip2) -> np.ndarray:
    """W = R(theta) D1 S R(phi) D2 for arrays of maps; returns (..., 2, 2)."""
    d1 = flip1[..., None, :]  # diag(D) multiplies columns
    d2 = flip2[..., None, :]
    s = sigma[..., None, :]
    return rotation(theta) @ (d1 * s * rotation(phi) * d2)


def abs_det(w: np.ndarray) -> np.ndarray:
    """|det| of the linear part; accepts (..., 2, 2) matrices or (..., 6) coefficients."""
    if w.shape[-1] == 6:
        return np.abs(w[..., 0] * w[..., 4] - w[..., 1] * w[..., 3])
    return np.abs(w[..., 0, 0] * w[..., 1, 1] - w[..., 0, 1] * w[..., 1, 0])


def to_coefficients(w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Matrices (..., 2, 2) and biases (..., 2) -> flame coefficients (..., 6)."""
    return np.stack([w[..., 0, 0], w[..., 0, 1], b[..., 0], w[..., 1, 0], w[..., 1, 1], b[..., 1]], -1)


@dataclass
class KeyFrames:
    """Start and end parameters of K maps (the decomposed representation)."""

    theta: np.ndarray   # (2, K)
    phi: np.ndarray     # (2, K)
    sigma: np.ndarray   # (2, K, 2)
    bias: np.ndarray    # (2, K, 2)
    flip1: np.ndarray   # (K, 2) entries +-1, fixed for the clip
    flip2: np.ndarray   # (K, 2)


def sample_key_frames(rng: np.random.Generator, n_maps: int, p_const_bias: float) -> KeyFrames:
    k = n_maps
    theta0 = rng.uniform(0, 2 * np.pi, k)
    phi0 = rng.uniform(0, 2 * np.pi, k)
    theta = np.stack([theta0, theta0 + rng.uniform(-np.pi, np.pi, k)])
    phi = np.stack([phi0, phi0 + rng.uniform(-np.pi, np.pi, k)])
    sigma = np.stack([sample_sigma_factors(rng, k), sample_sigma_factors(rng, k)])
    bias0 = rng.uniform(-1, 1, (k, 2))
    bias1 = bias0.copy() if rng.random() < p_const_bias else rng.uniform(-1, 1, (k, 2))
    flip1 = rng.choice([-1.0, 1.0], (k, 2))
    flip2 = rng.choice([-1.0, 1.0], (k, 2))
    # maps ordered by |det| of the start frame, largest first
    order = np.argsort(-(sigma[0, :, 0] * sigma[0, :, 1]), kind="stable")
    return KeyFrames(theta[:, order], phi[:, order], sigma[:, order], np.stack([bias0, bias1])[:, order],
                     flip1[order], flip2[order])


def interpolate(keys: KeyFrames, lam: np.ndarray, motion: str = "decomposed") -> np.ndarray:
    """Per-frame coefficients (T, K, 6) from key frames and curves lam (T, K).

    "decomposed" interpolates angles, singular values and bias, then composes;
    "naive" composes the two key matrices and interpolates their entries, which
    shrinks |det| mid-clip (the paper's ablation baseline).
    """
    def lerp(v):  # v: (2, K, ...) -> (T, K, ...)
        l = lam.reshape(lam.shape + (1,) * (v.ndim - 2))
        return v[0] + l * (v[1] - v[0])

    bias = lerp(keys.bias)
    if motion == "decomposed":
        w = compose(lerp(keys.theta), lerp(keys.phi), lerp(keys.sigma), keys.flip1, keys.flip2)
    elif motion == "naive":
        w_keys = compose(keys.theta, keys.phi, keys.sigma, keys.flip1, keys.flip2)  # (2, K, 2, 2)
        w = lerp(w_keys)
    else:
        raise ValueError(f"motion={motion!r} is not accepted: expected one of {MOTIONS}")
    return to_coefficients(w, bias)


# ------------------------------------------------------------------ motion curves

def quadratic_spline(knot_x: np.ndarray, knot_y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """C1 quadratic spline through (knot_x, knot_y), evaluated at x.

    Each piece is y_k + d_k u + c_k u^2; the slope d is carried from piece to
    piece (d_{k+1} = 2 (y_{k+1} - y_k) / h - d_k), starting from the first
    chord's slope, so the curve passes through every knot with no kinks.
    """
    h = np.diff(knot_x)
    chord = np.diff(knot_y) / h
    d = np.empty(len(knot_x))
    d[0] = chord[0]
    for k in range(len(h)):
        d[k + 1] = 2 * chord[k] - d[k]
    seg = np.clip(np.searchsorted(knot_x, x, side="right") - 1, 0, len(h) - 1)
    u = x - knot_x[seg]
    c = (chord[seg] - d[seg]) / h[seg]
    return knot_y[seg] + d[seg] * u + c * u * u


def curve_linear(rng, n_frames):
    return np.linspace(0.0, 1.0, n_frames)


def curve_sharp(rng, n_frames):
    """0, then a linear ramp over 4-8 frames starting at least 4 frames in, then 1."""
    ramp = int(rng.integers(4, 9))
    ramp = min(ramp, max(1, n_frames - 5))
    start = int(rng.integers(4, max(5, n_frames - ramp)))
    t = np.arange(n_frames)
    return np.clip((t - start) / ramp, 0.0, 1.0)


def curve_spline(rng, n_frames, tries: int = 6, min_step: float = 0.45):
    """Quadratic spline through 5-9 evenly spaced knots with values U(0, 1).

    Knot values are redrawn (up to ``tries`` times) until the mean absolute
    knot-to-knot step exceeds ``min_step``, so that the curve really moves.
    """
    n_knots = int(rng.integers(5, 10))
    for _ in range(tries):
        values = rng.uniform(0, 1, n_knots)
        if np.mean(np.abs(np.diff(values))) > min_step:
            break
    knots = np.linspace(0, n_frames - 1, n_knots)
    return np.clip(quadratic_spline(knots, values, np.arange(n_frames, dtype=float)), 0.0, 1.0)


def curve_periodic(rng, n_frames):
    """A small oscillation around the start: a sine whose frequency and amplitude drift.

    Period P ~ U(5, 15) frames; at every half period a frequency factor
    U(0.15, 1.7) and an amplitude U(0.6, 1) are drawn and interpolated by a
    quadratic spline; the result is scaled to U(1.5, 4.0) * P / 100.
    """
    period = rng.uniform(5, 15)
    n_knots = int(math.ceil((n_frames - 1) / (period / 2))) + 2
    knots = np.arange(n_knots) * (period / 2)
    t = np.arange(n_frames, dtype=float)
    freq = quadratic_spline(knots, rng.uniform(0.15, 1.7, n_knots), t)
    amp = quadratic_spline(knots, rng.uniform(0.6, 1.0, n_knots), t)
    phase = np.concatenate([[0.0], np.cumsum(2 * np.pi * freq[:-1] / period)])
    scale = rng.uniform(1.5, 4.0) * period / 100
    return scale * np.clip(amp, 0.0, 1.0) * np.sin(phase)


CURVE_FUNCTIONS = {"linear": curve_linear, "sharp": curve_sharp, "curve": curve_spline, "periodic": curve_periodic}


def sample_motion_curves(rng: np.random.Generator, n_frames: int, n_maps: int, cfg: FractalConfig):
    """lambda (T, K) and the curve kind of each map, following the paper's mixing rule."""
    nonlinear = ("sharp", "curve", "periodic")
    weights = np.asarray(cfg.curve_weights, float) / sum(cfg.curve_weights)
    if cfg.linear_motion or rng.random() < cfg.p_all_linear:
        kinds = ["linear"] * n_maps
        lam = np.repeat(curve_linear(rng, n_frames)[:, None], n_maps, 1)
        return lam, kinds
    if rng.random() < cfg.p_shared_curve:
        kind = nonlinear[rng.choice(3, p=weights)]
        curve = CURVE_FUNCTIONS[kind](rng, n_frames)
        return np.repeat(curve[:, None], n_maps, 1), [kind] * n_maps
    n_types = min(int(rng.integers(1, 3)), int(np.count_nonzero(weights)))
    pool = ["linear"] + [nonlinear[i] for i in rng.choice(3, n_types, replace=False, p=weights)]
    kinds = [pool[i] for i in rng.integers(0, len(pool), n_maps)]
    lam = np.stack([CURVE_FUNCTIONS[k](rng, n_frames) for k in kinds], 1)
    return lam, kinds


# ------------------------------------------------------------------------- clips

@dataclass
class ClipParams:
    """What the renderer needs: per-frame maps and one variation per frame."""

    coef: np.ndarray                 # (T, K, 6) float64
    variation: np.ndarray            # (T,) int, index into VARIATIONS order
    info: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return self.coef.shape[0]


def sample_variation(rng: np.random.Generator, cfg: FractalConfig) -> str:
    if rng.random() < cfg.p_nonlinear:
        return cfg.variations[int(rng.integers(len(cfg.variations)))]
    return "linear"


def sample_moving_clip(rng: np.random.Generator, cfg: FractalConfig) -> ClipParams:
    """One fractal video: K maps moving between two key frames along motion curves."""
    n_maps = int(rng.integers(cfg.min_maps, cfg.max_maps + 1))
    n_frames = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
    keys = sample_key_frames(rng, n_maps, cfg.p_const_bias)
    lam, kinds = sample_motion_curves(rng, n_frames, n_maps, cfg)
    var = sample_variation(rng, cfg)
    coef = interpolate(keys, lam, cfg.motion)
    return ClipParams(coef, np.full(n_frames, VARIATIONS[var]),
                      {"n_maps": n_maps, "curves": kinds, "variation": var})


def sample_still_frames(rng: np.random.Generator, cfg: FractalConfig) -> ClipParams:
    """Image mode: ``image_frames`` independent fractals, no motion (FractalDB-like)."""
    frames, variations = [], []
    for _ in range(cfg.image_frames):
        n_maps = int(rng.integers(cfg.min_maps, cfg.max_maps + 1))
        keys = sample_key_frames(rng, n_maps, 1.0)
        coef = interpolate(keys, np.zeros((1, n_maps)), "decomposed")[0]
        frames.append(np.pad(coef, ((0, cfg.max_maps - n_maps), (0, 0))))  # zero maps are never chosen
        variations.append(VARIATIONS[sample_variation(rng, cfg)])
    return ClipParams(np.stack(frames), np.asarray(variations), {"image": True})


def sample_clip(rng: np.random.Generator, cfg: FractalConfig) -> ClipParams:
    return sample_still_frames(rng, cfg) if cfg.image else sample_moving_clip(rng, cfg)


def shift_maps(rng: np.random.Generator, params: ClipParams, delta: float) -> ClipParams:
    """A 1p-frac class: ``params`` with U(-delta, delta) added to each coefficient of each map, the same shift in
    every frame, so the motion stays and the shape moves by a little."""
    n_maps = params.coef.shape[1]
    coef = params.coef + rng.uniform(-delta, delta, (1, n_maps, 6))
    return ClipParams(coef, params.variation.copy(), dict(params.info))


def perturb(rng: np.random.Generator, params: ClipParams, cfg: FractalConfig) -> ClipParams:
    """An instance of a class: every coefficient track times a smooth random curve, plus an offset.

    Each of the 6 coefficients of each map is multiplied over time by a
    quadratic spline through 4-7 knots with values U(0.6, 1.4), and an offset
    U(-0.2, 0.2), constant over the clip, is added to it.
    """
    n_frames, n_maps, _ = params.coef.shape
    t = np.arange(n_frames, dtype=float)
    lo, hi = cfg.perturb_scale
    scale = np.empty_like(params.coef)
    for i in range(n_maps):
        for j in range(6):
            n_knots = int(rng.integers(cfg.perturb_knots[0], cfg.perturb_knots[1] + 1))
            knots = np.linspace(0, max(n_frames - 1, 1), n_knots)
            scale[:, i, j] = quadratic_spline(knots, rng.uniform(lo, hi, n_knots), t)
    offset = rng.uniform(-cfg.perturb_offset, cfg.perturb_offset, (1, n_maps, 6))
    live = abs_det(params.coef) > 0  # padded maps of image mode stay absent
    coef = np.where(live[..., None], params.coef * scale + offset, 0.0)
    return ClipParams(coef, params.variation.copy(), dict(params.info))
