"""Rendering: framing, counts that never wrap, splat, tone map, degenerate draws."""
import numpy as np
import pytest

from fractalvid.clips.ifs import ClipParams, FractalConfig, sample_clip
from fractalvid.clips.kernels import VARIATIONS, chaos_game
from fractalvid.clips.render import frame_view, map_tables, render_clip, splat_and_tone_map


def _good_clips(cfg, n, seed=0):
    out, i = [], 0
    while len(out) < n:
        rng = np.random.default_rng([seed, i])
        params = sample_clip(rng, cfg)
        r = render_clip(params, cfg, np.random.default_rng([seed, i, 1]))
        if r.problem is None:
            out.append((params, r))
        i += 1
    return out


def test_framing_keeps_90_percent_of_first_and_last_frame_points(tiny_cfg):
    cfg = tiny_cfg.replace(res=128, walkers=64, steps=2000, framing_res=128, framing_steps=3000)
    for params, r in _good_clips(cfg, 12):
        coef = params.coef.astype(np.float32)[[0, -1]]
        table = map_tables(coef)
        x0, y0, x1, y1 = r.view[0]
        view = np.tile(np.array([x0, y0, 256 / (x1 - x0), 256 / (y1 - y0)], np.float32), (2, 1))
        seeds = np.random.default_rng(9).integers(1, 2**32, (2, 64), dtype=np.uint32)
        counts, _ = chaos_game(coef, table, params.variation[[0, -1]].astype(np.int64), view, 256, 0,
                               4000, 200, seeds)
        kept = counts.sum((1, 2)) / (64 * 3800)
        assert np.all(kept >= 0.9), kept


def test_view_fits_the_shape_it_frames(tiny_cfg):
    """A small shape far from the origin gets a small view around it."""
    coef = np.array([[[0.5, 0, 1.5, 0, 0.5, 2.0], [0.5, 0, 2.0, 0, 0.5, 2.0], [0.5, 0, 1.5, 0, 0.5, 2.5]]] * 2,
                    np.float32)  # Sierpinski triangle on [3, 4] x [4, 5]
    table = map_tables(coef)
    seeds = np.random.default_rng(0).integers(1, 2**32, (2, 32), dtype=np.uint32)
    x0, y0, x1, y1 = frame_view(coef, table, np.zeros(2, np.int64), tiny_cfg, seeds)
    assert 2.6 < x0 < 3.05 and 3.95 < x1 < 4.4 and 3.6 < y0 < 4.05 and 4.95 < y1 < 5.4


def test_counts_never_wrap_on_a_dense_clip():
    """Every point on one pixel: 128 x 1000 > 2**16 points must count exactly."""
    coef = np.zeros((2, 1, 6), np.float32)  # maps everything onto the origin
    table = map_tables(coef)
    view = np.tile(np.array([-1, -1, 32, 32], np.float32), (2, 1))  # origin -> pixel (32, 32) of 64
    seeds = np.arange(1, 257, dtype=np.uint32).reshape(2, 128)
    counts, escaped = chaos_game(coef, table, np.zeros(2, np.int64), view, 64, 1, 1100, 100, seeds)
    assert counts.dtype == np.uint32 and counts.max() == 128 * 1000 and counts.sum() == 2 * 128 * 1000
    frames, lit = splat_and_tone_map(counts, 3, False)
    assert frames.shape == (2, 64, 64)
    assert np.all(frames[:, 31:34, 31:34] == 255) and frames.sum() == 2 * 9 * 255  # a 3x3 splat, full white
    assert np.allclose(lit, 9 / 64**2)


def test_splat_equals_box_sum_of_bordered_counts(rng):
    counts = rng.integers(0, 50, (3, 34, 34)).astype(np.uint32)
    frames, lit = splat_and_tone_map(counts, 3, True)
    box = sum(counts[:, dy:dy + 32, dx:dx + 32].astype(np.int64) for dy in range(3) for dx in range(3))
    expect = np.floor(np.log1p(box) / np.log1p(box.max((1, 2), keepdims=True)) * 255 + 0.5)
    assert np.abs(frames.astype(int) - expect).max() <= 1  # float32 rounding at .5 boundaries only


def test_tone_map_range_per_clip_and_per_frame(tiny_cfg):
    _, r = _good_clips(tiny_cfg, 1)[0]
    assert r.frames.dtype == np.uint8 and r.frames.max() == 255 and r.frames.min() == 0
    image_cfg = tiny_cfg.replace(image=True, image_frames=4)
    _, r = _good_clips(image_cfg, 1)[0]
    assert r.frames.shape[0] == 4 and np.all(r.frames.max((1, 2)) == 255)  # per frame in image mode


@pytest.mark.parametrize("name", sorted(VARIATIONS))
def test_every_variation_renders_finite_frames(name, tiny_cfg):
    rng = np.random.default_rng(3)
    params = sample_clip(rng, tiny_cfg.replace(linear_motion=True))
    params = ClipParams(params.coef, np.full(params.n_frames, VARIATIONS[name]))
    r = render_clip(params, tiny_cfg, rng)
    assert r.frames.shape == (params.n_frames, 64, 64) and r.frames.dtype == np.uint8
    assert r.problem in (None, "exploding", "empty", "saturated", "tiny")


def test_degenerate_draws_are_flagged(tiny_cfg):
    rng = np.random.default_rng(0)
    good = sample_clip(rng, tiny_cfg)
    expanding = ClipParams(good.coef * 3.0, good.variation)
    assert render_clip(expanding, tiny_cfg, rng).problem in ("exploding", "empty")
    point = ClipParams(np.zeros_like(good.coef), good.variation)  # every point on one spot
    assert render_clip(point, tiny_cfg, rng).problem in ("tiny", "empty")
    nan = ClipParams(np.full_like(good.coef, np.nan), good.variation)
    assert render_clip(nan, tiny_cfg, rng).problem == "nonfinite"


def test_thirty_paper_clips_fill_the_frame_neither_empty_nor_washed_out():
    """What a person should see: lit shapes that fill much of the frame and move."""
    cfg = FractalConfig(res=128, walkers=64, steps=2000)
    stats = []
    for params, r in _good_clips(cfg, 30, seed=11):
        f = r.frames.astype(float)
        rows, cols = np.flatnonzero(f.max((0, 2)) > 40), np.flatnonzero(f.max((0, 1)) > 40)
        extent = (rows[-1] - rows[0]) * (cols[-1] - cols[0]) / 128**2
        motion = np.abs(np.diff(f, axis=0)).mean() / max(f.mean(), 1)
        stats.append((extent, r.coverage.mean(), f.mean(), motion))
    extent, coverage, mean, motion = np.array(stats).T
    assert np.median(extent) > 0.5                 # the shape spans most of the frame
    assert coverage.min() >= 0.02 and coverage.max() <= 0.85
    assert 5 < np.median(mean) < 120               # neither black nor white
    assert np.median(motion) > 0.1                 # frames differ: the fractals move
