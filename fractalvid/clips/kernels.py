"""The numba kernels: flame variations, the chaos game, and the comparison families' renderers.

All compiled code lives in this one file because numba's on-disk cache only
notices edits to the file of the function it caches, not to its callees.

Flame variations are the nonlinear functions that bend an IFS (Draves & Reckase).

A nonlinear clip sends every point through one variation after each affine
step, the same variation for the whole clip. Formulas follow "The Fractal
Flame Algorithm" with r = |p| and theta = atan2(x, y) (the paper's angle
convention); "cosine" replaces cosh/sinh by tanh so it stays finite, and
popcorn, waves, rings and fan take the chosen map's coefficients (c, f are its
translation) as their parameters.

``apply_variation`` is a numba kernel over a lane of walkers; it is called
once per chaos-game step with the variation fixed, so its branch chain sits
outside the lane loops and each loop stays tight.
"""
import numba
import numpy as np

from .. import numerics

# the paper's default set of nonlinear shapes
DEFAULT_VARIATIONS = ("horseshoe", "bent", "fisheye", "popcorn", "cosine", "eyefish", "cylinder")

# index used by the kernels; 0 is the identity (a linear clip)
VARIATIONS = {name: i for i, name in enumerate((
    "linear", "sinusoidal", "spherical", "swirl", "horseshoe", "polar", "handkerchief", "heart", "disc",
    "spiral", "hyperbolic", "diamond", "ex", "julia", "bent", "waves", "fisheye", "popcorn", "exponential",
    "power", "cosine", "rings", "fan", "eyefish", "bubble", "cylinder", "noise", "tangent", "rays",
    "blade", "cross",
))}
VARIATION_NAMES = tuple(VARIATIONS)

EPS = np.float32(1e-6)
PI = np.float32(np.pi)
# points whose coordinates leave this range are re-seeded at the origin
_ESCAPE = np.float32(1e6)
# Without 'nnan'/'ninf': the kernels test for non-finite points and must see them.
# Without 'reassoc' (unless FRACTALVID_NUMERICS=native): with it LLVM regroups sums to fit the vector width,
# so the same clip came out with other bytes on AVX-512 than on AVX2 (9 of 100 clips); without it the bytes
# are the same on AVX-512, AVX2 and any CPU with FMA, for 5-10 % more render time (tests/test_golden.py).
# 'contract' (fused multiply-add) stays: only CPUs without FMA (before 2013) give other bytes.
FASTMATH = {"nsz", "arcp", "contract", "afn"} | ({"reassoc"} if numerics.mode() == "native" else set())


# Fast float32 transcendental functions. numba calls libm for np.sin and
# friends, one scalar call per lane, which stops the lane loops from
# vectorising; these are straight-line polynomials that do vectorise. Accuracy
# is ~1e-6 absolute (tanh ~1e-4), far below a pixel. Arguments are clamped to
# +-1e5 so that the float-to-int rounding never overflows: sin of a clamped
# huge argument is as arbitrary as sin of the huge argument itself.
_HALF_PI = np.float32(np.pi / 2)
_INV_PI = np.float32(1 / np.pi)
_PI_HI = np.float32(3.140625)                  # pi split in two so that x - k pi stays exact
_PI_LO = np.float32(np.pi - 3.140625)
_BIG = np.float32(1e5)


@numba.njit(fastmath=FASTMATH, error_model="numpy", cache=True, inline="always")
def _reduce(x):
    """x -> (r, k) with x = r + k pi, |r| <= pi/2."""
    x = min(max(x, -_BIG), _BIG)
    k = np.floor(x * _INV_PI + np.float32(0.5))
    return (x - k * _PI_HI) - k * _PI_LO, k


@numba.njit(fastmath=FASTMATH, error_model="numpy", cache=True, inline="always")
def _sin_poly(r):
    r2 = r * r
    return r * (np.float32(1.0) + r2 * (np.float32(-1 / 6) + r2 * (np.float32(1 / 120) + r2 * (
        np.float32(-1 / 5040) + r2 * (np.float32(1 / 362880) + r2 * np.float32(-1 / 39916800))))))


@numba.njit(fastmath=FASTMATH, error_model="numpy", cache=True, inline="always")
def _cos_poly(r):
    r2 = r * r
    return np.float32(1.0) + r2 * (np.float32(-0.5) + r2 * (np.float32(1 / 24) + r2 * (np.float32(-1 / 720) + r2 * (
        np.float32(1 / 40320) + r2 * (np.float32(-1 / 3628800) + r2 * np.float32(1 / 479001600))))))


@numba.njit(fastmath=FASTMATH, error_model="numpy", cache=True, inline="always")
def fast_sin(x):
    r, k = _reduce(x)
    odd = k - np.float32(2.0) * np.floor(k * np.float32(0.5))
    return _sin_poly(r) * (np.float32(1.0) - np.float32(2.0) * odd)


@numba.njit(fastmath=FASTMATH, error_model="numpy", cache=True, inline="always")
def fast_cos(x):
    return fast_sin(x + _HALF_PI)


@numba.njit(fastmath=FASTMATH, error_model="numpy", cache=True, inline="always")
def fast_tan(x):
    r, _ = _reduce(x)
    c = _cos_poly(r)
    c = c if c > np.float32(1e-7) else np.float32(1e-7)  # the pole, kept finite
    return _sin_poly(r) / c


@numba.njit(fastmath=FASTMATH, error_model="numpy", cache=True, inline="always")
def fast_tanh(x):
    """Lambert's continued fraction, exact to 1e-4 over the reals once clamped."""
    x = min(max(x, np.float32(-5.0)), np.float32(5.0))
    x2 = x * x
    t = x * (np.float32(135135.0) + x2 * (np.float32(17325.0) + x2 * (np.float32(378.0) + x2))) / (
        np.float32(135135.0) + x2 * (np.float32(62370.0) + x2 * (np.float32(3150.0) + np.float32(28.0) * x2)))
    return min(max(t, np.float32(-1.0)), np.float32(1.0))


@numba.njit(fastmath=FASTMATH, error_model="numpy", cache=True, inline="always")
def next_random(state):
    """xorshift32 step; returns (new state, uniform float32 in [0, 1))."""
    s = state
    s ^= np.uint32(s << np.uint32(13))
    s ^= s >> np.uint32(17)
    s ^= np.uint32(s << np.uint32(5))
    return s, np.float32(s >> np.uint32(8)) * np.float32(1.0 / 16777216.0)


@numba.njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def apply_variation(v, xs, ys, coef, chosen, state, lane_c, lane_f):
    """Replace each lane's point (xs[i], ys[i]) by variation ``v`` of it, in place.

    ``coef`` (K, 6) are the frame's maps and ``chosen[i]`` the map lane i just
    applied (popcorn, waves, rings and fan read its coefficients); ``state`` is
    the lanes' xorshift state, advanced only by the random variations
    (noise, julia, blade, rays); lane_c and lane_f are scratch lanes. v == 0
    (linear) must not be passed.
    """
    n = xs.shape[0]
    if v == 15 or v == 17 or v == 21 or v == 22:
        # gather the chosen maps' translations first: a gather inside the
        # math loop keeps it from vectorising
        for i in range(n):
            lane_c[i] = coef[chosen[i], 2]
            lane_f[i] = coef[chosen[i], 5]
    if v == 1:  # sinusoidal
        for i in range(n):
            xs[i], ys[i] = fast_sin(xs[i]), fast_sin(ys[i])
    elif v == 2:  # spherical
        for i in range(n):
            q = np.float32(1.0) / (xs[i] * xs[i] + ys[i] * ys[i] + EPS)
            xs[i], ys[i] = xs[i] * q, ys[i] * q
    elif v == 3:  # swirl
        for i in range(n):
            r2 = xs[i] * xs[i] + ys[i] * ys[i]
            s, c = fast_sin(r2), fast_cos(r2)
            xs[i], ys[i] = xs[i] * s - ys[i] * c, xs[i] * c + ys[i] * s
    elif v == 4:  # horseshoe
        for i in range(n):
            q = np.float32(1.0) / (np.sqrt(xs[i] * xs[i] + ys[i] * ys[i]) + EPS)
            xs[i], ys[i] = (xs[i] - ys[i]) * (xs[i] + ys[i]) * q, np.float32(2.0) * xs[i] * ys[i] * q
    elif v == 5:  # polar
        for i in range(n):
            r = np.sqrt(xs[i] * xs[i] + ys[i] * ys[i])
            xs[i], ys[i] = np.arctan2(xs[i], ys[i]) / PI, r - np.float32(1.0)
    elif v == 6:  # handkerchief
        for i in range(n):
            r = np.sqrt(xs[i] * xs[i] + ys[i] * ys[i])
            a = np.arctan2(xs[i], ys[i])
            xs[i], ys[i] = r * fast_sin(a + r), r * fast_cos(a - r)
    elif v == 7:  # heart
        for i in range(n):
            r = np.sqrt(xs[i] * xs[i] + ys[i] * ys[i])
            a = np.arctan2(xs[i], ys[i])
            xs[i], ys[i] = r * fast_sin(a * r), -r * fast_cos(a * r)
    elif v == 8:  # disc
        for i in range(n):
            r = np.sqrt(xs[i] * xs[i] + ys[i] * ys[i])
            a = np.arctan2(xs[i], ys[i]) / PI
            xs[i], ys[i] = a * fast_sin(PI * r), a * fast_cos(PI * r)
    elif v == 9:  # spiral
        for i in range(n):
            r = np.sqrt(xs[i] * xs[i] + ys[i] * ys[i]) + EPS
            a = np.arctan2(xs[i], ys[i])
            xs[i], ys[i] = (fast_cos(a) + fast_sin(r)) / r, (fast_sin(a) - fast_cos(r)) / r
    elif v == 10:  # hyperbolic
        for i in range(n):
            r = np.sqrt(xs[i] * xs[i] + ys[i] * ys[i]) + EPS
            a = np.arctan2(xs[i], ys[i])
            xs[i], ys[i] = fast_sin(a) / r, r * fast_cos(a)
    elif v == 11:  # diamond
        for i in range(n):
            r = np.sqrt(xs[i] * xs[i] + ys[i] * ys[i])
            a = np.arctan2(xs[i], ys[i])
            xs[i], ys[i] = fast_sin(a) * fast_cos(r), fast_cos(a) * fast_sin(r)
    elif v == 12:  # ex
        for i in range(n):
            r = np.sqrt(xs[i] * xs[i] + ys[i] * ys[i])
            a = np.arctan2(xs[i], ys[i])
            p0, p1 = fast_sin(a + r), fast_cos(a - r)
            p0, p1 = p0 * p0 * p0, p1 * p1 * p1
            xs[i], ys[i] = r * (p0 + p1), r * (p0 - p1)
    elif v == 13:  # julia
        for i in range(n):
            state[i], u = next_random(state[i])
            sr = np.sqrt(np.sqrt(xs[i] * xs[i] + ys[i] * ys[i]))
            a = np.float32(0.5) * np.arctan2(xs[i], ys[i]) + (PI if u < 0.5 else np.float32(0.0))
            xs[i], ys[i] = sr * fast_cos(a), sr * fast_sin(a)
    elif v == 14:  # bent
        for i in range(n):
            x, y = xs[i], ys[i]
            xs[i] = x * np.float32(2.0) if x < 0 else x
            ys[i] = y * np.float32(0.5) if y < 0 else y
    elif v == 15:  # waves
        for i in range(n):
            k = chosen[i]
            b, c, e, f = coef[k, 1], lane_c[i], coef[k, 4], lane_f[i]
            x, y = xs[i], ys[i]
            xs[i] = x + b * fast_sin(y / (c * c + EPS))
            ys[i] = y + e * fast_sin(x / (f * f + EPS))
    elif v == 16:  # fisheye
        for i in range(n):
            q = np.float32(2.0) / (np.sqrt(xs[i] * xs[i] + ys[i] * ys[i]) + np.float32(1.0))
            xs[i], ys[i] = q * ys[i], q * xs[i]
    elif v == 17:  # popcorn
        for i in range(n):
            x, y = xs[i], ys[i]
            xs[i] = x + lane_c[i] * fast_sin(fast_tan(np.float32(3.0) * y))
            ys[i] = y + lane_f[i] * fast_sin(fast_tan(np.float32(3.0) * x))
    elif v == 18:  # exponential
        for i in range(n):
            q = np.exp(min(xs[i] - np.float32(1.0), np.float32(30.0)))
            xs[i], ys[i] = q * fast_cos(PI * ys[i]), q * fast_sin(PI * ys[i])
    elif v == 19:  # power
        for i in range(n):
            r = np.sqrt(xs[i] * xs[i] + ys[i] * ys[i]) + EPS
            a = np.arctan2(xs[i], ys[i])
            q = r ** fast_sin(a)
            xs[i], ys[i] = q * fast_cos(a), q * fast_sin(a)
    elif v == 20:  # cosine, tanh for cosh and sinh
        for i in range(n):
            t = fast_tanh(ys[i])
            xs[i], ys[i] = fast_cos(PI * xs[i]) * t, -fast_sin(PI * xs[i]) * t
    elif v == 21:  # rings
        for i in range(n):
            c2 = lane_c[i] * lane_c[i] + EPS
            r = np.sqrt(xs[i] * xs[i] + ys[i] * ys[i])
            a = np.arctan2(xs[i], ys[i])
            q = ((r + c2) % (np.float32(2.0) * c2)) - c2 + r * (np.float32(1.0) - c2)
            xs[i], ys[i] = q * fast_cos(a), q * fast_sin(a)
    elif v == 22:  # fan
        for i in range(n):
            t = PI * lane_c[i] * lane_c[i] + EPS
            r = np.sqrt(xs[i] * xs[i] + ys[i] * ys[i])
            a = np.arctan2(xs[i], ys[i])
            a = a - t / 2 if (a + lane_f[i]) % t > t / 2 else a + t / 2
            xs[i], ys[i] = r * fast_cos(a), r * fast_sin(a)
    elif v == 23:  # eyefish
        for i in range(n):
            q = np.float32(2.0) / (np.sqrt(xs[i] * xs[i] + ys[i] * ys[i]) + np.float32(1.0))
            xs[i], ys[i] = q * xs[i], q * ys[i]
    elif v == 24:  # bubble
        for i in range(n):
            q = np.float32(4.0) / (xs[i] * xs[i] + ys[i] * ys[i] + np.float32(4.0))
            xs[i], ys[i] = q * xs[i], q * ys[i]
    elif v == 25:  # cylinder
        for i in range(n):
            xs[i] = fast_sin(xs[i])
    elif v == 26:  # noise
        for i in range(n):
            state[i], u1 = next_random(state[i])
            state[i], u2 = next_random(state[i])
            a = np.float32(2.0) * PI * u2
            xs[i], ys[i] = u1 * xs[i] * fast_cos(a), u1 * ys[i] * fast_sin(a)
    elif v == 27:  # tangent
        for i in range(n):
            xs[i], ys[i] = fast_sin(xs[i]) / (fast_cos(ys[i]) + EPS), fast_tan(ys[i])
    elif v == 28:  # rays
        for i in range(n):
            state[i], u = next_random(state[i])
            q = fast_tan(u * PI) / (xs[i] * xs[i] + ys[i] * ys[i] + EPS)
            xs[i], ys[i] = q * fast_cos(xs[i]), q * fast_sin(ys[i])
    elif v == 29:  # blade
        for i in range(n):
            state[i], u = next_random(state[i])
            r = np.sqrt(xs[i] * xs[i] + ys[i] * ys[i])
            s, c = fast_sin(u * r), fast_cos(u * r)
            xs[i], ys[i] = xs[i] * (c + s), xs[i] * (c - s)
    elif v == 30:  # cross
        for i in range(n):
            q = np.float32(1.0) / (np.abs(xs[i] * xs[i] - ys[i] * ys[i]) + EPS)
            xs[i], ys[i] = q * xs[i], q * ys[i]


@numba.njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def chaos_game(coef, table, variation, view, res, border, steps, discard, seeds, min_counted=0.0):
    """Count the chaos game's points per pixel, for every frame.

    coef (T, K, 6) float32 maps; table (T, 2**b) uint8 map lookup tables (the
    top b bits of a walker's random word pick the map); variation (T,)
    ints (0 = linear); view (T, 4) float32 (x0, y0, sx, sy) sends a point to
    pixel ((y - y0) * sy, (x - x0) * sx); res the view's size in pixels and
    border the extra pixels kept on each side; seeds (T, walkers) non-zero
    uint32 states of the walkers' xorshift generators.

    Each walker starts uniform in [-1, 1]^2 and takes ``steps`` steps, the
    first ``discard`` uncounted. Returns counts (T, res + 2 border, same) uint32
    and, per frame, the number of points that escaped to non-finite or huge
    values (re-seeded at the origin). Points that miss the image are simply
    not counted: drawn - counts.sum() of them. With min_counted > 0, a frame
    that counts fewer points ends the work and the later frames stay empty
    (a clip whose points fly out of view is redrawn anyway).
    """
    n_frames, n_maps, _ = coef.shape
    walkers = seeds.shape[1]
    side = res + 2 * border
    counts = np.zeros((n_frames, side * side), np.uint32)
    escaped = np.zeros(n_frames, np.int64)
    xs = np.empty(walkers, np.float32)
    ys = np.empty(walkers, np.float32)
    chosen = np.empty(walkers, np.int64)
    slot = np.empty(walkers, np.int64)
    lane_c = np.empty(walkers, np.float32)
    lane_f = np.empty(walkers, np.float32)
    state = np.empty(walkers, np.uint32)
    fside = np.float32(side)
    fborder = np.float32(border)
    for t in range(n_frames):
        c = coef[t]
        tt = table[t]
        v = variation[t]
        x0, y0, sx, sy = view[t, 0], view[t, 1], view[t, 2], view[t, 3]
        shift = np.uint32(32 - int(np.log2(table.shape[1])))
        for i in range(walkers):
            s, u = next_random(seeds[t, i])
            s, w = next_random(s)
            state[i] = s
            xs[i] = np.float32(2.0) * u - np.float32(1.0)
            ys[i] = np.float32(2.0) * w - np.float32(1.0)
        n_escaped = 0
        for step in range(steps):
            for i in range(walkers):
                s = state[i]
                s ^= np.uint32(s << np.uint32(13))
                s ^= s >> np.uint32(17)
                s ^= np.uint32(s << np.uint32(5))
                state[i] = s
                k = np.int64(tt[s >> shift])
                chosen[i] = k
                x, y = xs[i], ys[i]
                xs[i] = c[k, 0] * x + c[k, 1] * y + c[k, 2]
                ys[i] = c[k, 3] * x + c[k, 4] * y + c[k, 5]
            if v != 0:
                apply_variation(v, xs, ys, c, chosen, state, lane_c, lane_f)
                for i in range(walkers):
                    if not (np.abs(xs[i]) < _ESCAPE and np.abs(ys[i]) < _ESCAPE):
                        xs[i] = np.float32(0.0)
                        ys[i] = np.float32(0.0)
                        n_escaped += 1
            if step >= discard:
                for i in range(walkers):
                    fx = (xs[i] - x0) * sx + fborder
                    fy = (ys[i] - y0) * sy + fborder
                    inside = (fx >= 0) & (fx < fside) & (fy >= 0) & (fy < fside)
                    slot[i] = np.int64(fy) * side + np.int64(fx) if inside else -1
                for i in range(walkers):
                    j = slot[i]
                    if j >= 0:
                        counts[t, j] += np.uint32(1)
        escaped[t] = n_escaped
        if min_counted > 0:
            counted = 0
            for j in range(side * side):
                counted += counts[t, j]
            if counted < min_counted:
                break  # the clip is lost anyway: leave the later frames empty
    return counts.reshape(n_frames, side, side), escaped


@numba.njit(error_model="numpy", cache=True)
def splat_tone_map(counts, size, per_frame, log_table):
    """Splat by box sum, then tone-map: uint32 counts (T, R + size - 1, same) -> uint8 (T, R, R).

    A size x size box sum of the bordered one-pixel count image equals
    splatting each point onto a size x size block. The tone map is
    log(1 + count) / max, the max over the clip or, with per_frame, over each
    frame, rounded to 0..255. log_table[c] = log1p(c) for small c (most
    pixels) so that only the rare dense pixels call log. Returns the frames
    and, per frame, the number of lit pixels.
    """
    n_frames, side, _ = counts.shape
    res = side - size + 1
    rows = np.empty((side, res), np.uint32)
    image = np.empty((n_frames, res, res), np.uint32)
    peak = np.zeros(n_frames, np.uint32)
    lit = np.zeros(n_frames, np.int64)
    for t in range(n_frames):
        for y in range(side):          # horizontal sums, vectorised along x
            for x in range(res):
                rows[y, x] = counts[t, y, x]
            for d in range(1, size):
                for x in range(res):
                    rows[y, x] += counts[t, y, x + d]
        for y in range(res):           # vertical sums, vectorised along x
            for x in range(res):
                image[t, y, x] = rows[y, x]
            for d in range(1, size):
                for x in range(res):
                    image[t, y, x] += rows[y + d, x]
        top = np.uint32(0)
        n = 0
        for y in range(res):
            for x in range(res):
                c = image[t, y, x]
                top = max(top, c)
                n += c > 0
        peak[t] = top
        lit[t] = n
    frames = np.empty((n_frames, res, res), np.uint8)
    n_table = log_table.shape[0]
    clip_peak = peak.max()
    for t in range(n_frames):
        top = peak[t] if per_frame else clip_peak
        scale = np.float32(255.0) / np.float32(np.log1p(np.float64(max(top, np.uint32(1)))))
        for y in range(res):
            for x in range(res):
                c = image[t, y, x]
                v = log_table[c] if c < n_table else np.float32(np.log1p(np.float64(c)))
                frames[t, y, x] = np.uint8(v * scale + np.float32(0.5))
    return frames, lit


# ------------------------------------------------------------ other families
# Kernels of the comparison families of fractalvid/clips/families.py: 3D gradient
# noise, painted shapes (dead leaves) and stamped discs (octopus limbs).


@numba.njit(fastmath=FASTMATH, error_model="numpy", cache=True, inline="always")
def _fade(u):
    """Perlin's quintic 6u^5 - 15u^4 + 10u^3: zero first and second derivative at the lattice."""
    return u * u * u * (u * (u * np.float32(6.0) - np.float32(15.0)) + np.float32(10.0))


@numba.njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def perlin_octave(out, perm, grads, scale, offset, amp):
    """Add ``amp`` times one octave of 3D gradient noise to ``out`` (T, H, W) float32, in place.

    Voxel (t, y, x) samples the noise at lattice point
    ``offset + scale * (x, y, t)``; scale (3,) is in lattice cells per pixel
    (x, y) and per frame (t), offset (3,) must be >= 0. Lattice node
    (i, j, k) has gradient ``grads[perm[(perm[(perm[i & 255] + j) & 255] + k) & 255]]``:
    perm (256,) int64 a permutation of 0..255, grads (256, 3) float32 unit
    vectors, so the noise repeats every 256 cells along each axis (callers
    keep a clip's span below that).

    Noise at a point is sum over the cell's 8 corners of
    fade weights x gradient . (point - corner). Summing the 4 (y, t)
    corners first leaves, per node column j of the row, a value
    ``base_j + slope_j * (x - j)`` that is linear in x, so the per-pixel work
    is one blend of two such lines; the corners' gradients are looked up
    once per lattice row, not per pixel.
    """
    n_frames, height, width = out.shape
    sx, sy, st = scale[0], scale[1], scale[2]
    ox, oy, ot = offset[0], offset[1], offset[2]
    x0 = int(np.floor(ox))
    cell = np.empty(width, np.int64)
    frac = np.empty(width, np.float32)
    fade_x = np.empty(width, np.float32)
    for x in range(width):
        p = ox + sx * x
        c = int(np.floor(p))
        cell[x] = c - x0
        frac[x] = np.float32(p - c)
        fade_x[x] = _fade(frac[x])
    n_nodes = cell[width - 1] + 2
    g = np.empty((4, 3, n_nodes), np.float32)   # corner (b + 2c), component, node column
    base = np.empty(n_nodes, np.float32)
    slope = np.empty(n_nodes, np.float32)
    one = np.float32(1.0)
    for t in range(n_frames):
        pt = ot + st * t
        ct = int(np.floor(pt))
        ft = np.float32(pt - ct)
        wt = _fade(ft)
        last_cy = -1
        for y in range(height):
            py = oy + sy * y
            cy = int(np.floor(py))
            fy = np.float32(py - cy)
            wy = _fade(fy)
            if cy != last_cy:  # entering a new lattice row: look its gradients up
                for corner in range(4):
                    b, c = corner & 1, corner >> 1
                    for j in range(n_nodes):
                        h = perm[(perm[(perm[(x0 + j) & 255] + cy + b) & 255] + ct + c) & 255]
                        g[corner, 0, j] = grads[h, 0]
                        g[corner, 1, j] = grads[h, 1]
                        g[corner, 2, j] = grads[h, 2]
                last_cy = cy
            w00, w10 = (one - wy) * (one - wt), wy * (one - wt)
            w01, w11 = (one - wy) * wt, wy * wt
            for j in range(n_nodes):
                base[j] = (w00 * (g[0, 1, j] * fy + g[0, 2, j] * ft)
                           + w10 * (g[1, 1, j] * (fy - one) + g[1, 2, j] * ft)
                           + w01 * (g[2, 1, j] * fy + g[2, 2, j] * (ft - one))
                           + w11 * (g[3, 1, j] * (fy - one) + g[3, 2, j] * (ft - one)))
                slope[j] = w00 * g[0, 0, j] + w10 * g[1, 0, j] + w01 * g[2, 0, j] + w11 * g[3, 0, j]
            for x in range(width):
                j = cell[x]
                u = frac[x]
                left = base[j] + slope[j] * u
                right = base[j + 1] + slope[j + 1] * (u - one)
                out[t, y, x] += amp * (left + fade_x[x] * (right - left))


@numba.njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def paint_shapes(frames, cx, cy, radius, angle, sides, shade):
    """Paint shapes one over another into ``frames`` (T, H, W) float32, in place.

    Shape k at frame t is centred on pixel coordinates (cx[t, k], cy[t, k])
    (pixel (x, y) is the point (x, y)); it is a disc of radius ``radius[k]``
    when ``sides[k] < 3``, else a regular polygon with that circumradius,
    ``sides[k]`` <= 16 sides and a vertex direction rotated by angle[t, k].
    Later shapes cover earlier ones (the dead-leaves order). Edges are
    anti-aliased: a pixel at signed distance d from the boundary takes
    coverage clip(0.5 - d, 0, 1) of the shade.
    cx, cy, angle (T, K) float64; radius (K,) float64; sides (K,) int64;
    shade (K,) float32.
    """
    n_frames, height, width = frames.shape
    n_shapes = sides.shape[0]
    nx = np.empty(16, np.float32)
    ny = np.empty(16, np.float32)
    half = np.float32(0.5)
    for t in range(n_frames):
        for k in range(n_shapes):
            r = radius[k]
            px, py = cx[t, k], cy[t, k]
            n = sides[k]
            xa, xb = max(0, int(np.floor(px - r - 1.0))), min(width, int(np.ceil(px + r + 1.0)) + 1)
            ya, yb = max(0, int(np.floor(py - r - 1.0))), min(height, int(np.ceil(py + r + 1.0)) + 1)
            apothem = np.float32(r * np.cos(np.pi / n)) if n >= 3 else np.float32(r)
            for e in range(max(n, 0)):
                # edge e's outward normal points half a sector past vertex e
                a = angle[t, k] + (2.0 * e + 1.0) * np.pi / max(n, 1)
                nx[e], ny[e] = np.float32(np.cos(a)), np.float32(np.sin(a))
            s = shade[k]
            for y in range(ya, yb):
                dy = np.float32(y - py)
                for x in range(xa, xb):
                    dx = np.float32(x - px)
                    if n < 3:
                        d = np.sqrt(dx * dx + dy * dy) - apothem
                    else:
                        d = dx * nx[0] + dy * ny[0]
                        for e in range(1, n):
                            d = max(d, dx * nx[e] + dy * ny[e])
                        d -= apothem
                    cover = min(max(half - d, np.float32(0.0)), np.float32(1.0))
                    frames[t, y, x] += cover * (s - frames[t, y, x])


@numba.njit(fastmath=FASTMATH, error_model="numpy", cache=True)
def stamp_discs(cover, xs, ys, radii):
    """Union of discs, anti-aliased: ``cover`` (T, H, W) float32 takes, in place, the max of
    itself and each disc's coverage clip(r + 0.5 - distance, 0, 1).

    Disc i of frame t is centred on pixel coordinates (xs[t, i], ys[t, i])
    with radius radii[t, i] (all (T, N) float64). Discs placed closer than
    their radius trace a smooth stroke (the octopus's limbs).
    """
    n_frames, height, width = cover.shape
    n = xs.shape[1]
    for t in range(n_frames):
        for i in range(n):
            r = radii[t, i]
            px, py = xs[t, i], ys[t, i]
            xa, xb = max(0, int(np.floor(px - r - 1.0))), min(width, int(np.ceil(px + r + 1.0)) + 1)
            ya, yb = max(0, int(np.floor(py - r - 1.0))), min(height, int(np.ceil(py + r + 1.0)) + 1)
            edge = np.float32(r + 0.5)
            for y in range(ya, yb):
                dy = np.float32(y - py)
                for x in range(xa, xb):
                    dx = np.float32(x - px)
                    c = min(max(edge - np.sqrt(dx * dx + dy * dy), np.float32(0.0)), np.float32(1.0))
                    cover[t, y, x] = max(cover[t, y, x], c)
