"""The numba kernels: flame variations and the chaos game.

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
# Every kernel uses error_model="numpy" (x / 0 gives inf, no exception): numba's
# default Python model puts a zero check before each division, and that branch
# alone stops LLVM from vectorising the lane loops (16x slower measured).
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


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
