"""Every part of the fractal generator against a plain reference of the method (tests/method_reference.py).

Each test feeds the same drawn parameters (the same seeded rng, drawn in the same order) to the package's
function and to the reference, and asserts equality. Where the package's SPEC and the paper's public code
disagree, or the package chooses otherwise, the test says which one it follows. Property tests follow each
equivalence: they check what the formula must show (shear, singular values, curve ranges).
"""
import math

import numpy as np
import pytest

import method_reference as ref
from fractalvid.clips import ifs
from fractalvid.clips.ifs import FractalConfig, KeyFrames
from fractalvid.clips.kernels import VARIATIONS, apply_variation
from fractalvid.clips.render import frame_view, keep_box, splat_and_tone_map


def keys_of(d):
    return KeyFrames(d["theta"], d["phi"], d["sigma"], d["bias"], d["flip1"], d["flip2"])


def old_compose(theta, phi, sigma, flip1, flip2):
    """The composition of fractalvid 0.1 (elementwise products inside): R(theta + phi) times an axis-aligned scaling."""
    return ifs.rotation(theta) @ (flip1[..., None, :] * sigma[..., None, :] * ifs.rotation(phi) * flip2[..., None, :])


# ------------------------------------------------------------------ maps

@pytest.mark.parametrize("k", [3, 5, 8])
def test_sigma_factors_are_the_methods_sequential_draw(k):
    for seed in range(50):
        got = ifs.sample_sigma_factors(np.random.default_rng(seed), k)
        want, alpha = ref.sigma_factors(np.random.default_rng(seed), k)
        assert np.array_equal(got, want)
        assert math.isclose((got[:, 0] + 2 * got[:, 1]).sum(), alpha, rel_tol=1e-12)
        assert (k + 5) / 2 <= alpha <= (k + 6) / 2
        assert np.all(got[:, 1] >= -1e-12) and np.all(got[:, 1] <= got[:, 0] + 1e-12)
        assert np.all(got[:, 0] <= 1 + 1e-12)


def test_composition_is_the_true_product_of_five_matrices():
    rng = np.random.default_rng(0)
    theta, phi = rng.uniform(0, 2 * np.pi, (2, 200))
    sigma = np.sort(rng.uniform(0.05, 1, (200, 2)), 1)[:, ::-1]
    flip1, flip2 = rng.choice([-1.0, 1.0], (2, 200, 2))
    got = ifs.compose(theta, phi, sigma, flip1, flip2)
    for i in range(200):
        want = ref.map_matrix(theta[i], phi[i], sigma[i, 0], sigma[i, 1], flip1[i], flip2[i])
        assert np.allclose(got[i], want, atol=1e-14)


def test_composition_example_and_the_old_formula_fails_it():
    """theta = 35 deg, phi = 50 deg, s = (0.8, 0.35), no flips: the product the method states."""
    args = (np.radians(35.0), np.radians(50.0), np.array([0.8, 0.35]), np.ones(2), np.ones(2))
    want = np.array([[0.26745, -0.63105], [0.51458, -0.16722]])
    assert np.allclose(ifs.compose(*args), want, atol=1e-5)
    assert np.allclose(ref.map_matrix(*args[:2], 0.8, 0.35, np.ones(2), np.ones(2)), want, atol=1e-5)
    old = old_compose(*args)
    assert not np.allclose(old, want, atol=1e-2)
    # the old formula is R(theta + phi) diag(s): same singular values, so a check of those alone passes both
    assert np.allclose(old, ifs.rotation(np.radians(85.0)) * args[2][None, :], atol=1e-12)
    assert np.allclose(np.linalg.svd(old)[1], np.linalg.svd(want)[1], atol=1e-4)


def test_maps_shear_and_keep_their_singular_values():
    rng = np.random.default_rng(1)
    n = 2000
    theta, phi = rng.uniform(0, 2 * np.pi, (2, n))
    sigma = np.sort(rng.uniform(0.05, 1, (n, 2)), 1)[:, ::-1]
    flip1, flip2 = rng.choice([-1.0, 1.0], (2, n, 2))
    w = ifs.compose(theta, phi, sigma, flip1, flip2)
    gram = np.swapaxes(w, -1, -2) @ w
    shear = np.abs(gram[:, 0, 1]) / np.trace(gram, axis1=1, axis2=2)
    assert np.median(shear) > 0.05 and np.mean(shear > 0.01) > 0.9     # generic angles shear
    assert np.allclose(np.linalg.svd(w)[1], sigma, atol=1e-12)         # and the singular values are S's
    old = old_compose(theta, phi, sigma, flip1, flip2)
    old_gram = np.swapaxes(old, -1, -2) @ old
    assert np.max(np.abs(old_gram[:, 0, 1])) < 1e-12                   # the old composition never sheared


@pytest.mark.parametrize("p_const", [0.0, 0.2, 1.0])
def test_key_frames_angles_flips_bias_and_order(p_const):
    """Follows the public code, not a single order: each key frame's maps sorted by their own |det|
    (fractal/params.py sample_sigma); the angles, biases and flips are drawn per map and not reordered."""
    for seed in range(40):
        k = 3 + seed % 6
        got = ifs.sample_key_frames(np.random.default_rng(seed), k, p_const)
        want = ref.key_frames(np.random.default_rng(seed), k, p_const)
        for name in ("theta", "phi", "sigma", "bias", "flip1", "flip2"):
            assert np.array_equal(getattr(got, name), want[name]), name
        assert np.all(np.abs(got.theta[1] - got.theta[0]) <= np.pi) and np.all(got.theta[0] < 2 * np.pi)
        dets = got.sigma[..., 0] * got.sigma[..., 1]
        assert np.all(np.diff(dets, axis=1) <= 0)
        assert set(np.unique(got.flip1)) <= {-1.0, 1.0} and set(np.unique(got.flip2)) <= {-1.0, 1.0}
        assert np.all(np.abs(got.bias) <= 1)
        if p_const == 1.0:
            assert np.array_equal(got.bias[0], got.bias[1])
        if p_const == 0.0:
            assert not np.array_equal(got.bias[0], got.bias[1])


def test_constant_bias_share_is_p_const_bias():
    same = [np.array_equal(*ifs.sample_key_frames(np.random.default_rng(s), 4, 0.2).bias) for s in range(3000)]
    assert 0.17 < np.mean(same) < 0.23


@pytest.mark.parametrize("motion", ["decomposed", "naive"])
def test_motion_decomposed_and_naive(motion):
    rng = np.random.default_rng(5)
    for _ in range(20):
        k, n_frames = int(rng.integers(3, 9)), int(rng.integers(18, 21))
        keys = ref.key_frames(rng, k, 0.2)
        lam = rng.uniform(0, 1, (n_frames, k))
        got = ifs.interpolate(keys_of(keys), lam, motion)
        want = (ref.decomposed_motion if motion == "decomposed" else ref.naive_motion)(keys, lam)
        assert np.allclose(got, want, atol=1e-13)


def test_decomposed_motion_keeps_each_frame_a_sigma_factor_map_and_naive_shrinks():
    rng = np.random.default_rng(6)
    keys = ref.key_frames(rng, 5, 0.0)
    lam = np.repeat(np.linspace(0, 1, 19)[:, None], 5, 1)
    dec = ifs.interpolate(keys_of(keys), lam, "decomposed")
    w = dec[..., [0, 1, 3, 4]].reshape(19, 5, 2, 2)
    sv = np.linalg.svd(w)[1]
    want = (1 - lam[..., None]) * keys["sigma"][0][None] + lam[..., None] * keys["sigma"][1][None]
    assert np.allclose(sv, want, atol=1e-12)   # the singular values are interpolated, frame by frame
    naive = ifs.interpolate(keys_of(keys), lam, "naive")
    mid = ifs.abs_det(naive[9]).sum() / ifs.abs_det(dec[9]).sum()
    assert mid < 0.9


# ------------------------------------------------------------ the spline

@pytest.mark.parametrize("n", [3, 4, 5, 7, 9, 12])
def test_quadratic_spline_is_the_public_codes_interpolating_spline(n):
    """The public code's curves use scipy's interp1d(kind='quadratic'); the reference solves it as piecewise
    quadratics with breakpoints between the data sites. Even and uneven sites."""
    rng = np.random.default_rng(n)
    for xs in (np.linspace(0, 1, n), np.cumsum(rng.uniform(0.2, 1.0, n))):
        ys = rng.uniform(0, 1, n)
        x = np.linspace(xs[0], xs[-1], 57)
        assert np.allclose(ifs.quadratic_spline(xs, ys, x), ref.quadratic_spline(xs, ys, x), atol=1e-12)
        assert np.allclose(ifs.quadratic_spline(xs, ys, xs), ys, atol=1e-12)   # through every point


def test_quadratic_spline_is_linear_in_its_values_and_exact_on_quadratics():
    xs = np.linspace(0, 1, 6)
    x = np.linspace(0, 1, 19)
    assert np.allclose(ifs.quadratic_spline(xs, 2 - xs + 3 * xs ** 2, x), 2 - x + 3 * x ** 2, atol=1e-12)
    assert np.allclose(ifs.even_spline_operator(6, 19), ifs.spline_operator(xs, x))
    ys = np.random.default_rng(0).uniform(0, 1, (6, 3))
    assert np.allclose(ifs.quadratic_spline(xs, ys, x), np.stack([ifs.quadratic_spline(xs, ys[:, j], x)
                                                                   for j in range(3)], 1))


def test_instance_scale_curves_stay_near_their_knots():
    """With the carried-slope spline of 0.11, 27 % of these curves left [0.4, 1.6]; the interpolating
    spline keeps all of them inside."""
    rng = np.random.default_rng(0)
    lows, highs = [], []
    for _ in range(5000):
        n = int(rng.integers(4, 8))
        c = ifs.even_spline_operator(n, 19) @ rng.uniform(0.6, 1.4, n)
        lows.append(c.min())
        highs.append(c.max())
    assert min(lows) > 0.4 and max(highs) < 1.6


# ------------------------------------------------------- motion curves

def test_linear_curve():
    assert np.array_equal(ifs.curve_linear(None, 19), np.linspace(0, 1, 19))


def test_sharp_curve_is_the_public_ramp():
    for seed in range(200):
        n = 18 + seed % 3
        got = ifs.curve_sharp(np.random.default_rng(seed), n)
        want = ref.curve_sharp(np.random.default_rng(seed), n)
        assert np.allclose(got, want, atol=1e-15)
        ramp = np.flatnonzero((got > 0) & (got < 1))
        assert np.all(got[:4] == 0) and np.all(got[-4:] == 1) and 2 <= len(ramp) <= 6
        assert np.all(np.diff(got) >= 0) and np.all((got >= 0) & (got <= 1))


def test_spline_curve_is_the_public_curve_clipped_to_the_unit_range():
    """Follows the public code's interp_curve, and clips it to [0, 1] (a choice of the package: a map never
    moves past its key frames; the public curve overshoots on a few per cent of frames)."""
    over, first, jumps = [], [], []
    for seed in range(3000):
        got = ifs.curve_spline(np.random.default_rng(seed), 19)
        raw = ref.curve_spline_unclipped(np.random.default_rng(seed), 19) if seed < 300 else None
        if raw is not None:
            assert np.allclose(got, np.clip(raw, 0, 1), atol=1e-12)
            over.append(np.mean((raw < 0) | (raw > 1)))
        first.append(got[0])
        jumps.append(np.max(np.abs(np.diff(got))))
        assert np.all((got >= 0) & (got <= 1))
    assert 0.005 < np.mean(over) < 0.08             # the method's curve overshoots on about 3 % of frames
    assert np.mean(np.array(first) == 0) < 0.05     # it starts at its first knot, not at 0
    assert 0.05 < np.mean(np.array(jumps) > 0.5) < 0.3   # and wanders: ~15 % jump by half the range in a frame


def test_periodic_curve_is_the_public_raised_sine():
    """Follows the public code's interp_periodic / random_sin: lambda = A (1 + a sin(x - pi/2)) / 2, clipped
    at 0 (a choice of the package: the amplitude's spline can overshoot 1, and the public lambda then dips to
    about -0.001 on under 0.1 % of frames)."""
    lows, highs, starts = [], [], []
    for seed in range(60):
        got = ifs.curve_periodic(np.random.default_rng(seed), 19)
        want = ref.curve_periodic(np.random.default_rng(seed), 19)
        assert got.shape == (19,) and np.allclose(got, np.clip(want, 0, 1), atol=1e-9)
    for seed in range(2000):
        got = ifs.curve_periodic(np.random.default_rng(seed), 18 + seed % 3)
        lows.append(got.min())
        highs.append(got.max())
        starts.append(got[0])
    assert min(lows) >= 0 and max(highs) <= 0.6 * 1.02   # non-negative, at most A <= 0.6 (times the overshoot)
    assert max(starts) <= 0.2 * 0.6 * 1.02   # starts near 0: A (1 - a) / 2 with a >= 0.6


def test_mixing_rule_is_the_public_sample_interp():
    cfg = FractalConfig()
    funcs = {"sharp": ifs.curve_sharp, "curve": ifs.curve_spline, "periodic": ifs.curve_periodic}
    counts = {"linear": 0, "shared": 0, "mixed": 0}
    for seed in range(600):
        k = 3 + seed % 6
        lam, kinds = ifs.sample_motion_curves(np.random.default_rng(seed), 19, k, cfg)
        want, want_kinds = ref.motion_curves(np.random.default_rng(seed), 19, k, funcs)
        assert kinds == want_kinds and np.array_equal(lam, want)
        if set(kinds) == {"linear"}:
            counts["linear"] += 1
        elif len(set(kinds)) == 1:
            counts["shared"] += 1
        else:
            counts["mixed"] += 1
    # all linear 0.2 (plus mixed draws that happened to pick linear for every map); shared 0.8 * 0.4 = 0.32
    assert 0.17 < counts["linear"] / 600 < 0.3 and 0.25 < counts["shared"] / 600 < 0.4
    lam, kinds = ifs.sample_motion_curves(np.random.default_rng(0), 19, 4, cfg.replace(linear_motion=True))
    assert kinds == ["linear"] * 4 and np.allclose(lam, np.linspace(0, 1, 19)[:, None])


# -------------------------------------------------- classes and instances

def test_instance_perturbation_is_the_public_mutate_weights():
    """Follows the public code's mutate_weights: one curve per coefficient, shared by every map (not one per
    map), times the class's coefficients, plus a per-map offset."""
    cfg = FractalConfig()
    for seed in range(20):
        base = ifs.sample_clip(np.random.default_rng(seed), cfg)
        got = ifs.perturb(np.random.default_rng(100 + seed), base, cfg).coef
        want = ref.instance(np.random.default_rng(100 + seed), base.coef)
        assert np.allclose(got, want, atol=1e-13)


def test_instances_of_a_class_stay_near_it():
    cfg = FractalConfig()
    base = ifs.sample_clip(np.random.default_rng(3), cfg)
    inst = np.stack([ifs.perturb(np.random.default_rng(s), base, cfg).coef for s in range(200)])
    ratio = inst / np.where(np.abs(base.coef) > 0.2, base.coef, np.nan)
    offsets = 0.2 / np.abs(base.coef[np.abs(base.coef) > 0.2]).min()
    assert np.nanmin(ratio) > 0.4 - offsets and np.nanmax(ratio) < 1.6 + offsets


# ------------------------------------------------------------ variations

def test_variation_draw_is_the_public_sample_var():
    """Public: fractal/params.py sample_var: linear with probability 0.5, else one of the 7 uniformly."""
    cfg = FractalConfig()
    for seed in range(200):
        rng, mine = np.random.default_rng(seed), np.random.default_rng(seed)
        want = "linear" if mine.random() >= cfg.p_nonlinear else None
        want = want or cfg.variations[int(mine.integers(len(cfg.variations)))]
        assert ifs.sample_variation(rng, cfg) == want
    got = [ifs.sample_variation(np.random.default_rng(s), cfg) for s in range(4000)]
    assert 0.47 < np.mean([g == "linear" for g in got]) < 0.53
    assert set(got) == {"linear", *cfg.variations}


@pytest.mark.parametrize("name", ["horseshoe", "bent", "fisheye", "popcorn", "cosine", "eyefish", "cylinder",
                                  "sinusoidal", "spherical", "swirl", "bubble"])
def test_variation_kernel_is_the_flame_formula(name):
    """The kernel's float32 fast sine and tangent are within 1e-5 of libm; popcorn's tan(3y) near its poles
    is left out (any error there is magnified without bound, as in the public code's float32)."""
    rng = np.random.default_rng(VARIATIONS[name])
    n = 4000
    xs = rng.uniform(-2, 2, n).astype(np.float32)
    ys = rng.uniform(-2, 2, n).astype(np.float32)
    coef = rng.uniform(-1, 1, (4, 6)).astype(np.float32)
    chosen = rng.integers(0, 4, n).astype(np.uint8)
    gx, gy = xs.copy(), ys.copy()
    apply_variation(VARIATIONS[name], gx, gy, coef, chosen, np.ones(n, np.uint32), np.empty(n, np.float32),
                    np.empty(n, np.float32))
    for i in range(n):
        x, y = float(xs[i]), float(ys[i])
        if name == "popcorn" and min(abs(math.cos(3 * y)), abs(math.cos(3 * x))) < 0.05:
            continue
        wx, wy = ref.variation(name, x, y, float(coef[chosen[i], 2]), float(coef[chosen[i], 5]))
        assert math.isclose(gx[i], wx, rel_tol=2e-4, abs_tol=2e-4) and math.isclose(gy[i], wy, rel_tol=2e-4,
                                                                                      abs_tol=2e-4), (i, x, y)


# ---------------------------------------------------------- framing

def test_keep_box_is_the_methods_trimming():
    """SPEC's framing: the smallest box that still holds 90 % (the public code's estimate_bounding_box drops
    rows until the box holds at most 90 %, one row past SPEC's wording; the package follows SPEC)."""
    rng = np.random.default_rng(0)
    for trial in range(150):
        occ = np.zeros((48, 40), bool)
        cy, cx = rng.uniform(5, 40), rng.uniform(5, 35)
        pts = rng.normal([cy, cx], rng.uniform(1, 9, 2), (int(rng.integers(5, 400)), 2)).round().astype(int)
        pts = pts[(pts >= 0).all(1) & (pts[:, 0] < 48) & (pts[:, 1] < 40)]
        if len(pts) == 0:
            continue
        occ[pts[:, 0], pts[:, 1]] = True
        keep = [0.9, 0.5, 1.0][trial % 3]
        assert keep_box(occ, keep) == ref.keep_box(occ, keep)
        r0, r1, c0, c1 = keep_box(occ, keep)
        assert occ[r0:r1 + 1, c0:c1 + 1].sum() >= keep * occ.sum()


def test_view_is_the_union_of_both_end_boxes_plus_margin(monkeypatch):
    """The view of every frame: the union of the first and last frames' boxes at 128 px over [-6, 6]^2,
    widened by 10 % of its size on each side (SPEC; the public code rounds the margin to whole pixels)."""
    from fractalvid.clips import render
    cfg = FractalConfig()
    boxes = iter([(10, 40, 20, 30), (30, 90, 5, 25)])
    monkeypatch.setattr(render, "chaos_game", lambda *a, **k: (np.zeros((2, 4, 4), np.uint32), None))
    monkeypatch.setattr(render, "keep_box", lambda occ, keep: next(boxes))
    view = frame_view(np.zeros((5, 3, 6), np.float32), np.zeros((5, 8), np.uint8), np.zeros(5, np.int64), cfg,
                      np.ones((5, 128), np.uint32))
    px = 12 / 128
    rows, cols = (10, 91), (5, 31)                      # union, exclusive ends
    x0, x1, y0, y1 = -6 + cols[0] * px, -6 + cols[1] * px, -6 + rows[0] * px, -6 + rows[1] * px
    mx, my = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    assert np.allclose(view, [x0 - mx, y0 - my, x1 + mx, y1 + my])


# ---------------------------------------------------------- tone map

@pytest.mark.parametrize("per_frame", [False, True])
def test_splat_and_tone_map_are_the_methods(per_frame):
    """3 x 3 splat, log(1 + count) over the clip's maximum (each frame's in image mode), as 0..255. The
    public code divides by max(1, peak): the same whenever a pixel is hit twice, which every usable frame has."""
    rng = np.random.default_rng(1)
    res = 24
    points = [list(map(tuple, rng.integers(-1, res + 1, (int(rng.integers(50, 3000)), 2)))) for _ in range(4)]
    counts = np.zeros((4, res + 2, res + 2), np.uint32)   # one-pixel counts with a one-pixel border
    for t, frame in enumerate(points):
        for row, col in frame:
            counts[t, row + 1, col + 1] += 1
    got, lit = splat_and_tone_map(counts, 3, per_frame)
    want = ref.splat_tone_map(points, res, per_frame)
    assert np.array_equal(got, want)
    assert np.allclose(lit, (want > 0).mean(axis=(1, 2)))
