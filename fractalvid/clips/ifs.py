"""Sampling fractal clips: iterated function systems that move.

Everything here is plain numpy driven by an explicit ``np.random.Generator``,
so a clip is a pure function of the generator's seed. The numbers follow
the settings of the paper's public implementation; each one is a
field of :class:`FractalConfig` so that an ablation is a change of settings.

A clip's maps are stored per frame as affine coefficients ``(a, b, c, d, e, f)``
meaning ``x' = a x + b y + c``, ``y' = d x + e y + f`` (the flame convention).
"""
from __future__ import annotations

import functools
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
    _check(3 <= lo <= hi, "perturb_knots", c.perturb_knots, "two integers 3 <= lo <= hi (a quadratic spline needs 3 points)")
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
    """W = R(theta) D1 S R(phi) D2, a true product of five 2 x 2 matrices, for arrays of maps; (..., 2, 2).

    D1, D2 = diag(flip) and S = diag(sigma). Multiplying a matrix by a diagonal one on the right scales its
    columns and on the left its rows, so the product is spelled as those scalings: R(theta) D1 S scales the
    columns of R(theta) by flip1 * sigma, R(phi) D2 the columns of R(phi) by flip2. W shears in general
    (W^T W is not diagonal) and its singular values are sigma.
    """
    left = rotation(theta) * (flip1 * sigma)[..., None, :]    # R(theta) D1 S
    right = rotation(phi) * flip2[..., None, :]               # R(phi) D2
    return left @ right


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
    # each key frame's singular values ordered by their own |det|, largest first (the public code's sample_sigma):
    # map i is the i-th largest at both ends, so each map keeps its share of the points through the clip
    sigma = np.stack([s[np.argsort(-(s[:, 0] * s[:, 1]), kind="stable")] for s in sigma])
    return KeyFrames(theta, phi, sigma, np.stack([bias0, bias1]), flip1, flip2)


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
    """The interpolating quadratic spline through (knot_x, knot_y), evaluated at x in [knot_x[0], knot_x[-1]].

    The spline of the public generator's curves (scipy's ``interp1d(kind='quadratic')``, which is
    ``make_interp_spline(k=2)``): a quadratic B-spline whose inner knots are the midpoints between data
    sites, leaving out the first and last midpoint (Greville sites, "not-a-knot" at both ends), with its
    coefficients solved so that it passes through every point. It is the least wiggly C1 quadratic through
    the points; a spline that carries each piece's end slope into the next instead never damps an error and
    swings far past the points. knot_y may be (n,) or (n, m) for m curves on the same knots.
    """
    return spline_operator(np.asarray(knot_x, float), np.asarray(x, float)) @ np.asarray(knot_y, float)


def spline_operator(knot_x: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The (len(x), n) matrix that maps n point values to :func:`quadratic_spline`'s values at x."""
    n = len(knot_x)
    if n < 3:
        raise ValueError(f"a quadratic spline needs at least 3 points, got {n}")
    mid = (knot_x[1:] + knot_x[:-1]) / 2
    knots = np.concatenate([[knot_x[0]] * 3, mid[1:-1], [knot_x[-1]] * 3])
    return _bspline_basis(knots, x) @ np.linalg.inv(_bspline_basis(knots, knot_x))


def _bspline_basis(knots: np.ndarray, x: np.ndarray, degree: int = 2) -> np.ndarray:
    """B-spline basis functions of ``degree`` on ``knots`` at x (Cox-de Boor), (len(x), len(knots) - degree - 1)."""
    x = np.asarray(x, float)[:, None]
    lo, hi = knots[:-1], knots[1:]
    basis = ((lo <= x) & (x < hi)).astype(float)
    basis[x[:, 0] == knots[-1], np.flatnonzero(lo < hi)[-1]] = 1.0   # the right end closes the last interval
    for d in range(1, degree + 1):
        t0, t1, t0n, t1n = knots[:-d - 1], knots[d:-1], knots[1:-d], knots[d + 1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            left = np.where(t1 > t0, (x - t0) / (t1 - t0), 0.0)
            right = np.where(t1n > t0n, (t1n - x) / (t1n - t0n), 0.0)
        basis = left * basis[:, :-1] + right * basis[:, 1:]
    return basis


@functools.lru_cache(maxsize=256)
def even_spline_operator(n_knots: int, n_points: int) -> np.ndarray:
    """:func:`spline_operator` for ``n_knots`` evenly spaced points sampled at ``n_points`` evenly spaced x over
    the same range (the motion curves and instance curves), cached: a curve is then one small matrix product."""
    op = spline_operator(np.linspace(0.0, 1.0, n_knots), np.linspace(0.0, 1.0, n_points))
    op.flags.writeable = False
    return op


def curve_linear(rng, n_frames):
    return np.linspace(0.0, 1.0, n_frames)


def curve_sharp(rng, n_frames):
    """0, then a linear ramp of 4-8 frames (0 and 1 included) starting at least 4 frames in, then at least
    4 frames of 1 (the public code's ``interp_sharp``)."""
    ramp = int(rng.integers(4, 9))
    if n_frames < ramp + 8:   # clips shorter than the paper's 18 frames: the ramp in the middle
        ramp = max(2, min(ramp, n_frames - 2))
        start = (n_frames - ramp) // 2
    else:
        start = int(rng.integers(4, n_frames - ramp - 4 + 1))
    t = np.arange(n_frames)
    return np.clip((t - start) / (ramp - 1), 0.0, 1.0)


def curve_spline(rng, n_frames, tries: int = 6, min_step: float = 0.45):
    """A wandering curve: the quadratic spline through 5-9 evenly spaced knots with values U(0, 1).

    Knot values are redrawn (up to ``tries`` times) until the mean absolute knot-to-knot step exceeds
    ``min_step``, so that the curve really moves; it starts at its first knot, not at 0, and may move by half
    the range between neighbouring frames (the public code's ``interp_curve``). The spline overshoots [0, 1]
    between knots on a few per cent of frames; the package clips it to [0, 1], so that a map never moves
    past its key frames (its singular values stay those of a sigma-factor draw or between two).
    """
    n_knots = int(rng.integers(5, 10))
    for _ in range(tries):
        values = rng.uniform(0, 1, n_knots)
        if np.mean(np.abs(np.diff(values))) > min_step:
            break
    return np.clip(even_spline_operator(n_knots, n_frames) @ values, 0.0, 1.0)


PERIODIC_STEP = 0.01   # the public code integrates the drifting frequency on this grid of phase


def curve_periodic(rng, n_frames):
    """A small tremble near the start key frame: a raised sine whose frequency and amplitude drift.

    The public code's ``interp_periodic``: period P, an integer in 5-15 frames, and n = ceil(T / P) periods;
    at every half period a frequency factor U(0.15, 1.7) and an amplitude a U(0.6, 1) are drawn and joined by
    quadratic splines; the phase integrates the frequency on a fine grid, lambda = A (1 + a sin(x - pi/2)) / 2
    is sampled P times a period, and A = U(1.5, 4.0) P / 100. So lambda starts near 0 and stays in [0, A]
    (A <= 0.6): it never extrapolates past the key frames.
    """
    period = int(rng.integers(5, 16))
    n_periods = math.ceil(n_frames / period)
    amplitude = rng.uniform(1.5, 4.0) * period / 100
    wave = raised_sine(period, n_periods, rng.uniform(0.15, 1.7, 2 * n_periods + 2),
                       rng.uniform(0.6, 1.0, 2 * n_periods + 2))
    # the amplitude's spline can overshoot 1 a little, and the wave dip below 0: clipped, so that a map never
    # moves past its start key frame (a choice of the package; the public code does not clip)
    return np.clip(amplitude * wave[:n_frames], 0.0, 1.0)


def raised_sine(period: int, n_periods: int, freq: np.ndarray, ampl: np.ndarray) -> np.ndarray:
    """(1 + a sin(phase - pi/2)) / 2 sampled ``period`` times per period, the phase integrating the frequency
    factors ``freq`` and a the amplitudes ``ampl``, both given at every half period (pi of phase) and joined
    by :func:`quadratic_spline`."""
    op = _periodic_operator(n_periods)
    if op.shape[1] != len(freq):
        raise ValueError(f"freq has {len(freq)} values: expected one per half period, {op.shape[1]}")
    both = op @ np.stack([freq, ampl], 1)
    phase = np.cumsum(both[:, 0] * PERIODIC_STEP)
    wave = (np.sin(phase - np.pi / 2) * both[:, 1] + 1) / 2
    return wave[:: len(wave) // (period * n_periods)]


@functools.lru_cache(maxsize=64)
def _periodic_operator(n_periods: int) -> np.ndarray:
    """:func:`spline_operator` from values at every pi of phase to the fine grid of ``PERIODIC_STEP``, cached."""
    op = spline_operator(np.arange(0, (n_periods + 1) * 2 * np.pi, np.pi),
                         np.arange(0, n_periods * 2 * np.pi, PERIODIC_STEP))
    op.flags.writeable = False
    return op


CURVE_FUNCTIONS = {"linear": curve_linear, "sharp": curve_sharp, "curve": curve_spline, "periodic": curve_periodic}


def sample_motion_curves(rng: np.random.Generator, n_frames: int, n_maps: int, cfg: FractalConfig):
    """lambda (T, K) and the curve kind of each map, following the paper's mixing rule (the public code's
    ``sample_interp``): all linear; or one nonlinear curve shared by every map; or 1-2 nonlinear curves drawn
    with replacement by their weights, plus linear, each map taking one of them at random."""
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
    n_types = min(n_maps, int(rng.integers(1, 3)))
    pool = [nonlinear[i] for i in rng.choice(3, n_types, replace=True, p=weights)] + ["linear"]
    curves = [CURVE_FUNCTIONS[k](rng, n_frames) for k in pool]
    chosen = rng.integers(0, len(pool), n_maps)
    return np.stack([curves[i] for i in chosen], 1), [pool[i] for i in chosen]


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

    The public code's ``mutate_weights``: for each of the 6 coefficients one quadratic spline through 4-7
    evenly spaced knots with values U(0.6, 1.4), shared by all maps, multiplies that coefficient of every
    map over time; then an offset U(-0.2, 0.2) per map and coefficient, constant over the clip, is added.
    Padded (absent) maps of image mode stay absent.
    """
    n_frames, n_maps, _ = params.coef.shape
    lo, hi = cfg.perturb_scale
    scale = np.empty((n_frames, 6))
    for j in range(6):
        n_knots = int(rng.integers(cfg.perturb_knots[0], cfg.perturb_knots[1] + 1))
        scale[:, j] = even_spline_operator(n_knots, n_frames) @ rng.uniform(lo, hi, n_knots)
    offset = rng.uniform(-cfg.perturb_offset, cfg.perturb_offset, (1, n_maps, 6))
    live = abs_det(params.coef) > 0
    coef = np.where(live[..., None], params.coef * scale[:, None, :] + offset, 0.0)
    return ClipParams(coef, params.variation.copy(), dict(params.info))
