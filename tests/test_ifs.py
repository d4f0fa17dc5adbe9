"""Sampling: sigma factors, map probabilities, motion curves, interpolation."""
import numpy as np
import pytest

from fractalvid.clips.ifs import (FractalConfig, abs_det, compose, curve_periodic, curve_sharp, curve_spline,
                                  interpolate, perturb, sample_clip, sample_key_frames, sample_motion_curves,
                                  sample_sigma_factors)
from fractalvid.clips.render import TABLE_BITS, map_probabilities, map_tables


@pytest.mark.parametrize("k", range(3, 9))
def test_sigma_factors_meet_their_constraints_and_maps_contract(k, rng):
    for _ in range(200):
        alpha = rng.uniform((5 + k) / 2, (6 + k) / 2)
        s = sample_sigma_factors(rng, k, alpha)
        assert s.shape == (k, 2)
        assert np.isclose((s[:, 0] + 2 * s[:, 1]).sum(), alpha, atol=1e-9)
        assert np.all(s[:, 1] >= -1e-12) and np.all(s[:, 1] <= s[:, 0] + 1e-12) and np.all(s[:, 0] <= 1 + 1e-12)
    keys = sample_key_frames(rng, k, 0.2)
    w = compose(keys.theta[0], keys.phi[0], keys.sigma[0], keys.flip1, keys.flip2)
    sv = np.linalg.svd(w, compute_uv=False)
    assert np.allclose(np.sort(sv, 1), np.sort(keys.sigma[0], 1))  # W = R D S R D has singular values S
    assert np.all(sv <= 1 + 1e-9)  # every map is non-expanding
    assert np.all(np.diff(abs_det(w)) <= 1e-12)  # ordered by |det|, largest first


def test_map_probabilities_follow_abs_det(rng):
    coef = np.stack([sample_clip(rng, FractalConfig()).coef[0, :3] for _ in range(20)])
    coef[3, 1] = 0.0  # a map with |det| == 0 is never chosen
    table = map_tables(coef)
    det = abs_det(coef)
    assert np.allclose(map_probabilities(table, 3), det / det.sum(1, keepdims=True), atol=2 * 2.0**-TABLE_BITS)
    assert np.all(table[3] != 1)
    # the kernel's draw, replayed in numpy: the top bits of xorshift words pick the entry
    words = rng.integers(1, 2**32, 400_000, dtype=np.uint64)
    chosen = table[0][words >> np.uint64(32 - TABLE_BITS)]
    assert np.allclose(np.bincount(chosen, minlength=3) / len(words), det[0] / det[0].sum(), atol=4e-3)


def test_linear_motion_switch_makes_every_curve_linear(rng):
    lam, kinds = sample_motion_curves(rng, 19, 4, FractalConfig(linear_motion=True))
    assert kinds == ["linear"] * 4 and np.allclose(lam[:, 0], np.linspace(0, 1, 19))


def test_curves_of_short_clips_stay_in_the_unit_range(rng):
    """Clips shorter than the paper's 18 frames (min_frames allows 2): the sharp ramp moves to the middle."""
    for n in (2, 3, 5, 8, 11, 12, 40):
        for curve in (curve_sharp, curve_spline, curve_periodic):
            c = curve(rng, n)
            assert c.shape == (n,) and np.all((c >= 0) & (c <= 1))
        c = curve_sharp(rng, n)
        assert c[0] == 0 and c[-1] == 1 and np.all(np.diff(c) >= 0)


def test_spline_curve_moves_within_unit_range(rng):
    curves = np.stack([curve_spline(rng, 20) for _ in range(200)])
    assert curves.min() >= 0 and curves.max() <= 1
    assert np.mean(np.abs(np.diff(curves, axis=1)).sum(1)) > 1.0  # wanders, not a ramp


def test_curve_mixing_rule_frequencies(rng):
    cfg = FractalConfig()
    n, all_linear, shared = 3000, 0, 0
    for _ in range(n):
        lam, kinds = sample_motion_curves(rng, 18, 5, cfg)
        all_linear += kinds == ["linear"] * 5
        shared += len(set(kinds)) == 1 and kinds[0] != "linear"
    assert abs(all_linear / n - 0.2) < 0.04  # p_all_linear, plus rare all-linear mixes
    assert abs(shared / n - 0.8 * 0.4) < 0.05


def test_naive_interpolation_shrinks_det_mid_clip_decomposed_does_not(rng):
    ratios = []
    for _ in range(300):
        keys = sample_key_frames(rng, 4, 0.2)
        lam = np.linspace(0, 1, 19)[:, None].repeat(4, 1)
        dec, naive = interpolate(keys, lam, "decomposed"), interpolate(keys, lam, "naive")
        assert np.allclose(dec[[0, -1]], naive[[0, -1]])  # same key frames
        expected_mid = np.prod(keys.sigma.mean(0), -1)  # decomposed: det of interpolated singular values
        assert np.allclose(abs_det(dec[9]), expected_mid)
        ratios.append(abs_det(naive[9]).sum() / abs_det(dec[9]).sum())
    assert np.median(ratios) < 0.7


def test_perturbation_scales_tracks_and_keeps_absent_maps_absent(rng):
    base = sample_clip(rng, FractalConfig())
    inst = perturb(rng, base, FractalConfig())
    assert inst.coef.shape == base.coef.shape and not np.allclose(inst.coef, base.coef)
    ratio = (inst.coef - base.coef) / np.where(np.abs(base.coef) > 0.05, base.coef, np.nan)
    assert np.nanmax(np.abs(ratio)) < 0.4 + 0.2 / 0.05  # factor in [0.6, 1.4] plus offset
    still = sample_clip(rng, FractalConfig(image=True))
    padded = abs_det(still.coef) == 0
    assert np.all(abs_det(perturb(rng, still, FractalConfig()).coef)[padded] == 0)


@pytest.mark.parametrize("field,value", [
    ("p_nonlinear", 1.5), ("p_const_bias", -0.1), ("res", 255), ("res", 8), ("variations", ("horseshoe", "wobble")),
    ("motion", "jerky"), ("min_maps", 0), ("walkers", 0), ("splat", 2), ("one_fractal", 1.5), ("one_fractal", -0.1),
])
def test_bad_settings_are_named_with_what_is_accepted(field, value):
    with pytest.raises(ValueError) as e:
        FractalConfig(**{field: value})
    msg = str(e.value)
    assert field in msg and "expected" in msg
    assert str(value if not isinstance(value, tuple) else "wobble") in msg


def test_one_fractal_refuses_image_mode():
    with pytest.raises(ValueError, match="one_fractal=0.1 is not accepted: .*0 in image mode"):
        FractalConfig(one_fractal=0.1, image=True)
