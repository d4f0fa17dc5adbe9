"""Augmentations: each effect measured on simple synthetic clips (dots, squares, flat greys)."""
import math
from collections import deque

import numpy as np
import pytest
import torch

from fractalvid.learning.augment import (AugmentConfig, Background, CameraPan, CameraShake, CameraZoom, Clone,
                                         Displacement, ForegroundPlacement, Perspective, RealVideoAugment, tint)
from fractalvid.learning.presets import StandardAugment

GEOMETRIC = {  # module -> (switch, probability)
    ForegroundPlacement: ("placement", "p_placement"), Clone: ("clone", "p_clone"),
    Displacement: ("displacement", "p_displacement"), Perspective: ("perspective", "p_perspective"),
    CameraPan: ("camera_pan", "p_pan"), CameraZoom: ("camera_zoom", "p_zoom"), CameraShake: ("camera_shake", "p_shake"),
}
FULL = AugmentConfig(curriculum=False)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def dot_clip(b=4, t=8, size=64, sigma=1.5, at=(0.0, 0.0)):
    """A Gaussian dot, ``at`` px from the frame centre (x, y), in every frame."""
    c = (size - 1) / 2
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    img = torch.exp(-((xx - c - at[0]) ** 2 + (yy - c - at[1]) ** 2) / (2 * sigma**2))
    return img.expand(b, 1, t, size, size).clone()


def centroids(x):
    """Intensity centroid (x, y) of every frame, px from the frame centre: (B, T, 2)."""
    h, w = x.shape[-2:]
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    v = x[:, 0].double()
    mass = v.sum((-1, -2))
    cx = (v * xx).sum((-1, -2)) / mass - (w - 1) / 2
    cy = (v * yy).sum((-1, -2)) / mass - (h - 1) / 2
    return torch.stack([cx, cy], -1)


def components(mask: np.ndarray) -> int:
    """Number of 4-connected components of a boolean image."""
    seen = np.zeros_like(mask, dtype=bool)
    count = 0
    for i, j in zip(*np.nonzero(mask)):
        if seen[i, j]:
            continue
        count += 1
        seen[i, j] = True
        todo = deque([(i, j)])
        while todo:
            a, b = todo.popleft()
            for u, v in ((a + 1, b), (a - 1, b), (a, b + 1), (a, b - 1)):
                if 0 <= u < mask.shape[0] and 0 <= v < mask.shape[1] and mask[u, v] and not seen[u, v]:
                    seen[u, v] = True
                    todo.append((u, v))
    return count


# ----------------------------------------------------------------------------- camera

@pytest.mark.parametrize("size", [112, 56])
def test_shake_moves_frames_by_the_amplitude(size):
    cfg = FULL.replace(p_shake=1.0, shake_amplitude=(3.0, 3.0))
    x = dot_clip(b=6, t=16, size=size)
    mod = CameraShake(cfg)
    draw = mod.sample(x.shape, gen(1))
    track = centroids(mod(x, gen(1)))
    expected = 3.0 * size / 112                       # amplitude given at 112 px, scaled with size
    assert torch.allclose(draw.info["amplitude"], torch.full((6,), expected, dtype=torch.float64))
    std = track.std(dim=1, correction=0)              # per clip and axis, over the frames
    assert torch.allclose(std, torch.full_like(std, expected), rtol=0.06), std
    assert torch.allclose(track, draw.info["offset_px"], atol=0.15)
    # frames really jitter: not a slow drift
    assert (track.diff(dim=1).abs().amax(dim=1) > 0.5 * expected).all()


def test_shake_hides_borders():
    cfg = FULL.replace(p_shake=1.0, shake_amplitude=(4.0, 4.0))
    y = CameraShake(cfg)(torch.ones(3, 1, 8, 64, 64), gen(2))
    assert y.min() > 0.99                             # the view is magnified: no black border comes in


def test_pan_moves_content_by_the_expected_distance():
    t, size = 8, 64
    cfg = FULL.replace(p_pan=1.0, speed=(0.5, 0.5), span=(1.0, 1.0))
    x = dot_clip(b=5, t=t, size=size)
    mod = CameraPan(cfg)
    draw = mod.sample(x.shape, gen(3))
    track = centroids(mod(x, gen(3)))
    assert torch.allclose(track, draw.info["offset_px"], atol=0.1)
    travelled = (track[:, -1] - track[:, 0]).norm(dim=-1)
    assert torch.allclose(travelled, torch.full_like(travelled, 0.5 * size / t * (t - 1)), rtol=0.02)
    steps = track.diff(dim=1).norm(dim=-1)            # linear: the same distance every frame
    assert torch.allclose(steps, torch.full_like(steps, 0.5 * size / t), rtol=0.05)
    assert CameraPan(cfg)(torch.ones(2, 1, t, size, size), gen(4)).min() > 0.99


def test_zoom_changes_scale_monotonically():
    t, size = 8, 64
    cfg = FULL.replace(p_zoom=1.0, zoom_speed=(1.0, 1.0), span=(1.0, 1.0))
    x = sum(dot_clip(b=8, t=t, size=size, at=a) for a in ((10, 10), (-10, 10), (10, -10), (-10, -10)))
    mod = CameraZoom(cfg)
    draw = mod.sample(x.shape, gen(5))
    y = mod(x, gen(5))
    h = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    r2 = h[None, :] ** 2 + h[:, None] ** 2
    spread = ((y[:, 0].double() * r2).sum((-1, -2)) / y[:, 0].double().sum((-1, -2))).sqrt()  # (B, T)
    zoom_out = draw.info["zoom_out"]
    assert zoom_out.any() and (~zoom_out).any()       # both directions drawn in this batch
    d = spread.diff(dim=1)
    assert (d[~zoom_out] > 0).all() and (d[zoom_out] < 0).all()
    ratio = torch.where(zoom_out, spread[:, 0] / spread[:, -1], spread[:, -1] / spread[:, 0])
    assert torch.allclose(ratio, torch.full_like(ratio, 1 + (t - 1) / t), rtol=0.03)  # 1 + speed (T-1)/T


def test_perspective_maps_the_frame_onto_the_drawn_quadrilateral():
    cfg = FULL.replace(p_perspective=1.0, perspective_zoom=1.0)
    x = torch.ones(6, 1, 2, 96, 96)
    mod = Perspective(cfg)
    corners = mod.sample(x.shape, gen(6)).info["corners"]         # (B, 4, 2) normalised, in order
    y = mod(x, gen(6))
    xs, ys = corners[..., 0], corners[..., 1]
    area = 0.5 * (xs * ys.roll(-1, 1) - xs.roll(-1, 1) * ys).sum(1).abs() / 4  # fraction of the frame
    assert torch.allclose(y.mean((1, 2, 3, 4)).double(), area, atol=0.02)
    assert torch.equal(y[:, :, 0], y[:, :, 1])                    # one homography per clip
    assert (area < 0.97).all()
    zoomed = Perspective(FULL.replace(p_perspective=1.0))(x, gen(6))  # the 1.4x zoom hides most corners
    assert (zoomed.mean((1, 2, 3, 4)) > y.mean((1, 2, 3, 4))).all()


# ----------------------------------------------------------------------------- foreground

def test_placement_scales_each_axis_and_stays_in_frame():
    cfg = FULL.replace(min_scale=0.3)
    x = torch.ones(6, 1, 2, 64, 64)
    mod = ForegroundPlacement(cfg)
    draw = mod.sample(x.shape, gen(7))
    y = mod(x, gen(7))
    for b in range(6):
        on = y[b, 0, 0] > 0.5
        rows, cols = on.any(1).nonzero()[:, 0], on.any(0).nonzero()[:, 0]
        sx, sy = draw.info["scale"][b].tolist()
        assert abs(len(cols) - sx * 64) <= 1.5 and abs(len(rows) - sy * 64) <= 1.5
        cx, cy = draw.info["centre"][b].tolist()
        assert abs((cols.float().mean().item() - 31.5) / 32 - cx) < 0.03
        assert abs((rows.float().mean().item() - 31.5) / 32 - cy) < 0.03
    assert (draw.info["scale"] >= 0.3).all() and draw.info["scale"].min() < 0.6


def test_clone_adds_a_second_transformed_copy():
    t, size, s = 8, 64, 0.4
    cfg = FULL.replace(p_clone=1.0, clone_scale=(s, s))
    x = torch.zeros(16, 1, t, size, size)
    x[..., 24:40, 24:40] = torch.linspace(0.3, 1.0, t).view(1, 1, t, 1, 1)   # a square, brighter each frame
    mod = Clone(cfg)
    draw = mod.sample(x.shape, gen(8))
    y = mod(x, gen(8))
    c1, c2 = draw.info["centre"] * 32 + 31.5, draw.info["copy_centre"] * 32 + 31.5   # px
    apart = (c1 - c2).abs().amax(1) > 16 * s * math.sqrt(2) + 2    # even rotated, the copies cannot touch
    assert apart.sum() >= 4
    for b in apart.nonzero()[:, 0].tolist():
        assert components(y[b, 0, 0].numpy() > 0.15) == 2   # two blobs where there was one
        orig = y[b, 0, :, int(c1[b, 1]), int(c1[b, 0])]      # brightness at each blob's centre over time
        copy = y[b, 0, :, int(c2[b, 1]), int(c2[b, 0])]
        assert torch.allclose(orig, x[b, 0, :, 32, 32], atol=1e-5)
        assert torch.allclose(copy, x[b, 0, draw.info["time_index"][b], 32, 32], atol=1e-5)
        # two copies of the shrunk area (a rotation keeps it; point sampling is off by up to a pixel a side)
        assert abs(y[b, 0, -1].sum().item() / x[b, 0, -1].sum().item() / (2 * s * s) - 1) < 0.25
    assert (draw.info["shift"] != 0).any() and draw.info["mirror"].any() and (~draw.info["mirror"]).any()
    assert draw.info["shift"].abs().max() <= t // 4 and draw.info["angle"].abs().max() <= math.pi / 3


def test_displacement_moves_linearly_during_the_active_span():
    t, size = 16, 64
    cfg = FULL.replace(p_displacement=1.0, speed=(0.5, 0.5), span=(0.5, 0.5))
    x = dot_clip(b=4, t=t, size=size)
    mod = Displacement(cfg)
    draw = mod.sample(x.shape, gen(9))
    track = centroids(mod(x, gen(9)))
    assert torch.allclose(track, draw.info["offset_px"], atol=0.1)
    steps = track.diff(dim=1).norm(dim=-1)
    moving = steps > 0.1
    assert (moving.sum(1) == 7).all()                      # span 0.5 T: 8 frames, 7 moves, still otherwise
    assert torch.allclose(steps[moving], torch.full_like(steps[moving], 0.5 * size / t), rtol=0.05)


# ----------------------------------------------------------------------------- background

def grey_batch(levels=(0.1, 0.2, 0.3, 0.4), t=8, size=64):
    """Clip i: flat grey levels[i] with a white square in the middle."""
    x = torch.tensor(levels).view(-1, 1, 1, 1, 1).expand(-1, 1, t, size, size).clone()
    x[..., 24:40, 24:40] = 1.0
    return x


def test_background_comes_from_other_clips_with_the_paper_blend():
    x = grey_batch()
    cfg = FULL.replace(p_background_pan=0.0, p_max_blend=0.0)
    levels = x[:, 0, 0, 0, 0].double()
    for seed in range(6):
        mod = Background(cfg)
        d = mod.sample(x, gen(seed))
        y = mod(x, gen(seed))
        others = d.info["others"]
        assert (others != torch.arange(4)).all()            # never the clip itself
        bg = torch.where(d.info["static"], torch.maximum(levels[others[0]], levels[others[1]]), levels[others[2]])
        a, g = d.info["alpha"], d.info["gamma"]
        expected = ((1 - a) * levels ** 0.75 + a * bg ** 0.75) ** g
        corner = y[:, 0, :, 1, 1].double()                   # far from every square
        assert torch.allclose(corner, expected[:, None].expand_as(corner), atol=1e-5)
        assert ((a >= 0.25) & (a <= 0.55)).all() and ((g >= 0.6) & (g <= 1.0)).all()
        fg = y[:, 0, :, 28:36, 28:36].flatten(1)             # the square: still brighter than its surroundings
        rest = y[:, 0, :, :16].flatten(1)
        assert (fg.min(1).values > rest.quantile(0.9, dim=1)).all()


def test_background_static_pan_dynamic_and_max():
    t, size = 8, 64
    g = gen(11)
    x = torch.rand(6, 1, t, size, size, generator=g)         # every frame differs
    y = Background(FULL.replace(p_static=1.0, p_background_pan=0.0))(torch.zeros_like(x).add_(x[:, :, :1]), gen(1))
    assert torch.allclose(y[:, :, 1:], y[:, :, :1].expand_as(y[:, :, 1:]))   # static, no pan: still
    d = Background(FULL.replace(p_static=1.0, p_background_pan=1.0)).sample(x, gen(1))
    bg = d.info["background"]
    assert (bg[:, :, 1:] - bg[:, :, :1]).abs().amax((1, 2, 3, 4)).min() > 0.1  # panned: it moves
    d = Background(FULL.replace(p_static=0.0)).sample(x, gen(2))               # dynamic: real frames of others
    walk, src = d.info["walk"], d.info["others"][2]
    for b in range(6):
        assert torch.equal(d.info["background"][b], x[src[b], :, walk[b]])
        assert (walk[b].diff().abs() <= 1).all() and walk[b].max() - walk[b].min() <= max(2, t // 4) - 1
    z = Background(FULL.replace(p_max_blend=1.0))(x, gen(3))
    assert (z >= x - 1e-6).all()                                                # v = max(v, bg)


# ----------------------------------------------------------------------------- curriculum

def test_curriculum_widens_ranges_with_the_epoch():
    shape = (2000, 1, 20, 112, 112)
    size_t = 112 / 20

    def draws(epoch, cfg=AugmentConfig()):
        scale = ForegroundPlacement(cfg).sample(shape, gen(1), epoch).info["scale"]
        move = Displacement(cfg).sample(shape, gen(2), epoch).info
        amp = CameraShake(cfg).sample(shape, gen(3), epoch).info["amplitude"]
        zoom = CameraZoom(cfg).sample(shape, gen(4), epoch).info["speed"] * 20
        return scale, move["speed"] / size_t, move["length"], amp, zoom

    s0, v0, l0, a0, z0 = draws(0.0)
    assert (s0 == 1.0).all()                                            # min scale 1.0: no scaling yet
    assert torch.allclose(v0, torch.full_like(v0, 0.2))                  # speeds 0.2 of size/T per frame
    assert (l0 == 2).all()                                              # span 0.1 T (at least 2 frames)
    assert a0.min() >= 1.0 and a0.max() <= 2.0                           # shake [1, 2] px
    assert torch.allclose(z0, torch.full_like(z0, 0.3))
    s5, v5, l5, a5, z5 = draws(5.0)
    assert 0.3 <= s5.min() < 0.32 and s5.max() > 0.98
    assert 0.2 <= v5.min() < 0.22 and v5.max() > 0.98
    assert l5.min() == 2 and l5.max() == 20
    assert 2.0 <= a5.min() < 2.05 and 3.95 < a5.max() <= 4.0
    assert 0.3 <= z5.min() and z5.max() > 0.98
    s2, v2, l2, a2, _ = draws(2.5)                                       # half way
    assert 0.65 - 1e-9 <= s2.min() < 0.67 and v2.max() < 0.6 + 1e-9 and 0.58 < v2.max()
    assert l2.max() == 11 and 1.5 <= a2.min() and a2.max() <= 3.0
    assert torch.equal(draws(7.0)[0], s5) and torch.equal(draws(math.inf)[1], v5)   # held after
    for off in (AugmentConfig(curriculum=False), AugmentConfig(curriculum_epochs=0)):
        assert torch.equal(draws(0.0, off)[0], s5) and torch.equal(draws(0.0, off)[1], v5)


# ----------------------------------------------------------------------------- switches, seeds, types

@pytest.mark.parametrize("module", list(GEOMETRIC) + [Background])
def test_each_switch_off_is_the_identity(module):
    x = torch.rand(4, 1, 8, 32, 32, generator=gen(12))
    flag, prob = GEOMETRIC.get(module, ("background", "p_background"))
    for cfg in (FULL.replace(**{flag: False, prob: 1.0}), FULL.replace(**{prob: 0.0})):
        assert torch.equal(module(cfg)(x, gen(0)), x)
    before = x.clone()
    assert not torch.equal(module(FULL.replace(**{prob: 1.0}))(x, gen(0)), x)
    assert torch.equal(x, before)                                     # the input is left alone


def test_real_video_switches_are_paired_and_all_off_is_identity():
    x = torch.rand(4, 1, 8, 32, 32, generator=gen(13))
    off = dict(background=False, placement=False, clone=False, displacement=False, perspective=False,
               camera_pan=False, camera_zoom=False, camera_shake=False)
    assert torch.equal(RealVideoAugment(AugmentConfig(**off))(x, gen(0)), x)
    # switching a part off draws the same numbers: the same result as probability 0
    a = RealVideoAugment(AugmentConfig(clone=False, camera_zoom=False))(x, gen(5))
    b = RealVideoAugment(AugmentConfig(p_clone=0.0, p_zoom=0.0))(x, gen(5))
    assert torch.equal(a, b)
    # one part on: only that part acts. The perspective is one homography per clip, so still
    # clips stay still; the shake moves every frame
    still = x[:, :, :1].expand_as(x).contiguous()
    before = still.clone()
    y = RealVideoAugment(AugmentConfig(**dict(off, perspective=True), p_perspective=1.0))(still, gen(0))
    assert torch.equal(still, before) and not torch.equal(y, still)
    assert torch.equal(y, y[:, :, :1].expand_as(y))
    y = RealVideoAugment(AugmentConfig(**dict(off, camera_shake=True), p_shake=1.0))(still, gen(0))
    assert (y[:, :, 1:] - y[:, :, :1]).abs().amax((1, 2, 3, 4)).min() > 0.1


def test_same_seed_same_output_other_seed_other_output():
    x = torch.rand(4, 1, 8, 32, 32, generator=gen(14))
    aug = RealVideoAugment()
    assert torch.equal(aug(x, gen(3), epoch=1.5), aug(x, gen(3), epoch=1.5))
    assert not torch.equal(aug(x, gen(3)), aug(x, gen(4)))
    std = StandardAugment(size=24)
    state = torch.get_rng_state()
    assert torch.equal(std(x, gen(3)), std(x, gen(3)))
    assert torch.equal(torch.get_rng_state(), state)                  # the global generator is left alone
    assert not torch.equal(std(x, gen(3)), std(x, gen(4)))


def _dtypes():
    out = [torch.float32]
    for dt in (torch.float16, torch.bfloat16):
        try:
            torch.nn.functional.grid_sample(torch.zeros(1, 1, 2, 2, dtype=dt), torch.zeros(1, 1, 1, 2, dtype=dt),
                                            align_corners=False)
            out.append(dt)
        except RuntimeError:
            pass
    return out


@pytest.mark.parametrize("dtype", _dtypes())
def test_outputs_in_range_finite_same_dtype(dtype):
    x = torch.rand(4, 1, 8, 64, 64, generator=gen(15)).to(dtype)
    for epoch in (0.0, 2.0, math.inf):
        y = RealVideoAugment(AugmentConfig(p_clone=0.5, p_displacement=0.5, p_pan=0.5, p_zoom=0.5,
                                           p_shake=0.5))(x, gen(1), epoch)
        assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
        assert torch.isfinite(y).all() and y.min() >= 0 and y.max() <= 1
    z = StandardAugment(size=48)(y, gen(2))
    assert z.shape == (4, 3, 8, 48, 48) and z.dtype == dtype and torch.isfinite(z).all()
    assert z.abs().max() < 3                                          # (v - mean) / std for v in [0, 1]


def test_colour_clips_keep_their_channels():
    x = torch.rand(3, 3, 6, 32, 32, generator=gen(16))
    y = RealVideoAugment()(x, gen(0))
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert StandardAugment(size=32)(y, gen(1)).shape == (3, 3, 6, 32, 32)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_gpu_draws_match_cpu():
    x = torch.rand(4, 1, 8, 64, 64, generator=gen(17))
    cpu = RealVideoAugment()(x, gen(1), 1.0)
    gpu = RealVideoAugment()(x.cuda(), gen(1), 1.0)
    assert gpu.device.type == "cuda"
    assert (gpu.cpu() - cpu).abs().max() < 1e-3


# ----------------------------------------------------------------------------- standard augmentation

def test_standard_grey_to_three_channels_and_same_parameters_for_all_frames():
    still = torch.rand(1, 1, 1, 64, 64, generator=gen(18)).expand(5, 1, 6, 64, 64)   # frames all alike
    y = StandardAugment(size=40, normalise=False)(still, gen(0))
    assert y.shape == (5, 3, 6, 40, 40)
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2])       # grey in 3 channels
    assert torch.equal(y[:, :, 1:], y[:, :, :1].expand_as(y[:, :, 1:]))           # one crop/op set per clip
    assert not torch.equal(y[0], y[1])                                             # clips differ


def test_standard_plain_settings_and_normalisation():
    x = torch.rand(2, 1, 4, 32, 32, generator=gen(19))
    plain = StandardAugment(size=32, crop_scale=(1.0, 1.0), ratio=(1.0, 1.0), flip=False, randaugment=False,
                            blur_p=0.0)
    y = plain(x, gen(0))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1, 1)
    assert torch.allclose(y, (x - mean) / std, atol=1e-5)                         # identity crop, then normalise
    assert torch.allclose(plain((x * 255).round().to(torch.uint8), gen(0)), ((x * 255).round() / 255 - mean) / std,
                          atol=1e-5)
    flipped = StandardAugment(size=32, crop_scale=(1.0, 1.0), ratio=(1.0, 1.0), randaugment=False, blur_p=0.0,
                              normalise=False)
    outs = [flipped(x[:1], gen(s))[0, 0] for s in range(12)]
    assert any(torch.equal(o, x[0, 0]) for o in outs) and any(torch.equal(o, x[0, 0].flip(-1)) for o in outs)


@pytest.mark.parametrize("channels, shape, crop_scale, ratio, blur_p", [
    (1, (37, 37), (0.9, 1.0), (3 / 4, 4 / 3), 0.5),     # the CPU pre-training
    (3, (37, 37), (0.5, 1.0), (3 / 4, 4 / 3), 0.5),     # the CPU fine-tuning, colour clips
    (1, (40, 52), (0.2, 1.0), (3 / 4, 4 / 3), 1.0),     # non-square, every clip blurred
    (3, (37, 37), (1.0, 1.0), (2.0, 3.0), 0.0),         # boxes that never fit: v2's central-crop fallback
])
def test_batched_crop_flip_blur_equals_torchvision_per_clip(channels, shape, crop_scale, ratio, blur_p):
    """Without RandAugment the batch path must give exactly what v2's per-clip calls give for the same seeds."""
    x = torch.rand(12, channels, 5, *shape, generator=gen(21))
    aug = StandardAugment(size=32, crop_scale=crop_scale, ratio=ratio, randaugment=False, blur_p=blur_p)
    assert aug.batched
    for seed in range(4):
        fast = aug(x, gen(seed))
        aug.batched = False
        reference = aug(x, gen(seed))
        aug.batched = True
        assert torch.equal(fast, reference)
    assert not StandardAugment(size=32).batched                                   # RandAugment: v2 per clip


@pytest.mark.parametrize("blur_p", [0.0, 1.0])
def test_tint_after_the_crop_gives_the_clips_of_tinting_first(blur_p):
    """Training tints after StandardAugment's crop (one channel to crop, not three): crop, resize, flip and blur
    average pixels with weights summing to 1, so a per-clip affine colour map commutes with them."""
    x = torch.rand(8, 1, 4, 37, 37, generator=gen(30))
    aug = StandardAugment(size=32, crop_scale=(0.5, 1.0), randaugment=False, blur_p=blur_p)
    first = aug(tint(x, gen(7), fg=(0.6, 1.0), bg=(0.0, 0.3)), gen(8))
    after = aug(x, gen(8), recolour=lambda v: tint(v, gen(7), fg=(0.6, 1.0), bg=(0.0, 0.3)))
    assert after.shape == first.shape == (8, 3, 4, 32, 32)
    assert torch.allclose(after, first, atol=1e-5) and not torch.equal(after[:, 0], after[:, 1])


def test_validation_transform_is_deterministic_resize_and_centre_crop():
    x = torch.rand(3, 1, 4, 96, 160, generator=gen(20))
    val = StandardAugment(train=False, size=112, normalise=False)
    y = val(x)
    assert y.shape == (3, 3, 4, 112, 112)
    assert torch.equal(y, val(x, gen(5)))                                          # no randomness
    from torchvision.transforms.v2 import functional as TF
    ref = TF.center_crop(TF.resize(x[0, :, 0], [128], antialias=True), [112])     # short side 112 * 256/224
    assert torch.allclose(y[0, :1, 0], ref.clamp(0, 1), atol=1e-6)


# ----------------------------------------------------------------------------- settings and bad input

def test_config_round_trip():
    cfg = AugmentConfig(p_clone=0.5, speed=(0.1, 0.9), camera_zoom=False)
    d = cfg.to_dict()
    assert d["speed"] == [0.1, 0.9] and AugmentConfig.from_dict(d) == cfg
    assert AugmentConfig.from_dict({}) == AugmentConfig()
    assert AugmentConfig.from_dict({"span": [0.2, 0.8]}).span == (0.2, 0.8)


@pytest.mark.parametrize("bad, name", [
    (dict(p_clone=1.5), "p_clone"), (dict(p_background=-0.1), "p_background"), (dict(background="yes"), "background"),
    (dict(speed=(1.0, 0.5)), "speed"), (dict(span=(0.1, 1.5)), "span"), (dict(min_scale=0.0), "min_scale"),
    (dict(clone_scale=(0.2,)), "clone_scale"), (dict(distortion=1.0), "distortion"),
    (dict(perspective_zoom=0.5), "perspective_zoom"), (dict(curriculum_epochs=-1), "curriculum_epochs"),
    (dict(shake_sines=(2.5, 5)), "shake_sines"), (dict(blend_gamma=(0.0, 1.0)), "blend_gamma"),
    (dict(p_shake=float("nan")), "p_shake"),
])
def test_bad_config_values_raise_clear_errors(bad, name):
    with pytest.raises(ValueError, match=rf"{name}=.* is not accepted: expected"):
        AugmentConfig(**bad)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown augmentation setting"):
        AugmentConfig.from_dict({"p_clonee": 0.1})
    x = torch.rand(2, 1, 4, 16, 16)
    aug = RealVideoAugment()
    with pytest.raises(ValueError, match=r"\(B, C, T, H, W\)"):
        aug(x[0], gen())
    with pytest.raises(ValueError, match="dtype"):
        aug((x * 255).to(torch.uint8), gen())
    with pytest.raises(ValueError, match="generator"):
        aug(x, None)
    with pytest.raises(ValueError, match="epoch"):
        aug(x, gen(), epoch=-1.0)
    with pytest.raises(ValueError, match="size=0"):
        StandardAugment(size=0)
    with pytest.raises(ValueError, match="crop_scale"):
        StandardAugment(crop_scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="generator"):
        StandardAugment()(x)
    with pytest.raises(ValueError, match="C = 1 or 3"):
        StandardAugment()(torch.rand(2, 2, 4, 16, 16), gen())


def test_single_clip_batch_skips_background():
    x = torch.rand(1, 1, 4, 32, 32, generator=gen(21))
    assert torch.equal(Background(FULL)(x, gen(0)), x)
    assert RealVideoAugment()(x, gen(0)).shape == x.shape


def test_tint_colours_each_grey_clip_with_its_own_foreground_and_background():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 3, 8, 8, generator=g)
    x[:, :, :, 0, 0], x[:, :, :, 0, 1] = 1.0, 0.0          # one full-bright and one black pixel per frame
    y = tint(x, torch.Generator().manual_seed(1))
    assert y.shape == (4, 3, 3, 8, 8) and 0 <= y.min() and y.max() <= 1
    fg, bg = y[:, :, 0, 0, 0], y[:, :, 0, 0, 1]            # (B, 3): the colours the clips were given
    assert torch.allclose(y, x * fg.view(4, 3, 1, 1, 1) + (1 - x) * bg.view(4, 3, 1, 1, 1))
    assert len({tuple(c.tolist()) for c in fg}) == 4      # every clip its own colours
    assert torch.equal(y, tint(x, torch.Generator().manual_seed(1)))   # the generator's draws alone
    colour = torch.rand(4, 3, 3, 8, 8)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert tint(colour, g1) is colour
    tint(x, g2)
    assert torch.equal(g1.get_state(), g2.get_state())   # the same draws for colour input: runs stay paired
    with pytest.raises(ValueError, match="expected a float batch"):
        tint(x.to(torch.uint8), g)


def test_tint_ranges_keep_a_bright_fractal_over_a_dark_background():
    x = torch.zeros(64, 1, 2, 4, 4)
    x[:, :, :, 0, 0] = 1.0                                 # one fractal pixel; the rest is background
    y = tint(x, torch.Generator().manual_seed(0), fg=(0.6, 1.0), bg=(0.0, 0.3))
    fg, bg = y[:, :, 0, 0, 0], y[:, :, 0, 1, 1]
    assert fg.min() >= 0.6 and bg.max() <= 0.3 and (fg - bg).min() >= 0.3   # every channel keeps its contrast
    assert fg.std() > 0.05 and bg.std() > 0.03                             # still a colour of its own per clip
    # the full ranges are the default, draw for draw
    assert torch.equal(tint(x, torch.Generator().manual_seed(0), fg=(0, 1), bg=(0, 1)),
                       tint(x, torch.Generator().manual_seed(0)))
    u = torch.rand((2, 64, 3), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.allclose(fg, (0.6 + 0.4 * u[0]).float()) and torch.allclose(bg, (0.3 * u[1]).float())
    for fg_range in ((0.9, 0.6), (-0.1, 1.0), (0.5, 1.5)):
        with pytest.raises(ValueError, match="fg"):
            tint(x, torch.Generator(), fg=fg_range)
