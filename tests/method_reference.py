"""Plain references of the fractal method, for tests/test_method.py.

Written from the method's statement (the package's SPEC: Anderson & Farrell's parameterisation as the paper
uses it) and, where it is silent, from the paper's public generator, davidsvy/fractal_video at commit
7dd100f18bdce772444bd365ea32eb467844e77e (file and function named at each reference). Never from the
package's own code: matrices are built entry by entry and multiplied as products, loops stand where the
package vectorises, and splines are solved as piecewise polynomials, not as B-splines.

Functions that draw take the same ``np.random.Generator`` as the package's and draw the same numbers in the
same order, so that a test compares the formulas on the same drawn parameters.
"""
from __future__ import annotations

import math

import numpy as np

PUBLIC_COMMIT = "7dd100f18bdce772444bd365ea32eb467844e77e"
GUARD = 1e-6   # added to a divisor that may be 0 (the public code adds 1e-7; the flame paper leaves it implicit)


# ---------------------------------------------------------------- maps

def sigma_factors(rng, k):
    """SPEC §1, 'Singular values': alpha ~ U[(5+K)/2, (6+K)/2], then each value in turn inside bounds that
    keep sum(s1 + 2 s2) = alpha reachable with 0 <= s2 <= s1 <= 1 (public: fractal/params.py sample_sigma_aux)."""
    alpha = rng.uniform((5 + k) / 2, (6 + k) / 2)
    lo = alpha - 3 * k + 3
    hi = alpha
    rows = []
    for _ in range(k - 1):
        s1 = rng.uniform(max(0.0, lo / 3), min(1.0, hi))
        lo = lo - s1
        hi = hi - s1
        s2 = rng.uniform(max(0.0, lo / 2), min(s1, hi / 2))
        lo = lo - 2 * s2 + 3
        hi = hi - 2 * s2
        rows.append([s1, s2])
    s2 = rng.uniform(max(0.0, (hi - 1) / 2), hi / 3)
    rows.append([hi - 2 * s2, s2])
    return np.array(rows), alpha


def rotation(angle):
    return np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])


def diagonal(a, b):
    return np.array([[a, 0.0], [0.0, b]])


def map_matrix(theta, phi, s1, s2, f1, f2):
    """SPEC §1, 'Maps': W = R(theta) D1 S R(phi) D2, a true product of five 2 x 2 matrices
    (public: fractal/params.py compose_params, einsum 'abcd, bde, abef, abfg, bgh -> abch')."""
    d1 = diagonal(f1[0], f1[1])
    s = diagonal(s1, s2)
    d2 = diagonal(f2[0], f2[1])
    return rotation(theta) @ d1 @ s @ rotation(phi) @ d2


def key_frames(rng, k, p_const_bias):
    """SPEC §1, 'Motion': start angles U[0, 2 pi), end = start + U(-pi, pi); two sigma-factor draws; bias start
    U[-1, 1]^2 and end the same with probability p_const_bias, else its own draw; D1, D2 random signs fixed
    for the clip. Each key frame's maps ordered by its own |det| (public: sample_sigma sorts each frame)."""
    theta0 = rng.uniform(0, 2 * np.pi, k)
    phi0 = rng.uniform(0, 2 * np.pi, k)
    theta1 = theta0 + rng.uniform(-np.pi, np.pi, k)
    phi1 = phi0 + rng.uniform(-np.pi, np.pi, k)
    sigma = []
    for _ in range(2):
        s, _ = sigma_factors(rng, k)
        dets = [s[i, 0] * s[i, 1] for i in range(k)]
        order = sorted(range(k), key=lambda i: -dets[i])   # stable: equal dets keep their draw order
        sigma.append(np.array([s[i] for i in order]))
    bias0 = rng.uniform(-1, 1, (k, 2))
    bias1 = bias0.copy() if rng.random() < p_const_bias else rng.uniform(-1, 1, (k, 2))
    flip1 = rng.choice([-1.0, 1.0], (k, 2))
    flip2 = rng.choice([-1.0, 1.0], (k, 2))
    return dict(theta=np.array([theta0, theta1]), phi=np.array([phi0, phi1]), sigma=np.array(sigma),
                bias=np.array([bias0, bias1]), flip1=flip1, flip2=flip2)


def decomposed_motion(keys, lam):
    """SPEC §1: frame t of map i interpolates each parameter with lam[t, i], then composes W; (T, K, 6) as
    (a, b, c, d, e, f), x' = a x + b y + c, y' = d x + e y + f."""
    n_frames, k = lam.shape
    out = np.zeros((n_frames, k, 6))
    for t in range(n_frames):
        for i in range(k):
            l = lam[t, i]
            mix = lambda v: (1 - l) * v[0][i] + l * v[1][i]   # noqa: E731
            theta, phi, sig, b = mix(keys["theta"]), mix(keys["phi"]), mix(keys["sigma"]), mix(keys["bias"])
            w = map_matrix(theta, phi, sig[0], sig[1], keys["flip1"][i], keys["flip2"][i])
            out[t, i] = [w[0, 0], w[0, 1], b[0], w[1, 0], w[1, 1], b[1]]
    return out


def naive_motion(keys, lam):
    """SPEC §1, the ablation: compose the two key matrices, then interpolate their entries."""
    n_frames, k = lam.shape
    out = np.zeros((n_frames, k, 6))
    for i in range(k):
        w = [map_matrix(keys["theta"][e][i], keys["phi"][e][i], keys["sigma"][e][i][0], keys["sigma"][e][i][1],
                        keys["flip1"][i], keys["flip2"][i]) for e in (0, 1)]
        for t in range(n_frames):
            l = lam[t, i]
            m = (1 - l) * w[0] + l * w[1]
            b = (1 - l) * keys["bias"][0][i] + l * keys["bias"][1][i]
            out[t, i] = [m[0, 0], m[0, 1], b[0], m[1, 0], m[1, 1], b[1]]
    return out


# ------------------------------------------------------------- splines

def quadratic_spline(xs, ys, x):
    """The interpolating quadratic spline of scipy's interp1d(kind='quadratic') (the public code's curves),
    solved as piecewise polynomials: breakpoints at the midpoints between data sites, leaving out the first
    and last midpoint, one quadratic per piece; the unknowns are fixed by passing through every point and by
    value and slope agreeing at each breakpoint. Evaluated at the points x."""
    xs = [float(v) for v in xs]
    n = len(xs)
    breaks = [xs[0]] + [(xs[j] + xs[j + 1]) / 2 for j in range(1, n - 2)] + [xs[-1]]
    pieces = len(breaks) - 1                      # n - 2 pieces, 3 unknowns each: p(x) = a + b x + c x^2
    rows, rhs = [], []

    def piece_of(v):
        for p in range(pieces):
            if v <= breaks[p + 1]:
                return p
        return pieces - 1

    for xi, yi in zip(xs, ys):                     # through every point
        row = [0.0] * (3 * pieces)
        p = piece_of(xi)
        row[3 * p: 3 * p + 3] = [1.0, xi, xi * xi]
        rows.append(row)
        rhs.append(float(yi))
    for p in range(pieces - 1):                    # value and slope agree at each inner breakpoint
        z = breaks[p + 1]
        value = [0.0] * (3 * pieces)
        slope = [0.0] * (3 * pieces)
        value[3 * p: 3 * p + 3] = [1.0, z, z * z]
        value[3 * p + 3: 3 * p + 6] = [-1.0, -z, -z * z]
        slope[3 * p: 3 * p + 3] = [0.0, 1.0, 2 * z]
        slope[3 * p + 3: 3 * p + 6] = [0.0, -1.0, -2 * z]
        rows += [value, slope]
        rhs += [0.0, 0.0]
    coef = np.linalg.solve(np.array(rows), np.array(rhs))
    out = []
    for v in x:
        p = piece_of(float(v))
        a, b, c = coef[3 * p: 3 * p + 3]
        out.append(a + b * v + c * v * v)
    return np.array(out)


# -------------------------------------------------------- motion curves

def curve_sharp(rng, n_frames):
    """Public: params.py interp_sharp: n_sharp = randint(4, 8), n_start = randint(4, size - n_sharp - 4),
    linspace(0, 1, n_sharp) padded with n_start zeros before and ones after."""
    n_sharp = int(rng.integers(4, 9))
    n_start = int(rng.integers(4, n_frames - n_sharp - 4 + 1))
    ramp = [j / (n_sharp - 1) for j in range(n_sharp)]
    return np.array([0.0] * n_start + ramp + [1.0] * (n_frames - n_sharp - n_start))


def curve_spline_unclipped(rng, n_frames):
    """Public: params.py interp_curve: 5-9 knots evenly spaced on [0, 1], values U(0, 1) redrawn up to 6
    times until the mean absolute step exceeds 0.45, interpolated quadratically at linspace(0, 1, size)."""
    n_points = int(rng.integers(5, 10))
    for _ in range(6):
        values = rng.uniform(0, 1, n_points)
        steps = [abs(values[j + 1] - values[j]) for j in range(n_points - 1)]
        if sum(steps) / len(steps) > 0.45:
            break
    return quadratic_spline(np.linspace(0, 1, n_points), values, np.linspace(0, 1, n_frames))


def curve_periodic(rng, n_frames):
    """Public: params.py interp_periodic and random_sin: period = randint(5, 15), n = ceil(size / period),
    A = U(1.5, 4.0) period / 100; frequency U(0.15, 1.7) and amplitude U(0.6, 1) at every pi of phase,
    joined quadratically on a 0.01 grid; phase = running sum of freq * 0.01; lambda = A (sin(phase - pi/2)
    a + 1) / 2, taken every len // (period n) samples, the first size of them."""
    period = int(rng.integers(5, 16))
    n_periods = math.ceil(n_frames / period)
    amplitude = rng.uniform(1.5, 4.0) * period / 100
    knots = np.arange(0, (n_periods + 1) * 2 * np.pi, np.pi)
    freq_y = rng.uniform(0.15, 1.7, len(knots))
    ampl_y = rng.uniform(0.6, 1.0, len(knots))
    x = np.arange(0, n_periods * 2 * np.pi, 0.01)
    freq = quadratic_spline(knots, freq_y, x)
    ampl = quadratic_spline(knots, ampl_y, x)
    phase, wave = 0.0, []
    for j in range(len(x)):
        phase += freq[j] * 0.01
        wave.append((math.sin(phase - math.pi / 2) * ampl[j] + 1) / 2)
    step = len(wave) // (period * n_periods)
    return amplitude * np.array(wave[::step][:n_frames])


def motion_curves(rng, n_frames, n_maps, funcs, p_all_linear=0.2, p_shared=0.4, weights=(0.2, 0.55, 0.25)):
    """Public: params.py sample_interp: linear for all maps (p 0.2); else one curve shared by all maps (p 0.4);
    else min(K, randint(1, 2)) curve types drawn with replacement by weight, plus linear, each evaluated once,
    and each map takes one of them uniformly. ``funcs`` maps a kind to its curve function."""
    names = ["sharp", "curve", "periodic"]
    p = np.array(weights) / sum(weights)
    linear = np.linspace(0, 1, n_frames)
    if rng.random() < p_all_linear:
        return np.stack([linear] * n_maps, 1), ["linear"] * n_maps
    if rng.random() < p_shared:
        kind = names[rng.choice(3, p=p)]
        curve = funcs[kind](rng, n_frames)
        return np.stack([curve] * n_maps, 1), [kind] * n_maps
    n_types = min(n_maps, int(rng.integers(1, 3)))
    pool = [names[j] for j in rng.choice(3, n_types, replace=True, p=p)] + ["linear"]
    curves = [funcs[kind](rng, n_frames) if kind != "linear" else linear for kind in pool]
    chosen = rng.integers(0, len(pool), n_maps)
    return np.stack([curves[j] for j in chosen], 1), [pool[j] for j in chosen]


# -------------------------------------------------- classes and instances

def instance(rng, coef, knots=(4, 7), scale=(0.6, 1.4), offset=0.2):
    """Public: fractal/params.py mutate_weights(ac=0.4, dc=0.2) with params.py random_curve: for each of the
    6 coefficients one curve (4-7 knots on [0, 1], values U(1 - ac, 1 + ac), quadratic), shared by every
    map; the weights times the curve, plus an offset U(-dc, dc) per map and coefficient."""
    n_frames, k, _ = coef.shape
    curves = []
    for _ in range(6):
        n = int(rng.integers(knots[0], knots[1] + 1))
        curves.append(quadratic_spline(np.linspace(0, 1, n), rng.uniform(scale[0], scale[1], n),
                                       np.linspace(0, 1, n_frames)))
    shift = rng.uniform(-offset, offset, (1, k, 6))
    out = np.zeros_like(coef)
    for t in range(n_frames):
        for i in range(k):
            for j in range(6):
                out[t, i, j] = coef[t, i, j] * curves[j][t] + shift[0, i, j]
    return out


# ----------------------------------------------------------- variations

def variation(name, x, y, c=0.0, f=0.0):
    """The flame variations of Draves & Reckase, 'The Fractal Flame Algorithm' (pp. 16-41), with r = |p| and
    theta = atan(x / y) as written there; cosine with tanh for cosh and sinh (SPEC §1; public variations.py
    var_20). c and f are the chosen map's translation terms (popcorn)."""
    r = math.hypot(x, y)
    if name == "horseshoe":
        return (x - y) * (x + y) / (r + GUARD), 2 * x * y / (r + GUARD)
    if name == "bent":
        return (2 * x if x < 0 else x), (y / 2 if y < 0 else y)
    if name == "fisheye":
        return 2 / (r + 1) * y, 2 / (r + 1) * x
    if name == "popcorn":
        return x + c * math.sin(math.tan(3 * y)), y + f * math.sin(math.tan(3 * x))
    if name == "cosine":
        return math.cos(math.pi * x) * math.tanh(y), -math.sin(math.pi * x) * math.tanh(y)
    if name == "eyefish":
        return 2 / (r + 1) * x, 2 / (r + 1) * y
    if name == "cylinder":
        return math.sin(x), y
    if name == "sinusoidal":
        return math.sin(x), math.sin(y)
    if name == "spherical":
        return x / (r * r + GUARD), y / (r * r + GUARD)
    if name == "swirl":
        return x * math.sin(r * r) - y * math.cos(r * r), x * math.cos(r * r) + y * math.sin(r * r)
    if name == "bubble":
        return 4 / (r * r + 4) * x, 4 / (r * r + 4) * y
    raise KeyError(name)


# -------------------------------------------------------- framing, tone map

def keep_box(occupied, keep):
    """SPEC §1, 'Framing': trim empty border rows and columns, then repeatedly drop the border row or column
    with the fewest occupied pixels while the box still holds keep of them (ties: top, bottom, left, right)."""
    occ = np.asarray(occupied, bool)
    total = int(occ.sum())
    r0, r1, c0, c1 = 0, occ.shape[0] - 1, 0, occ.shape[1] - 1
    while r0 < r1 and not occ[r0, c0:c1 + 1].any():
        r0 += 1
    while r1 > r0 and not occ[r1, c0:c1 + 1].any():
        r1 -= 1
    while c0 < c1 and not occ[r0:r1 + 1, c0].any():
        c0 += 1
    while c1 > c0 and not occ[r0:r1 + 1, c1].any():
        c1 -= 1
    inside = int(occ[r0:r1 + 1, c0:c1 + 1].sum())
    while True:
        edges = []
        if r1 > r0:
            edges += [(int(occ[r0, c0:c1 + 1].sum()), 0), (int(occ[r1, c0:c1 + 1].sum()), 1)]
        if c1 > c0:
            edges += [(int(occ[r0:r1 + 1, c0].sum()), 2), (int(occ[r0:r1 + 1, c1].sum()), 3)]
        if not edges:
            break
        count, which = min(edges)
        if inside - count < keep * total:
            break
        inside -= count
        if which == 0:
            r0 += 1
        elif which == 1:
            r1 -= 1
        elif which == 2:
            c0 += 1
        else:
            c1 -= 1
    return r0, r1, c0, c1


def splat_tone_map(points, res, per_frame=False):
    """SPEC §1, 'Rendering': every point (row, col) adds 1 to the 3 x 3 block around it (clipped to the
    image), then log(1 + count) divided by the maximum over the clip (each frame in image mode), as 0..255.
    ``points``: per frame, a list of (row, col) integer pixels, which may lie one pixel outside the image."""
    counts = np.zeros((len(points), res, res), np.int64)
    for t, frame in enumerate(points):
        for row, col in frame:
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    if 0 <= row + dr < res and 0 <= col + dc < res:
                        counts[t, row + dr, col + dc] += 1
    logs = np.log1p(counts.astype(np.float64))
    peaks = [logs[t].max() for t in range(len(points))]
    out = np.zeros(counts.shape, np.uint8)
    for t in range(len(points)):
        peak = peaks[t] if per_frame else max(peaks)
        out[t] = np.floor(logs[t] / max(peak, math.log(2)) * 255 + 0.5)
    return out
