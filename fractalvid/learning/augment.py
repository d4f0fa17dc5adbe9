"""Augmentation of video batches: the real-video emulation (the paper's section 3).

Batches are float (B, C, T, H, W) in [0, 1]. Every random number comes from an
explicit ``torch.Generator`` on the CPU handed to ``forward(x, generator, epoch)``;
drawn values are moved to the batch's device, so a seeded batch gives the same
draws on CPU and GPU. Each module draws the same count of numbers whatever its
switches and probabilities say (they only mask the draws), so switching one part
off leaves every other part's draws unchanged: ablations stay paired.

:class:`RealVideoAugment` does, in this order: background mixing with the
foreground transforms (the synthetic clip is the foreground: scale and placement,
group/clone, displacement, then blended onto a background taken from other clips
of the batch), then perspective and camera (pan, zoom, shake). Each part is also a
module of its own with the same ``forward`` (:class:`Background`,
:class:`ForegroundPlacement`, :class:`Clone`, :class:`Displacement`,
:class:`Perspective`, :class:`CameraPan`, :class:`CameraZoom`, :class:`CameraShake`),
so a gallery can show one effect alone. The standard augmentation that follows
(random resized crop, flip, RandAugment, blur, normalisation) is
:class:`fractalvid.learning.presets.StandardAugment`.

Geometry: each geometric effect is a *sampling matrix* M (3x3, per clip and frame)
in grid_sample's normalised coordinates (align_corners=False: -1 and 1 are the
outer edges of the border pixels): output pixel p takes the input at M p
(homogeneous). Effect A then effect B samples at M_A M_B p, so effects compose by
matrix products: RealVideoAugment resamples the foreground once and the composited
frame once (less blur, less time). Pixel figures ("px", "size") use
size = min(H, W); shake amplitudes are given at 112 px and scale with size.

Camera pan, zoom and shake never look outside the frame: like a camera moving over a
larger scene, they magnify just enough that the moving window stays inside the
picture. The perspective, as torchvision's RandomPerspective, fills with black what
its 1.4x zoom does not hide; the foreground is the synthetic clip on black, so
scaling it down leaves black for the background to fill.

Decisions where the paper's figures stop (documented, all in :class:`AugmentConfig`):
speeds are drawn U(lo, hi(epoch)) in units of size/T px per frame, active spans
randint(max(2, lo T), max(2, hi(epoch) T)) frames starting at a random frame (the
position holds still before and after), paths are centred on the starting
placement; zoom magnification grows by U(0.3, 1.0)/T per frame (curriculum on the
upper end) from 1 (zoom in) or down to 1 (zoom out, p 0.5) about the centre; shake is
per axis a sum of 2-5 sines (weights 1/k, U(0.1, 1.2) rad per frame, random phases)
plus U(-0.3, 0.3) noise, scaled to a standard deviation over the clip equal to the
amplitude; a dynamic background is a random walk (steps -1, 0, 1) over a run of
2..max(2, T/4) frames of another clip, uncropped; background crops clip their sides
to the frame instead of torchvision's redraws. With B = 1 there are no other clips:
background mixing is skipped.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check as _check, is_number
from ..config import Settings

F64 = torch.float64


# -----------------------------------------------------------------------------
# settings

@dataclass(frozen=True)
class AugmentConfig(Settings):
    """Every probability and range of the real-video emulation; defaults are the paper's.

    Curriculum ranges: ``x_start`` is the range at epoch 0, ``x`` the full range
    reached after ``curriculum_epochs`` (both ends move linearly); with
    ``curriculum=False`` or ``curriculum_epochs=0`` the full ranges apply from the start.
    """
    kind = "augmentation"  # in messages: "unknown augmentation setting(s) ..."

    # switches (the paper's ablations): a part switched off is the identity
    background: bool = True
    placement: bool = True
    clone: bool = True
    displacement: bool = True
    perspective: bool = True
    camera_pan: bool = True
    camera_zoom: bool = True
    camera_shake: bool = True
    curriculum: bool = True
    curriculum_epochs: float = 5.0
    # background mixing (from the batch itself)
    p_background: float = 1.0
    p_static: float = 0.8                     # else dynamic
    p_background_pan: float = 0.3             # of static backgrounds
    p_max_blend: float = 0.05                 # v = max(v, bg) instead of the power blend
    background_crop_scale: tuple = (0.6, 1.0)  # area fraction of the random resized crop
    background_crop_ratio: tuple = (3 / 4, 4 / 3)
    dynamic_run: float = 0.25                 # longest run of a dynamic background, fraction of T
    blend_alpha: tuple = (0.25, 0.55)
    blend_gamma: tuple = (0.6, 1.0)
    blend_power: float = 0.75
    # foreground
    p_placement: float = 1.0
    min_scale: float = 0.3                    # each axis scaled by U(min_scale, 1)
    min_scale_start: float = 1.0
    p_clone: float = 0.15
    clone_scale: tuple = (0.2, 0.7)
    p_clone_mirror: float = 0.5
    clone_rotation: float = 60.0              # degrees, U(-r, r)
    clone_time_shift: float = 0.25            # up to this fraction of T (at least 1 frame)
    p_displacement: float = 0.3
    speed: tuple = (0.2, 1.0)                 # size/T px per frame (displacement and pans)
    speed_start: tuple = (0.2, 0.2)
    span: tuple = (0.1, 1.0)                  # active part of the clip, fraction of T
    span_start: tuple = (0.1, 0.1)
    # perspective
    p_perspective: float = 0.8
    distortion: float = 0.7
    perspective_zoom: float = 1.4
    # camera
    p_pan: float = 0.3
    p_zoom: float = 0.3
    zoom_speed: tuple = (0.3, 1.0)            # magnification gained per frame, times T
    zoom_speed_start: tuple = (0.3, 0.3)
    p_shake: float = 0.3
    shake_amplitude: tuple = (2.0, 4.0)       # px (standard deviation) at 112 px
    shake_amplitude_start: tuple = (1.0, 2.0)
    shake_sines: tuple = (2, 5)
    shake_frequency: tuple = (0.1, 1.2)       # radians per frame
    shake_noise: float = 0.3

    def __post_init__(self):
        for f in dataclasses.fields(self):  # lists from YAML become tuples (hashable, frozen)
            if isinstance(getattr(self, f.name), list):
                object.__setattr__(self, f.name, tuple(getattr(self, f.name)))
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad setting and what would be accepted."""
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type in ("bool", bool):
                _check(isinstance(v, bool), f.name, v, "True or False")
            elif f.name.startswith("p_"):
                _check(is_number(v) and 0 <= v <= 1, f.name, v, "a probability in [0, 1]")
        _check(is_number(self.curriculum_epochs) and 0 <= self.curriculum_epochs < math.inf, "curriculum_epochs",
               self.curriculum_epochs, "a finite number >= 0 (0 switches the curriculum off)")
        _range(self, "background_crop_scale", 0, 1, lo_open=True)
        _range(self, "background_crop_ratio", 0, math.inf, lo_open=True)
        _check(is_number(self.dynamic_run) and 0 <= self.dynamic_run <= 1, "dynamic_run", self.dynamic_run,
               "a fraction of T in [0, 1]")
        _range(self, "blend_alpha", 0, 1)
        _range(self, "blend_gamma", 0, 10, lo_open=True)
        _check(is_number(self.blend_power) and 0 < self.blend_power <= 10, "blend_power", self.blend_power,
               "a number in (0, 10]")
        for name in ("min_scale", "min_scale_start"):
            _check(is_number(getattr(self, name)) and 0 < getattr(self, name) <= 1, name, getattr(self, name),
                   "a scale in (0, 1]")
        _range(self, "clone_scale", 0, 1, lo_open=True)
        _check(is_number(self.clone_rotation) and 0 <= self.clone_rotation <= 180, "clone_rotation",
               self.clone_rotation, "degrees in [0, 180]")
        _check(is_number(self.clone_time_shift) and 0 <= self.clone_time_shift <= 1, "clone_time_shift",
               self.clone_time_shift, "a fraction of T in [0, 1]")
        for name in ("speed", "speed_start", "zoom_speed", "zoom_speed_start"):
            _range(self, name, 0, 10)
        for name in ("span", "span_start"):
            _range(self, name, 0, 1)
        _check(is_number(self.distortion) and 0 <= self.distortion < 1, "distortion", self.distortion,
               "a number in [0, 1) (how far corners move inward, as a fraction of half the side)")
        _check(is_number(self.perspective_zoom) and 1 <= self.perspective_zoom <= 10, "perspective_zoom",
               self.perspective_zoom, "a magnification in [1, 10]")
        for name in ("shake_amplitude", "shake_amplitude_start"):
            _range(self, name, 0, 100)
        _range(self, "shake_sines", 1, 16, integer=True)
        _range(self, "shake_frequency", 0, 100)
        _check(is_number(self.shake_noise) and 0 <= self.shake_noise <= 100, "shake_noise", self.shake_noise,
               "a number in [0, 100]")

    def progress(self, epoch: float) -> float:
        """Curriculum progress in [0, 1] at ``epoch`` (a float: step / steps_per_epoch)."""
        _check(is_number(epoch) and epoch >= 0, "epoch", epoch, "a number >= 0 (float('inf') = after the curriculum)")
        if not self.curriculum or self.curriculum_epochs == 0:
            return 1.0
        return min(float(epoch) / self.curriculum_epochs, 1.0)

    def ranged(self, name: str, epoch: float) -> tuple[float, float]:
        """The range ``name`` at ``epoch``: ``name_start`` moved linearly towards ``name``."""
        p = self.progress(epoch)
        (a0, b0), (a1, b1) = getattr(self, name + "_start"), getattr(self, name)
        return a0 + p * (a1 - a0), b0 + p * (b1 - b0)



def _range(cfg, name, lo, hi, lo_open=False, integer=False):
    v = getattr(cfg, name)
    kind = "integers" if integer else "numbers"
    accepted = f"two {kind} (low, high) with {lo} {'<' if lo_open else '<='} low <= high <= {hi}"
    ok = (isinstance(v, tuple) and len(v) == 2 and all(is_number(a) for a in v)
          and (not integer or all(isinstance(a, int) for a in v)))
    ok = ok and (v[0] > lo if lo_open else v[0] >= lo) and v[0] <= v[1] <= hi
    _check(ok, name, v, accepted)


# -----------------------------------------------------------------------------
# draws: all on the CPU generator, float64, shapes fixed by the batch

def _rand(g, *shape):
    return torch.rand(shape, generator=g, dtype=F64)


def _uniform(g, lo, hi, *shape):
    return lo + (hi - lo) * _rand(g, *shape)


def _randint(g, lo, hi, *shape):
    """Integers in [lo, hi] (inclusive; lo, hi numbers or tensors broadcasting to shape)."""
    lo, hi = torch.as_tensor(lo, dtype=F64), torch.as_tensor(hi, dtype=F64)
    return torch.minimum(lo + torch.floor(_rand(g, *shape) * (hi - lo + 1)), hi).long()


def _affine(sx, sy, tx, ty):
    """Matrices [[sx, 0, tx], [0, sy, ty], [0, 0, 1]] broadcast over the arguments' shape."""
    sx, sy, tx, ty = torch.broadcast_tensors(*(torch.as_tensor(a, dtype=F64) for a in (sx, sy, tx, ty)))
    m = torch.zeros(sx.shape + (3, 3), dtype=F64)
    m[..., 0, 0], m[..., 1, 1], m[..., 0, 2], m[..., 1, 2], m[..., 2, 2] = sx, sy, tx, ty, 1.0
    return m


def _eye(b, t=1):
    return torch.eye(3, dtype=F64).expand(b, t, 3, 3).clone()


def _masked(m, active):
    """Identity where a clip is inactive; m is (B, T, 3, 3)."""
    return torch.where(active[:, None, None, None], m, torch.eye(3, dtype=F64))


def _active_span(g, b, t, span):
    """Progress k (B, T) along a path: 0 before a random start, +1 per frame for L - 1 frames, then held."""
    lo = min(max(int(span[0] * t), 2), t)
    hi = max(min(max(int(span[1] * t), 2), t), lo)
    length = _randint(g, lo, hi, b)
    start = _randint(g, 0, t - length, b)
    k = (torch.arange(t)[None] - start[:, None]).clamp(min=0)
    return torch.minimum(k, (length - 1)[:, None]).to(F64), length


def _linear_motion(g, shape, speed, span):
    """A centred linear path: offsets (B, T, 2) in normalised units, plus its draws in px."""
    b, _, t, h, w = shape
    size = min(h, w)
    v = _uniform(g, speed[0], speed[1], b) * size / t          # px per frame
    angle = _uniform(g, 0, 2 * math.pi, b)
    k, length = _active_span(g, b, t, span)
    travel = k - (length[:, None] - 1) / 2                     # frames along the path, centred
    px = torch.stack([torch.cos(angle)[:, None] * travel, torch.sin(angle)[:, None] * travel], -1) * v[:, None, None]
    norm = px * torch.tensor([2.0 / w, 2.0 / h], dtype=F64)
    return norm, dict(speed=v, angle=angle, length=length, offset_px=px)


def _window(offset, h, w):
    """Sampling matrices showing content moved by ``offset`` (B, T, 2), magnified so no border shows.

    Samples stay within the outer pixel centres (+-(1 - 1/n)), so bilinear sampling never
    mixes in the black outside the frame.
    """
    inner = torch.tensor([1 - 1 / w, 1 - 1 / h], dtype=F64)
    m = (1 + offset.abs().amax(dim=1) / inner).amax(dim=1)[:, None]   # (B, 1)
    return _affine(1 / m, 1 / m, -offset[..., 0] / m, -offset[..., 1] / m), m[:, 0]


@dataclass
class Draw:
    """One module's draws for a batch: sampling matrices (B, T or 1, 3, 3), which clips it
    changes (B,), and the drawn values (``info``) for tests and galleries."""

    matrices: torch.Tensor
    active: torch.Tensor
    info: dict


# -----------------------------------------------------------------------------
# resampling

def _check_batch(x, generator) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 5 or 0 in x.shape:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x of shape {got} is not accepted: expected a video batch (B, C, T, H, W), all > 0")
    if not x.is_floating_point():
        raise ValueError(f"x of dtype {x.dtype} is not accepted: expected a float batch in [0, 1]")
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise ValueError(f"generator={generator!r} is not accepted: expected a torch.Generator on the CPU "
                         "(draws are made there and moved to the batch's device)")


def _resample(v, m):
    """Resample ``v`` (N, C, T', H, W) with sampling matrices ``m`` (N, T, 3, 3): (N, C, T, H, W).

    T' is T (frame t with matrix t) or 1 (one image seen through T matrices).
    """
    n, c, tv, h, w = v.shape
    t = m.shape[1]
    frames = v[:, :, 0] if tv == 1 else v.transpose(1, 2).reshape(n * t, c, h, w)
    mf = m.to(device=v.device, dtype=torch.float32).reshape(n * t, 3, 3)
    if bool((m[..., 2, :2] == 0).all()):   # affine: affine_grid has the same pixel-centre coordinates
        grid = F.affine_grid(mf[:, :2], [n * t, 1, h, w], align_corners=False)
    else:                                   # a homography: divide by z; points behind the camera show black
        ys = (torch.arange(h, device=v.device, dtype=torch.float32) * 2 + 1) / h - 1
        xs = (torch.arange(w, device=v.device, dtype=torch.float32) * 2 + 1) / w - 1
        base = torch.stack([xs.expand(h, w), ys[:, None].expand(h, w), torch.ones(h, w, device=v.device)], -1)
        grid = torch.einsum("nij,hwj->nhwi", mf, base)
        z = grid[..., 2:]
        grid = torch.where(z > 1e-6, grid[..., :2] / z.clamp(min=1e-6), torch.full_like(grid[..., :2], 3.0))
    if tv == 1:   # one image per clip: all T views in one call, stacked along the height
        grid = grid.reshape(n, t * h, w, 2)
    out = F.grid_sample(frames, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if tv == 1:
        return out.view(n, c, t, h, w)
    return out.view(n, t, c, h, w).transpose(1, 2)


def _warp(x, m, active):
    """``x`` (B, C, T, H, W) float32 with clips in ``active`` resampled by ``m`` (B, T or 1, 3, 3)."""
    idx = active.nonzero()[:, 0]
    if idx.numel() == 0:
        return x
    if m.shape[1] == 1 and x.shape[2] > 1:
        m = m.expand(-1, x.shape[2], -1, -1)
    if idx.numel() == x.shape[0]:
        return _resample(x, m)
    out = x.clone()
    dev_idx = idx.to(x.device)
    out[dev_idx] = _resample(x[dev_idx], m[idx])
    return out


def _compose(draws):
    """One Draw doing ``draws`` in order (first applied first)."""
    m, active = draws[0].matrices, draws[0].active
    for d in draws[1:]:
        m, active = m @ d.matrices, active | d.active
    return Draw(m, active, {})


# -----------------------------------------------------------------------------
# the modules

class _Module(nn.Module):
    def __init__(self, cfg: AugmentConfig | None = None):
        super().__init__()
        cfg = AugmentConfig() if cfg is None else cfg
        if not isinstance(cfg, AugmentConfig):
            raise ValueError(f"cfg={cfg!r} is not accepted: expected an AugmentConfig")
        self.cfg = cfg

    def extra_repr(self) -> str:
        return f"on={self._on()}"

    def _on(self) -> bool:
        return True


class _Geometric(_Module):
    """A module whose effect is a sampling matrix per clip and frame: ``sample`` draws it."""

    flag, prob = "", ""

    def _on(self) -> bool:
        return getattr(self.cfg, self.flag)

    def _mask(self, g, b):
        return (_rand(g, b) < getattr(self.cfg, self.prob)) & self._on()

    def sample(self, shape, generator: torch.Generator, epoch: float = math.inf) -> Draw:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, generator: torch.Generator, epoch: float = math.inf) -> torch.Tensor:
        _check_batch(x, generator)
        d = self.sample(x.shape, generator, epoch)
        return _warp(x.float(), d.matrices, d.active).clamp(0, 1).to(x.dtype)


class ForegroundPlacement(_Geometric):
    """Scale each axis by U(min_scale, 1) (min_scale under the curriculum) and place the
    clip at a random position where it fits; black around it."""

    flag, prob = "placement", "p_placement"

    def sample(self, shape, generator, epoch=math.inf):
        b = shape[0]
        active = self._mask(generator, b)
        lo = _min_scale(self.cfg, epoch)
        s = _uniform(generator, lo, 1.0, b, 2)
        c = (1 - s) * _uniform(generator, -1.0, 1.0, b, 2)
        m = _affine(1 / s[:, 0], 1 / s[:, 1], -c[:, 0] / s[:, 0], -c[:, 1] / s[:, 1])[:, None]
        return Draw(_masked(m, active), active, dict(scale=s, centre=c, min_scale=lo))


def _min_scale(cfg: AugmentConfig, epoch: float) -> float:
    p = cfg.progress(epoch)
    return cfg.min_scale_start + p * (cfg.min_scale - cfg.min_scale_start)


class Clone(_Geometric):
    """Group/clone: the clip shrinks (each axis U(0.2, 0.7)) and a copy joins it, maybe
    mirrored, rotated by U(-60, 60) degrees, shifted in time by up to T/4 (edge frames
    held), each placed at its own random position; merged with max.

    ``Draw.matrices`` place the original; ``info`` holds the copy's matrices ("copy")
    and frame indices ("time_index", (B, T)).
    """

    flag, prob = "clone", "p_clone"

    def sample(self, shape, generator, epoch=math.inf):
        b, _, t, h, w = shape
        cfg, g = self.cfg, generator
        active = self._mask(g, b)
        s = _uniform(g, cfg.clone_scale[0], cfg.clone_scale[1], b, 2)
        c1 = (1 - s) * _uniform(g, -1.0, 1.0, b, 2)
        c2 = (1 - s) * _uniform(g, -1.0, 1.0, b, 2)
        mirror = _rand(g, b) < cfg.p_clone_mirror
        angle = _uniform(g, -cfg.clone_rotation, cfg.clone_rotation, b) * math.pi / 180
        shift = _randint(g, 0, max(1, int(cfg.clone_time_shift * t)), b)
        sign = torch.where(_rand(g, b) < 0.5, -1, 1)
        time_index = (torch.arange(t)[None] + sign[:, None] * shift[:, None]).clamp(0, t - 1)
        place = _affine(1 / s[:, 0], 1 / s[:, 1], -c1[:, 0] / s[:, 0], -c1[:, 1] / s[:, 1])
        # the copy: scale, mirror, rotate (in pixel-square coordinates), move to c2; inverted for sampling
        k = torch.diag(torch.tensor([w / min(h, w), h / min(h, w), 1.0], dtype=F64))
        cos, sin = torch.cos(angle), torch.sin(angle)
        rot_inv = _affine(cos, cos, 0.0, 0.0)
        rot_inv[:, 0, 1], rot_inv[:, 1, 0] = sin, -sin
        copy = (_affine(1 / s[:, 0], 1 / s[:, 1], 0.0, 0.0) @ _affine(torch.where(mirror, -1.0, 1.0), 1.0, 0.0, 0.0)
                @ torch.linalg.inv(k) @ rot_inv @ k @ _affine(1.0, 1.0, -c2[:, 0], -c2[:, 1]))
        info = dict(scale=s, centre=c1, copy_centre=c2, mirror=mirror, angle=angle, shift=sign * shift,
                    time_index=time_index, copy=_masked(copy[:, None], active))
        return Draw(_masked(place[:, None], active), active, info)

    def forward(self, x, generator, epoch=math.inf):
        _check_batch(x, generator)
        return _foreground(x, clone=self.sample(x.shape, generator, epoch)).clamp(0, 1).to(x.dtype)


class Displacement(_Geometric):
    """A linear move of the foreground during part of the clip (speed and active span
    under the curriculum); the path is centred on the clip's place; black fills in."""

    flag, prob = "displacement", "p_displacement"

    def sample(self, shape, generator, epoch=math.inf):
        active = self._mask(generator, shape[0])
        offset, info = _linear_motion(generator, shape, self.cfg.ranged("speed", epoch),
                                      self.cfg.ranged("span", epoch))
        m = _affine(1.0, 1.0, -offset[..., 0], -offset[..., 1])
        return Draw(_masked(m, active), active, info)


def _foreground(x, place: Draw | None = None, clone: Draw | None = None, move: Draw | None = None):
    """The synthetic clip placed, cloned and moved, resampled once (the copy once more); float32."""
    b, t = x.shape[0], x.shape[2]
    v = x.float()
    m, active = _eye(b), torch.zeros(b, dtype=torch.bool)
    if place is not None:
        m, active = place.matrices, place.active
    if clone is not None:   # a cloned clip takes the clone's scale instead of the placement's
        m = torch.where(clone.active[:, None, None, None], clone.matrices, m)
        active = active | clone.active
    if move is not None:
        m, active = m @ move.matrices, active | move.active
    out = _warp(v, m, active)
    if clone is not None and bool(clone.active.any()):
        idx = clone.active.nonzero()[:, 0]
        dev = idx.to(x.device)
        tidx = clone.info["time_index"][idx].to(x.device)
        src = v[dev[:, None], :, tidx].permute(0, 2, 1, 3, 4)            # (n, C, T, H, W), time-shifted
        mc = clone.info["copy"][idx].expand(-1, t, -1, -1)
        if move is not None:
            mc = mc @ move.matrices[idx]
        out = out.clone() if out is v else out
        out[dev] = torch.maximum(out[dev], _resample(src, mc))
    return out if out is v else out.clamp_(0, 1)


class Perspective(_Geometric):
    """Random perspective (each corner moves inward by U(0, distortion) of half the side per
    axis, as torchvision's RandomPerspective), then a 1.4x zoom with centre crop; one
    homography per clip, the same for all frames."""

    flag, prob = "perspective", "p_perspective"

    def sample(self, shape, generator, epoch=math.inf):
        b = shape[0]
        active = self._mask(generator, b)
        start = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]], dtype=F64).expand(b, 4, 2)
        end = start - start * _uniform(generator, 0.0, self.cfg.distortion, b, 4, 2)
        # solve for the homography taking end points (output) to start points (input): 8 unknowns
        ex, ey, sx, sy = end[..., 0], end[..., 1], start[..., 0], start[..., 1]
        one, zero = torch.ones_like(ex), torch.zeros_like(ex)
        rows_x = torch.stack([ex, ey, one, zero, zero, zero, -ex * sx, -ey * sx], -1)
        rows_y = torch.stack([zero, zero, zero, ex, ey, one, -ex * sy, -ey * sy], -1)
        a = torch.cat([rows_x, rows_y], 1)
        h = torch.linalg.solve(a, torch.cat([sx, sy], 1))
        m = torch.cat([h, torch.ones(b, 1, dtype=F64)], 1).view(b, 3, 3)
        z = self.cfg.perspective_zoom
        m = (m @ _affine(1 / z, 1 / z, 0.0, 0.0))[:, None]
        return Draw(_masked(m, active), active, dict(corners=end))


class CameraPan(_Geometric):
    """The camera pans: content moves linearly during part of the clip (speed and active
    span under the curriculum), the view magnified so it stays inside the frame."""

    flag, prob = "camera_pan", "p_pan"

    def sample(self, shape, generator, epoch=math.inf):
        active = self._mask(generator, shape[0])
        offset, info = _linear_motion(generator, shape, self.cfg.ranged("speed", epoch),
                                      self.cfg.ranged("span", epoch))
        m, mag = _window(offset, shape[3], shape[4])
        return Draw(_masked(m, active), active, dict(info, magnification=mag))


class CameraZoom(_Geometric):
    """The camera zooms about the centre: magnification grows by U(zoom_speed)/T per frame
    over the active span, from 1 (zoom in) or back to 1 (zoom out, p 0.5)."""

    flag, prob = "camera_zoom", "p_zoom"

    def sample(self, shape, generator, epoch=math.inf):
        b, t = shape[0], shape[2]
        active = self._mask(generator, b)
        lo, hi = self.cfg.ranged("zoom_speed", epoch)
        speed = _uniform(generator, lo, hi, b) / t
        k, length = _active_span(generator, b, t, self.cfg.ranged("span", epoch))
        zoom_out = _rand(generator, b) < 0.5
        k = torch.where(zoom_out[:, None], (length - 1)[:, None] - k, k)
        mag = 1 + speed[:, None] * k
        m = _affine(1 / mag, 1 / mag, 0.0, 0.0)
        return Draw(_masked(m, active), active, dict(speed=speed, length=length, zoom_out=zoom_out,
                                                     magnification=mag))


class CameraShake(_Geometric):
    """Camera shake: per axis a sum of 2-5 sines (weights 1/k) plus uniform noise, scaled to
    a standard deviation over the clip of U(amplitude) px at 112 px (scaled with size);
    the view magnified just enough that no border shows."""

    flag, prob = "camera_shake", "p_shake"

    def sample(self, shape, generator, epoch=math.inf):
        b, _, t, h, w = shape
        cfg, g = self.cfg, generator
        active = self._mask(g, b)
        lo, hi = cfg.ranged("shake_amplitude", epoch)
        amp = _uniform(g, lo, hi, b) * min(h, w) / 112
        n_max = cfg.shake_sines[1]
        n = _randint(g, cfg.shake_sines[0], n_max, b, 2)
        freq = _uniform(g, cfg.shake_frequency[0], cfg.shake_frequency[1], b, 2, n_max)
        phase = _uniform(g, 0, 2 * math.pi, b, 2, n_max)
        noise = _uniform(g, -cfg.shake_noise, cfg.shake_noise, b, 2, t)
        k = torch.arange(1, n_max + 1, dtype=F64)
        weight = torch.where(k <= n[..., None], 1 / k, 0.0)                               # (B, 2, n_max)
        tt = torch.arange(t, dtype=F64)
        track = (weight[..., None] * torch.sin(freq[..., None] * tt + phase[..., None])).sum(-2) + noise
        track = track - track.mean(-1, keepdim=True)
        std = track.std(-1, correction=0, keepdim=True)
        track = torch.where(std > 1e-9, track / std.clamp(min=1e-9), 0.0) * amp[:, None, None]
        track = track - (track.amax(-1, keepdim=True) + track.amin(-1, keepdim=True)) / 2  # centred range
        px = track.transpose(1, 2)                                                          # (B, T, 2)
        m, mag = _window(px * torch.tensor([2.0 / w, 2.0 / h], dtype=F64), h, w)
        return Draw(_masked(m, active), active, dict(amplitude=amp, offset_px=px, magnification=mag))


def tint(x: torch.Tensor, generator: torch.Generator, fg: tuple = (0.0, 1.0), bg: tuple = (0.0, 1.0)) -> torch.Tensor:
    """Grey clips (B, 1, T, H, W) in [0, 1] -> colour clips (B, 3, T, H, W): each clip's grey level v becomes
    v fg + (1 - v) bg with its own foreground and background colours, each channel of fg ~ U(``fg``) and of
    bg ~ U(``bg``), drawn from ``generator`` (6 B numbers, whatever the input). The fractal clips are grey
    while real clips are in colour: tinted, pre-training shows the first layer colour with the fractal's
    shapes and motion unchanged. With both ranges (0, 1) a clip's colours may be as bright as each other or
    swapped, and a short pre-training learns nothing (reports/study.md); a bright ``fg`` over a dark ``bg``,
    e.g. (0.6, 1) and (0, 0.3), keeps every fractal brighter than its background in each channel, as grey
    clips are. Colour input (C = 3) is returned as it is."""
    _check_batch(x, generator)
    for name, (lo, hi) in (("fg", fg), ("bg", bg)):
        _check(is_number(lo) and is_number(hi) and 0 <= lo <= hi <= 1, name, (lo, hi), "two numbers 0 <= lo <= hi <= 1")
    u = _rand(generator, 2, x.shape[0], 3)
    colours = torch.stack([_scale(u[0], *fg), _scale(u[1], *bg)]).to(x.device, x.dtype).view(2, -1, 3, 1, 1, 1)
    if x.shape[1] != 1:
        return x
    return x * colours[0] + (1 - x) * colours[1]


def _scale(u: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """U(0, 1) draws -> U(lo, hi); (0, 1) returns ``u`` itself, so the default tint's colours keep their bytes."""
    return u if (lo, hi) == (0, 1) else lo + (hi - lo) * u


class Background(_Module):
    """Background mixing from the batch itself; the input is the foreground.

    Static (p 0.8): the max of two random frames of other clips, random-resized-cropped
    (area 0.6-1), panned linearly through the clip with p 0.3 (speed and span as the
    camera pan); dynamic (0.2): a random walk over a short run of frames of another clip.
    Blend v = ((1 - a) v^0.75 + a bg^0.75)^g, a ~ U(0.25, 0.55), g ~ U(0.6, 1.0); in 5 %
    of clips v = max(v, bg).
    """

    def _on(self) -> bool:
        return self.cfg.background

    def sample(self, x: torch.Tensor, generator: torch.Generator, epoch: float = math.inf) -> Draw:
        """The backgrounds (float32, in ``info["background"]``, zeros for inactive clips) and blend draws."""
        cfg, g = self.cfg, generator
        b, c, t, h, w = x.shape
        active = (_rand(g, b) < cfg.p_background) & self._on() & (b > 1)
        static = _rand(g, b) < cfg.p_static
        others = (torch.arange(b) + _randint(g, 1, max(b - 1, 1), 3, b)) % b               # never the clip itself
        frames = _randint(g, 0, t - 1, 2, b)
        area = _uniform(g, *cfg.background_crop_scale, b)
        ratio = torch.exp(_uniform(g, *(math.log(r) for r in cfg.background_crop_ratio), b))
        half = torch.stack([torch.sqrt(area * ratio), torch.sqrt(area / ratio)], -1).clamp(max=1.0)  # (B, 2)
        inner = torch.tensor([1 - 1 / w, 1 - 1 / h], dtype=F64)       # inside the outer pixel centres
        centre = (1 - half) * inner * _uniform(g, -1.0, 1.0, b, 2)
        panned = _rand(g, b) < cfg.p_background_pan
        offset, _ = _linear_motion(g, x.shape, cfg.ranged("speed", epoch), cfg.ranged("span", epoch))
        run = _randint(g, min(2, t), min(max(2, int(cfg.dynamic_run * t)), t), b)
        run_start = _randint(g, 0, t - run, b)
        steps = _randint(g, -1, 1, b, t)
        steps[:, 0] = 0
        walk = torch.minimum(steps.cumsum(1).clamp(min=0), (run - 1)[:, None]) + run_start[:, None]
        alpha = _uniform(g, *cfg.blend_alpha, b)
        gamma = _uniform(g, *cfg.blend_gamma, b)
        use_max = _rand(g, b) < cfg.p_max_blend

        crop = _affine(half[:, 0], half[:, 1], centre[:, 0], centre[:, 1])[:, None]
        pan, _ = _window(offset, h, w)
        m = torch.where(panned[:, None, None, None], crop @ pan, crop.expand(-1, t, -1, -1))
        bg = torch.zeros(b, c, t, h, w, device=x.device, dtype=torch.float32)
        dev = x.device
        idx = (active & static).nonzero()[:, 0]
        if idx.numel():
            j1, j2, f1, f2 = (a[idx].to(dev) for a in (others[0], others[1], frames[0], frames[1]))
            image = torch.maximum(x[j1, :, f1], x[j2, :, f2]).float()[:, :, None]    # (n, C, 1, H, W)
            bg[idx.to(dev)] = _resample(image, m[idx])
        idx = (active & ~static).nonzero()[:, 0]
        if idx.numel():
            src = others[2][idx].to(dev)
            bg[idx.to(dev)] = x[src[:, None], :, walk[idx].to(dev)].permute(0, 2, 1, 3, 4).float()
        info = dict(background=bg, static=static, panned=panned & static, alpha=alpha, gamma=gamma,
                    use_max=use_max, others=others, walk=walk)
        return Draw(m, active, info)

    def blend(self, fg: torch.Tensor, d: Draw) -> torch.Tensor:
        """``fg`` mixed with the drawn backgrounds (clips not active are returned as they are)."""
        idx = d.active.nonzero()[:, 0]
        if idx.numel() == 0:
            return fg
        dev = idx.to(fg.device)
        v, bg = fg[dev].float().clamp(0, 1), d.info["background"][dev].clamp(0, 1)
        shape = (-1, 1, 1, 1, 1)
        a = d.info["alpha"][idx].to(fg.device, torch.float32).view(shape)
        gm = d.info["gamma"][idx].to(fg.device, torch.float32).view(shape)
        p = self.cfg.blend_power
        mixed = ((1 - a) * v.pow(p) + a * bg.pow(p)).clamp_(0, 1).pow_(gm)
        mixed = torch.where(d.info["use_max"][idx].to(fg.device).view(shape), torch.maximum(v, bg), mixed)
        out = fg.clone()
        out[dev] = mixed.to(fg.dtype)
        return out

    def forward(self, x: torch.Tensor, generator: torch.Generator, epoch: float = math.inf) -> torch.Tensor:
        _check_batch(x, generator)
        return self.blend(x, self.sample(x, generator, epoch))


class RealVideoAugment(_Module):
    """The paper's real-video emulation, in its order: foreground (placement, clone,
    displacement) blended onto a background from the batch, then perspective and camera
    (pan, zoom, shake). ``forward(x, generator, epoch)`` -> same shape, dtype, device, in [0, 1].

    ``epoch`` is the curriculum progress (a float, e.g. step / steps_per_epoch; the default
    ``inf`` means full ranges). Works in float32 inside and returns the input's dtype.
    """

    def __init__(self, cfg: AugmentConfig | None = None):
        super().__init__(cfg)
        self.background = Background(self.cfg)
        self.placement = ForegroundPlacement(self.cfg)
        self.clone = Clone(self.cfg)
        self.displacement = Displacement(self.cfg)
        self.perspective = Perspective(self.cfg)
        self.pan = CameraPan(self.cfg)
        self.zoom = CameraZoom(self.cfg)
        self.shake = CameraShake(self.cfg)

    def forward(self, x: torch.Tensor, generator: torch.Generator, epoch: float = math.inf) -> torch.Tensor:
        _check_batch(x, generator)
        self.cfg.progress(epoch)  # validates epoch before any work
        shape = x.shape
        back = self.background.sample(x, generator, epoch)
        place, clone, move = (mod.sample(shape, generator, epoch) for mod in (self.placement, self.clone,
                                                                              self.displacement))
        v = self.background.blend(_foreground(x.float(), place, clone, move), back)
        cam = _compose([mod.sample(shape, generator, epoch) for mod in (self.perspective, self.pan, self.zoom,
                                                                         self.shake)])
        return _warp(v, cam.matrices, cam.active).clamp(0, 1).to(x.dtype)
