"""The synthetic families the paper compares fractals with: Perlin noise, dead leaves, octopus.

Every family makes grey uint8 clips (T, res, res) with T uniform in
{min_frames..max_frames} (18..20) and res 256 by default, the fractal clips'
length and size. Each has a frozen settings dataclass (paper-like defaults,
validated on construction, ``to_dict``/``from_dict`` for settings.json and
params.yaml) and the three functions of the family protocol of
fractalvid/clips/generate.py: ``*_class(spec, label, rng)`` draws the parameter set
of class ``label``, ``*_clip(spec, index, rng, class_params)`` draws and
renders one clip (an instance of the class, or with ``class_params=None`` a
free draw for unsupervised sets) and returns (frames, manifest info).

Classes:

- perlin: a class is a pair of spatial frequencies (fx, fy), the lattice
  cells across the frame along x and y of the first octave, taken without
  repetition from a ``freq_levels`` x ``freq_levels`` geometric grid (a
  permutation of the grid seeded by the dataset seed spreads the classes over
  it). Instances draw new gradients, lattice offsets and a temporal frequency.
- dead_leaves and octopus: a class is one sampled scene (the shapes, or the
  animal, with their key frames and motion curves), as a fractal class is one
  sampled set of maps; an instance perturbs it the way fractal instances are
  perturbed: smooth random curves (quadratic splines through 4-7 knots)
  added to or multiplying its per-frame tracks, and small constant offsets of
  its other numbers. Clip length is then a property of the class.

Motion of dead leaves and octopus limbs follows fractalvid.clips.ifs's motion
curves: each shape (limb) moves between two key frames along lambda(t) from
:func:`fractalvid.clips.ifs.sample_motion_curves`, with the same mixing rule and
weights (the settings carry the fields that function reads).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..checks import check as _check, is_int, is_number
from ..config import Settings
from .ifs import even_spline_operator, sample_motion_curves
from .kernels import paint_shapes, perlin_octave, stamp_discs

# seeds the permutation of the Perlin frequency grid: a 2-word seed, distinct from
# generate.py's 4-word [seed, stream, index, attempt] seeds
_GRID_STREAM = 0x9E7




def _check_range(c, name: str, lo_min: float, inclusive_zero: bool = False) -> None:
    """A (lo, hi) pair with lo_min <= lo <= hi (lo > 0 unless inclusive_zero)."""
    v = getattr(c, name)
    ok = (isinstance(v, tuple) and len(v) == 2 and all(is_number(x) for x in v) and v[0] <= v[1]
          and (v[0] >= lo_min if inclusive_zero else v[0] > lo_min))
    _check(ok, name, v, f"two numbers lo <= hi with lo {'>=' if inclusive_zero else '>'} {lo_min}")


class _Settings(Settings):
    """What every family's settings share: the clip geometry checks (and Settings' replace, to_dict,
    from_dict)."""

    family = kind = ""

    def _check_geometry(self) -> None:
        """Called first by every __post_init__: lists become tuples (as from JSON), then res and frames."""
        for f in dataclasses.fields(self):
            if isinstance(getattr(self, f.name), list):
                object.__setattr__(self, f.name, tuple(getattr(self, f.name)))
        _check(is_int(self.res) and 16 <= self.res <= 4096 and self.res % 2 == 0, "res", self.res,
               "an even integer in [16, 4096]")
        _check(is_int(self.min_frames) and 2 <= self.min_frames <= self.max_frames, "min_frames",
               self.min_frames, "an integer in [2, max_frames]")
        _check(is_int(self.max_frames) and self.max_frames <= 1000, "max_frames", self.max_frames,
               "an integer in [min_frames, 1000]")

    def _check_motion(self) -> None:
        """The fields fractalvid.clips.ifs.sample_motion_curves reads."""
        for name in ("p_all_linear", "p_shared_curve"):
            v = getattr(self, name)
            _check(is_number(v) and 0 <= v <= 1, name, v, "a probability in [0, 1]")
        w = self.curve_weights
        _check(isinstance(w, tuple) and len(w) == 3 and all(is_number(x) and x >= 0 for x in w) and sum(w) > 0,
               "curve_weights", w, "three non-negative weights (sharp, curve, periodic) with a positive sum")
        _check(isinstance(self.linear_motion, bool), "linear_motion", self.linear_motion, "true or false")
        k = self.perturb_knots
        _check(isinstance(k, tuple) and len(k) == 2 and all(is_int(v) for v in k) and 3 <= k[0] <= k[1],
               "perturb_knots", k, "two integers 3 <= lo <= hi (a quadratic spline needs 3 points)")


def smooth_tracks(rng: np.random.Generator, n_frames: int, n_tracks: int, knots: tuple[int, int],
                  lo: float, hi: float) -> np.ndarray:
    """``n_tracks`` smooth random curves over ``n_frames`` frames, shape (T, n_tracks).

    Each is fractalvid.clips.ifs.quadratic_spline (the interpolating quadratic spline of the public code's
    curves) through n evenly spaced knots, n uniform in knots[0]..knots[1], with values U(lo, hi): the
    curves that perturb fractal class instances, evaluated for all tracks at once.
    """
    counts = rng.integers(knots[0], knots[1] + 1, n_tracks)
    values = rng.uniform(lo, hi, (n_tracks, knots[1]))
    out = np.empty((n_frames, n_tracks))
    for n in np.unique(counts):
        sel = counts == n
        out[:, sel] = even_spline_operator(int(n), n_frames) @ values[sel, :n].T
    return out


def _to_uint8(frames: np.ndarray) -> np.ndarray:
    return np.clip(frames + 0.5, 0, 255).astype(np.uint8)


def _curve_mix(kinds: list[str]) -> str:
    """The manifest's 'variation' of a moving family: which motion curves it used."""
    return "+".join(sorted(set(kinds)))


# ===================================================================== Perlin

@dataclass(frozen=True)
class PerlinConfig(_Settings):
    """3D Perlin noise video: gradient noise on an (x, y, t) lattice, octaves summed.

    Octave o has lattice frequencies (fx, fy, ft) * lacunarity**o and
    amplitude persistence**o; fx, fy are cells across the frame (the class),
    ft cells per frame (drawn per clip). The sum is scaled to 0..255 by the
    clip's own minimum and maximum.
    """

    family = kind = "perlin"

    res: int = 256
    min_frames: int = 18
    max_frames: int = 20
    octaves: int = 4
    persistence: float = 0.5
    lacunarity: float = 2.0
    min_freq: float = 1.0              # first-octave cells across the frame, per axis ...
    max_freq: float = 8.0              # ... from min_freq to max_freq
    freq_levels: int = 32              # classes: pairs from a geometric grid of this many levels per axis
    time_freq: tuple[float, float] = (0.03, 0.12)  # first-octave cells per frame, U(lo, hi) per clip

    def __post_init__(self):
        self._check_geometry()
        _check(is_int(self.octaves) and 1 <= self.octaves <= 12, "octaves", self.octaves, "an integer in [1, 12]")
        _check(is_number(self.persistence) and 0 < self.persistence <= 1, "persistence", self.persistence,
               "a number in (0, 1]")
        _check(is_number(self.lacunarity) and self.lacunarity >= 1, "lacunarity", self.lacunarity, "a number >= 1")
        _check(is_number(self.min_freq) and self.min_freq > 0, "min_freq", self.min_freq, "a positive number")
        top = min(self.res, 255)  # a cell at least a pixel wide; the lattice repeats every 256 cells
        _check(is_number(self.max_freq) and self.min_freq <= self.max_freq
               and self.max_freq * self.lacunarity ** (self.octaves - 1) <= top, "max_freq", self.max_freq,
               f"a number in [min_freq={self.min_freq}, {top} / lacunarity**(octaves-1)"
               f" = {top / self.lacunarity ** (self.octaves - 1):.4g}] (finest cells at least a pixel wide)")
        _check(is_int(self.freq_levels) and self.freq_levels >= 1 and (self.freq_levels == 1) == (
            self.min_freq == self.max_freq), "freq_levels", self.freq_levels,
            "an integer >= 2 when min_freq < max_freq, 1 when they are equal")
        _check_range(self, "time_freq", 0.0, inclusive_zero=True)
        _check(self.time_freq[1] * self.lacunarity ** (self.octaves - 1) * self.max_frames <= 255, "time_freq",
               self.time_freq, "a range whose finest octave spans at most 255 cells over max_frames")

    def frequencies(self) -> np.ndarray:
        """The grid levels of a class's frequencies (first octave, cells across the frame)."""
        return np.geomspace(self.min_freq, self.max_freq, self.freq_levels)


def perlin_check(spec) -> None:
    """A supervised set cannot have more classes than frequency pairs."""
    cfg = spec.options
    if spec.classes is not None and spec.classes > cfg.freq_levels ** 2:
        raise ValueError(f"classes={spec.classes} is not accepted for family 'perlin': expected at most "
                         f"freq_levels**2 = {cfg.freq_levels ** 2} (raise perlin freq_levels)")


def perlin_class(spec, label: int, rng: np.random.Generator) -> tuple[float, float]:
    """Class ``label``'s frequency pair (fx, fy): entry ``label`` of a seeded permutation of the grid."""
    cfg = spec.options
    n = cfg.freq_levels
    pair = np.random.default_rng([spec.seed, _GRID_STREAM]).permutation(n * n)[label]
    levels = cfg.frequencies()
    return float(levels[pair // n]), float(levels[pair % n])


def render_perlin(rng: np.random.Generator, cfg: PerlinConfig, n_frames: int, fx: float, fy: float,
                  ft: float) -> np.ndarray:
    """A Perlin noise clip, uint8 (n_frames, res, res); gradients and offsets drawn from ``rng``.

    fx, fy: first-octave lattice cells across the frame along x (columns) and
    y (rows); ft: first-octave cells per frame.
    """
    perm = rng.permutation(256).astype(np.int64)
    grads = rng.normal(size=(256, 3))
    grads = (grads / np.linalg.norm(grads, axis=1, keepdims=True)).astype(np.float32)
    res = cfg.res
    out = np.zeros((n_frames, res, res), np.float32)
    for o in range(cfg.octaves):
        f = cfg.lacunarity ** o
        scale = np.array([fx * f / res, fy * f / res, ft * f])
        offset = rng.uniform(0, 256, 3)  # each octave its own stretch of the lattice
        perlin_octave(out, perm, grads, scale, offset, np.float32(cfg.persistence ** o))
    lo, hi = float(out.min()), float(out.max())
    return _to_uint8((out - lo) * (255.0 / max(hi - lo, 1e-12)))


def perlin_clip(spec, index: int, rng: np.random.Generator, pair) -> tuple[np.ndarray, dict]:
    cfg = spec.options
    n_frames = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
    if pair is None:  # unsupervised: any pair in the range, log-uniform
        fx, fy = np.exp(rng.uniform(math.log(cfg.min_freq), math.log(cfg.max_freq), 2))
    else:
        fx, fy = pair
    ft = rng.uniform(*cfg.time_freq)
    frames = render_perlin(rng, cfg, n_frames, fx, fy, ft)
    return frames, {"variation": f"{fx:.3g}x{fy:.3g}", "n_maps": cfg.octaves}


# ================================================================ dead leaves

@dataclass(frozen=True)
class DeadLeavesConfig(_Settings):
    """Dead leaves video: discs and regular polygons, one over another, moving.

    A clip has n shapes, n uniform in min_shapes..max_shapes, painted in order
    on a grey background (later shapes cover earlier ones). A shape has s
    sides, s uniform in min_sides..max_sides, where s < 3 (a polygon with no
    area) draws a disc; circumradius U(radius) px at 256 px, scaled with res;
    a grey shade U(0, 255). It moves from a start position uniform over the
    frame to start + U(-max_shift, max_shift) * res per axis and turns by
    U(-max_turn, max_turn), along its motion curve.
    """

    family = kind = "dead_leaves"

    res: int = 256
    min_frames: int = 18
    max_frames: int = 20
    min_shapes: int = 48
    max_shapes: int = 128
    min_sides: int = 1
    max_sides: int = 8
    radius: tuple[float, float] = (12.0, 32.0)   # px at 256 px
    max_shift: float = 0.4                       # fraction of res, per axis
    max_turn: float = math.pi
    # motion curves (read by fractalvid.clips.ifs.sample_motion_curves)
    linear_motion: bool = False
    p_all_linear: float = 0.2
    p_shared_curve: float = 0.4
    curve_weights: tuple[float, float, float] = (0.2, 0.55, 0.25)
    # class instances
    perturb_knots: tuple[int, int] = (4, 7)
    perturb_shift: float = 0.5                   # smooth path offset, in units of the shape's radius
    perturb_turn: float = 0.3                    # smooth angle offset, radians
    perturb_size: tuple[float, float] = (0.85, 1.15)
    perturb_shade: float = 24.0                  # grey levels

    def __post_init__(self):
        self._check_geometry()
        _check(is_int(self.min_shapes) and 1 <= self.min_shapes <= self.max_shapes, "min_shapes",
               self.min_shapes, "an integer in [1, max_shapes]")
        _check(is_int(self.max_shapes) and self.max_shapes <= 10000, "max_shapes", self.max_shapes,
               "an integer in [min_shapes, 10000]")
        _check(is_int(self.min_sides) and 1 <= self.min_sides <= self.max_sides, "min_sides", self.min_sides,
               "an integer in [1, max_sides] (below 3: a disc)")
        _check(is_int(self.max_sides) and self.max_sides <= 16, "max_sides", self.max_sides,
               "an integer in [min_sides, 16]")
        _check_range(self, "radius", 0.0)
        for name in ("max_shift", "max_turn", "perturb_shift", "perturb_turn", "perturb_shade"):
            v = getattr(self, name)
            _check(is_number(v) and v >= 0, name, v, "a non-negative number")
        _check_range(self, "perturb_size", 0.0)
        self._check_motion()


@dataclass
class Leaves:
    """One dead-leaves scene: per-frame tracks of K shapes, in painting order."""

    cx: np.ndarray          # (T, K) px
    cy: np.ndarray          # (T, K) px
    angle: np.ndarray       # (T, K) rad
    radius: np.ndarray      # (K,) px
    sides: np.ndarray       # (K,) int, < 3 for a disc
    shade: np.ndarray       # (K,) grey 0..255
    background: float
    curves: list[str]


def sample_leaves(rng: np.random.Generator, cfg: DeadLeavesConfig) -> Leaves:
    n_frames = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
    k = int(rng.integers(cfg.min_shapes, cfg.max_shapes + 1))
    res = cfg.res
    radius = rng.uniform(*cfg.radius, k) * (res / 256)
    sides = rng.integers(cfg.min_sides, cfg.max_sides + 1, k)
    shade = rng.uniform(0, 255, k)
    background = float(rng.uniform(0, 255))
    start = rng.uniform(0, res, (2, k))
    end = start + rng.uniform(-cfg.max_shift, cfg.max_shift, (2, k)) * res
    angle0 = rng.uniform(0, 2 * np.pi, k)
    angle1 = angle0 + rng.uniform(-cfg.max_turn, cfg.max_turn, k)
    lam, kinds = sample_motion_curves(rng, n_frames, k, cfg)
    return Leaves(start[0] + lam * (end[0] - start[0]), start[1] + lam * (end[1] - start[1]),
                  angle0 + lam * (angle1 - angle0), radius, sides, shade, background, kinds)


def perturb_leaves(rng: np.random.Generator, s: Leaves, cfg: DeadLeavesConfig) -> Leaves:
    """An instance of a scene: every path and angle track plus a smooth random curve;
    radii times U(perturb_size), shades and background plus U(-perturb_shade, perturb_shade)."""
    n_frames, k = s.cx.shape
    shift = smooth_tracks(rng, n_frames, 2 * k, cfg.perturb_knots, -cfg.perturb_shift, cfg.perturb_shift)
    turn = smooth_tracks(rng, n_frames, k, cfg.perturb_knots, -cfg.perturb_turn, cfg.perturb_turn)
    grey = rng.uniform(-cfg.perturb_shade, cfg.perturb_shade, k + 1)
    return Leaves(s.cx + shift[:, :k] * s.radius, s.cy + shift[:, k:] * s.radius, s.angle + turn,
                  s.radius * rng.uniform(*cfg.perturb_size, k), s.sides.copy(), np.clip(s.shade + grey[:k], 0, 255),
                  float(np.clip(s.background + grey[k], 0, 255)), list(s.curves))


def render_leaves(s: Leaves, res: int) -> np.ndarray:
    """Paint a scene: uint8 frames (T, res, res)."""
    frames = np.full((s.cx.shape[0], res, res), s.background, np.float32)
    paint_shapes(frames, s.cx, s.cy, s.radius.astype(np.float64), s.angle, s.sides.astype(np.int64),
                 s.shade.astype(np.float32))
    return _to_uint8(frames)


def dead_leaves_class(spec, label: int, rng: np.random.Generator) -> Leaves:
    return sample_leaves(rng, spec.options)


def dead_leaves_clip(spec, index: int, rng: np.random.Generator, scene: Leaves | None) -> tuple[np.ndarray, dict]:
    cfg = spec.options
    s = sample_leaves(rng, cfg) if scene is None else perturb_leaves(rng, scene, cfg)
    return render_leaves(s, cfg.res), {"variation": _curve_mix(s.curves), "n_maps": len(s.sides)}


# ==================================================================== octopus

@dataclass(frozen=True)
class OctopusConfig(_Settings):
    """Octopus video: curved limbs joined at a body, bending over time.

    A clip has L limbs, L uniform in min_limbs..max_limbs, rooted around a
    body disc and spread around it. Limb l's direction along its length
    s in [0, 1] is root_angle + turn(t) + bend_l(t) s + curl_l(t) s^2: bend
    curves it evenly, curl rolls its tip. bend and curl move between two key
    values U(-max_bend, max_bend) along the limb's motion curve; the body
    drifts by U(-max_shift, max_shift) * res and the whole animal turns by
    U(-max_turn, max_turn) along one more curve. Limbs taper from a root
    radius U(limb_width) * res to tip_width of it; lengths U(limb_length) * res.
    The animal is one grey U(150, 255) on a dark background U(0, 80).
    """

    family = kind = "octopus"

    res: int = 256
    min_frames: int = 18
    max_frames: int = 20
    min_limbs: int = 3
    max_limbs: int = 8
    limb_length: tuple[float, float] = (0.2, 0.45)    # fraction of res
    limb_width: tuple[float, float] = (0.012, 0.03)   # root radius, fraction of res
    tip_width: float = 0.15                            # tip radius / root radius
    body_radius: tuple[float, float] = (0.035, 0.07)   # fraction of res
    max_bend: float = math.pi
    max_shift: float = 0.15
    max_turn: float = math.pi / 2
    # motion curves (read by fractalvid.clips.ifs.sample_motion_curves)
    linear_motion: bool = False
    p_all_linear: float = 0.2
    p_shared_curve: float = 0.4
    curve_weights: tuple[float, float, float] = (0.2, 0.55, 0.25)
    # class instances
    perturb_knots: tuple[int, int] = (4, 7)
    perturb_scale: tuple[float, float] = (0.7, 1.3)   # bend and curl tracks times a smooth curve ...
    perturb_offset: float = 0.3                        # ... plus a constant offset, radians
    perturb_angle: float = 0.2                         # root angles plus U(-a, a), radians
    perturb_length: tuple[float, float] = (0.85, 1.15)
    perturb_shift: float = 0.03                        # smooth body path offset, fraction of res
    perturb_shade: float = 24.0

    def __post_init__(self):
        self._check_geometry()
        _check(is_int(self.min_limbs) and 1 <= self.min_limbs <= self.max_limbs, "min_limbs", self.min_limbs,
               "an integer in [1, max_limbs]")
        _check(is_int(self.max_limbs) and self.max_limbs <= 64, "max_limbs", self.max_limbs,
               "an integer in [min_limbs, 64]")
        for name in ("limb_length", "limb_width", "body_radius", "perturb_scale", "perturb_length"):
            _check_range(self, name, 0.0)
        _check(is_number(self.tip_width) and 0 < self.tip_width <= 1, "tip_width", self.tip_width,
               "a number in (0, 1]")
        for name in ("max_bend", "max_shift", "max_turn", "perturb_offset", "perturb_angle", "perturb_shift",
                     "perturb_shade"):
            v = getattr(self, name)
            _check(is_number(v) and v >= 0, name, v, "a non-negative number")
        self._check_motion()


@dataclass
class Octopus:
    """One octopus: body path and per-limb bend tracks."""

    centre: np.ndarray      # (T, 2) px, x and y
    turn: np.ndarray        # (T,) rad, rotation of the whole animal
    angle: np.ndarray       # (L,) rad, direction of each limb at its root
    length: np.ndarray      # (L,) px
    width: np.ndarray       # (L,) px, limb radius at the root
    bend: np.ndarray        # (T, L) rad, turning spread evenly along the limb
    curl: np.ndarray        # (T, L) rad, turning growing toward the tip
    body: float             # px, body radius
    shade: float
    background: float
    curves: list[str]


def sample_octopus(rng: np.random.Generator, cfg: OctopusConfig) -> Octopus:
    n_frames = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
    n = int(rng.integers(cfg.min_limbs, cfg.max_limbs + 1))
    res = cfg.res
    angle = rng.uniform(0, 2 * np.pi) + 2 * np.pi * (np.arange(n) + rng.uniform(-0.3, 0.3, n)) / n
    length = rng.uniform(*cfg.limb_length, n) * res
    width = rng.uniform(*cfg.limb_width, n) * res
    body = float(rng.uniform(*cfg.body_radius) * res)
    bend = rng.uniform(-cfg.max_bend, cfg.max_bend, (2, n))
    curl = rng.uniform(-cfg.max_bend, cfg.max_bend, (2, n))
    start = rng.uniform(0.35, 0.65, 2) * res
    end = start + rng.uniform(-cfg.max_shift, cfg.max_shift, 2) * res
    turn = rng.uniform(-cfg.max_turn, cfg.max_turn)
    lam, kinds = sample_motion_curves(rng, n_frames, n + 1, cfg)  # one curve per limb, one for the body
    shade, background = float(rng.uniform(150, 255)), float(rng.uniform(0, 80))
    body_lam = lam[:, n:]
    return Octopus(start + body_lam * (end - start), body_lam[:, 0] * turn, angle, length, width,
                   bend[0] + lam[:, :n] * (bend[1] - bend[0]), curl[0] + lam[:, :n] * (curl[1] - curl[0]),
                   body, shade, background, kinds)


def perturb_octopus(rng: np.random.Generator, o: Octopus, cfg: OctopusConfig, res: int) -> Octopus:
    """An instance: bend and curl tracks times smooth curves U(perturb_scale) plus offsets,
    root angles and lengths jittered, the body path plus a smooth offset, shades jittered."""
    n_frames, n = o.bend.shape
    scale = smooth_tracks(rng, n_frames, 2 * n, cfg.perturb_knots, *cfg.perturb_scale)
    offset = rng.uniform(-cfg.perturb_offset, cfg.perturb_offset, 2 * n)
    shift = smooth_tracks(rng, n_frames, 2, cfg.perturb_knots, -cfg.perturb_shift, cfg.perturb_shift) * res
    grey = rng.uniform(-cfg.perturb_shade, cfg.perturb_shade, 2)
    return Octopus(o.centre + shift, o.turn.copy(), o.angle + rng.uniform(-cfg.perturb_angle, cfg.perturb_angle, n),
                   o.length * rng.uniform(*cfg.perturb_length, n), o.width.copy(),
                   o.bend * scale[:, :n] + offset[:n], o.curl * scale[:, n:] + offset[n:], o.body,
                   float(np.clip(o.shade + grey[0], 0, 255)), float(np.clip(o.background + grey[1] / 2, 0, 255)),
                   list(o.curves))


def limb_points(o: Octopus, tip_width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre-line points of every limb, (T, L, M) x, y and radius, spaced at most a pixel apart."""
    m = int(math.ceil(o.length.max())) + 1
    s = np.linspace(0.0, 1.0, m)
    heading = (o.angle[None, :] + o.turn[:, None])                                    # (T, L)
    psi = heading[..., None] + o.bend[..., None] * s + o.curl[..., None] * s * s       # (T, L, M)
    step = (o.length / (m - 1))[None, :, None]
    root = o.centre[:, None, :] + 0.7 * o.body * np.stack([np.cos(heading), np.sin(heading)], -1)
    # walk along the limb: point i is the root plus steps in the directions of points 0..i-1
    walk_x = np.concatenate([np.zeros(psi.shape[:2] + (1,)), np.cumsum(step * np.cos(psi[..., :-1]), -1)], -1)
    walk_y = np.concatenate([np.zeros(psi.shape[:2] + (1,)), np.cumsum(step * np.sin(psi[..., :-1]), -1)], -1)
    radius = np.broadcast_to(o.width[None, :, None] * (1 - (1 - tip_width) * s), psi.shape)
    return root[..., 0:1] + walk_x, root[..., 1:2] + walk_y, radius


def render_octopus(o: Octopus, res: int, tip_width: float) -> np.ndarray:
    """Draw the animal: uint8 frames (T, res, res)."""
    xs, ys, radius = limb_points(o, tip_width)
    n_frames = xs.shape[0]
    xs = np.concatenate([xs.reshape(n_frames, -1), o.centre[:, :1]], 1)
    ys = np.concatenate([ys.reshape(n_frames, -1), o.centre[:, 1:]], 1)
    radius = np.concatenate([radius.reshape(n_frames, -1), np.full((n_frames, 1), o.body)], 1)
    cover = np.zeros((n_frames, res, res), np.float32)
    stamp_discs(cover, xs, ys, np.ascontiguousarray(radius))
    return _to_uint8(o.background + cover * np.float32(o.shade - o.background))


def octopus_class(spec, label: int, rng: np.random.Generator) -> Octopus:
    return sample_octopus(rng, spec.options)


def octopus_clip(spec, index: int, rng: np.random.Generator, base: Octopus | None) -> tuple[np.ndarray, dict]:
    cfg = spec.options
    o = sample_octopus(rng, cfg) if base is None else perturb_octopus(rng, base, cfg, cfg.res)
    return render_octopus(o, cfg.res, cfg.tip_width), {"variation": _curve_mix(o.curves), "n_maps": len(o.angle)}
