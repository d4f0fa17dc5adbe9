"""Input transforms, in one place (the shape of torchvision's references/video_classification/presets.py).

The sizes (the paper's recipe, at any scale): a network trained at ``size`` px sees crops of clips whose
short side is ``load_size(size) = round(size * 256 / 224)`` (112 from 128, 224 from 256):

- training: clips are loaded as ``load_size`` squares (:func:`resize_center_crop`), then
  :class:`StandardAugment` takes a random resized crop of ``size``, flips, RandAugment, blur;
- validation: the short side resized to ``load_size``, the centre ``size`` crop (:func:`eval_transform`);
- both end with :func:`normalise`: ImageNet mean and std, grey clips repeated to 3 channels.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check as _check, is_number

IMAGENET_MEAN = (0.485, 0.456, 0.406)
LUMA_WEIGHTS = (0.299, 0.587, 0.114)   # ITU-R BT.601: Y = 0.299 R + 0.587 G + 0.114 B
IMAGENET_STD = (0.229, 0.224, 0.225)
RESIZE_RATIO = 256 / 224   # load size / crop size


def load_size(size: int) -> int:
    """The short side clips are loaded at for crops of ``size`` px."""
    return round(size * RESIZE_RATIO)



def resize_short_side(x: torch.Tensor, short_side: int) -> torch.Tensor:
    """Resize (..., H, W) so the short side is ``short_side`` (bilinear, antialiased), aspect kept; uint8 stays
    uint8 (rounded); a size that already matches is not resampled."""
    h, w = x.shape[-2:]
    if min(h, w) == short_side:
        return x
    nh, nw = (short_side, round(w * short_side / h)) if h <= w else (round(h * short_side / w), short_side)
    y = F.interpolate(x.reshape(-1, 1, h, w).float(), size=(nh, nw), mode="bilinear", antialias=True,
                      align_corners=False)
    if x.dtype == torch.uint8:
        y = y.round_().clamp_(0, 255).to(torch.uint8)
    return y.reshape(*x.shape[:-2], nh, nw).to(x.dtype)


def resize_center_crop(x: torch.Tensor, short_side: int, crop: int) -> torch.Tensor:
    """Resize so the short side is ``short_side`` (bilinear, antialiased), then take the centre ``crop`` x ``crop``.

    ``x`` is any tensor (..., H, W), uint8 (rounded back to uint8) or float;
    leading dimensions (clips, channels, time, batch) are kept. Sizes that
    already match are not resampled.
    """
    if crop > short_side:
        raise ValueError(f"crop={crop} is not accepted: expected crop <= short_side={short_side}")
    x = resize_short_side(x, short_side)
    h, w = x.shape[-2:]
    top, left = (h - crop) // 2, (w - crop) // 2
    return x[..., top: top + crop, left: left + crop]


def eval_transform(x: torch.Tensor, size: int = 112) -> torch.Tensor:
    """The validation view: short side resized to ``load_size(size)``, then the centre ``size`` x ``size``.

    Works on items (C, T, H, W), multi-clip items (N, C, T, H, W) or batches.
    """
    return resize_center_crop(x, load_size(size), size)


def eval_views(x: torch.Tensor, size: int = 112, crops: int = 1) -> torch.Tensor:
    """The validation views of clips (N, C, T, H, W): ``crops`` = 1 is :func:`eval_transform` (one centre
    crop, N views); ``crops`` = 3 is the usual multi-view protocol (with 10 clips, "10 x 3"): the short side
    resized to ``size`` and ``crops`` crops of ``size`` evenly spaced along the long side, so together they
    cover the frame (N * crops views, clip by clip)."""
    _check(isinstance(crops, int) and not isinstance(crops, bool) and crops >= 1, "crops", crops,
           "an integer >= 1 (1: the centre crop; 3: three crops along the long side)")
    if crops == 1:
        return eval_transform(x, size)
    x = resize_short_side(x, size)
    h, w = x.shape[-2:]
    starts = [round(k * (max(h, w) - size) / (crops - 1)) for k in range(crops)]
    views = [x[..., :, s: s + size] if w >= h else x[..., s: s + size, :] for s in starts]
    return torch.stack(views, 1).flatten(0, 1)   # (N * crops, C, T, size, size), the crops of a clip together


def luminance(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) -> (B, 1, T, H, W): colour clips (C = 3) as their luma (ITU-R BT.601 weights); grey
    clips (C = 1) are returned as they are. The fractal pre-training clips are grey: ``TrainConfig.grey``
    shows a network real clips without their colour, as a diagnostic of what colour adds."""
    if x.shape[1] == 1:
        return x
    weights = torch.tensor(LUMA_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def normalise(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) in [0, 1], C = 1 or 3 -> ImageNet-normalised, 3 channels."""
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1, 1)
    return (x.expand(-1, 3, -1, -1, -1) - mean) / std


class StandardAugment(nn.Module):
    """Standard augmentation from torchvision.transforms.v2, the same parameters for all
    frames of a clip; grey clips become 3 channels; output (B, 3, T, size, size), float
    (the input's float dtype; float32 for uint8 input), ImageNet-normalised if ``normalise``.

    train=True: random resized crop (area ``crop_scale``: 0.9-1 in pre-training, 0.2-1 in
    fine-tuning; aspect ``ratio``), horizontal flip, RandAugment (``num_ops`` ops of
    ``magnitude``), 3x3 Gaussian blur with probability ``blur_p``. v2 draws from torch's
    global generator, so each clip runs under ``torch.random.fork_rng`` seeded with a number
    drawn from the explicit generator: seeded batches are reproducible and the global
    state is left alone. train=False (the validation transform): resize the short side
    to load_size(size), centre crop ``size``; no randomness (``generator`` may be None).
    Input: float (B, C, T, H, W) in [0, 1] or uint8, C in (1, 3).
    """

    def __init__(self, train: bool = True, size: int = 112, crop_scale: tuple = (0.9, 1.0),
                 ratio: tuple = (3 / 4, 4 / 3), flip: bool = True, randaugment: bool = True, magnitude: int = 7,
                 num_ops: int = 2, blur_p: float = 0.5, normalise: bool = True):
        super().__init__()
        from torchvision.transforms import v2   # torchvision loads where used: about 1 s

        _check(isinstance(train, bool), "train", train, "True or False")
        _check(isinstance(size, int) and not isinstance(size, bool) and 8 <= size <= 4096, "size", size,
               "an integer in [8, 4096]")
        crop_scale, ratio = tuple(crop_scale), tuple(ratio)
        _check(len(crop_scale) == 2 and all(is_number(v) for v in crop_scale) and 0 < crop_scale[0] <= crop_scale[1] <= 1,
               "crop_scale", crop_scale, "two area fractions (low, high) with 0 < low <= high <= 1")
        _check(len(ratio) == 2 and all(is_number(v) for v in ratio) and 0 < ratio[0] <= ratio[1],
               "ratio", ratio, "two aspect ratios (low, high) with 0 < low <= high")
        for name, v in (("flip", flip), ("randaugment", randaugment), ("normalise", normalise)):
            _check(isinstance(v, bool), name, v, "True or False")
        _check(isinstance(magnitude, int) and 0 <= magnitude <= 30, "magnitude", magnitude, "an integer in [0, 30]")
        _check(isinstance(num_ops, int) and 0 <= num_ops <= 14, "num_ops", num_ops, "an integer in [0, 14]")
        _check(is_number(blur_p) and 0 <= blur_p <= 1, "blur_p", blur_p, "a probability in [0, 1]")
        self.train_mode, self.size, self.normalise = train, size, normalise
        self.settings = dict(train=train, size=size, crop_scale=crop_scale, ratio=ratio, flip=flip,
                             randaugment=randaugment, magnitude=magnitude, num_ops=num_ops, blur_p=blur_p,
                             normalise=normalise)
        if train:
            ops = [v2.RandomResizedCrop(size, scale=crop_scale, ratio=ratio, antialias=True)]
            if flip:
                ops.append(v2.RandomHorizontalFlip())
            if randaugment and num_ops > 0:
                ops.append(v2.RandAugment(num_ops=num_ops, magnitude=magnitude))
            if blur_p > 0:
                ops.append(v2.RandomApply([v2.GaussianBlur(kernel_size=3)], p=blur_p))
        else:
            ops = [v2.Resize(load_size(size), antialias=True), v2.CenterCrop(size)]
        self.transform = v2.Compose(ops)
        # without RandAugment, the same crops, flips and blurs as v2's per-clip calls come from _crop_flip_blur,
        # which draws them in v2's order from one generator per clip and blurs the whole batch at once
        self.batched = train and not (randaugment and num_ops > 0)
        self.crop_scale, self.log_ratio, self.flip, self.blur_p = crop_scale, torch.log(torch.tensor(ratio)), flip, blur_p
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1, 1), persistent=False)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.settings.items())

    def _crop_box(self, g: torch.Generator, height: int, width: int) -> tuple[int, int, int, int]:
        """v2.RandomResizedCrop's box (top, left, h, w), its draws in its order, from ``g``."""
        area, (lo, hi), log_ratio = height * width, self.crop_scale, self.log_ratio
        for _ in range(10):
            target_area = area * torch.empty(1).uniform_(lo, hi, generator=g).item()
            aspect = torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1], generator=g)).item()
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = torch.randint(0, height - h + 1, size=(1,), generator=g).item()
                left = torch.randint(0, width - w + 1, size=(1,), generator=g).item()
                return top, left, h, w
        in_ratio, (r_lo, r_hi) = width / height, self.settings["ratio"]   # v2's fallback: a central crop
        if in_ratio < r_lo:
            w, h = width, int(round(width / r_lo))
        elif in_ratio > r_hi:
            w, h = int(round(height * r_hi)), height
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def _crop_flip_blur(self, v: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        """The train transform without RandAugment on float clips (B, C, T, H, W): (B, T, C, size, size).

        Clip i's crop, flip and blur are drawn as v2's RandomResizedCrop, RandomHorizontalFlip and
        RandomApply(GaussianBlur(3)) draw them from the global generator seeded with ``seeds[i]``, so the
        output equals the per-clip v2 path's (a test checks it); each clip is resized alone (the boxes
        differ), flips and blurs are applied to the batch at once.
        """
        b, c, t, height, width = v.shape
        s, clips, flips, sigmas = self.size, [], [], []
        for i in range(b):
            g = torch.Generator().manual_seed(seeds[i])
            top, left, h, w = self._crop_box(g, height, width)
            clip = v[i, :, :, top:top + h, left:left + w].transpose(0, 1)       # (T, C, h, w)
            if (h, w) != (s, s):
                clip = F.interpolate(clip.reshape(t, c, h, w), size=[s, s], mode="bilinear", align_corners=False,
                                     antialias=True)
            clips.append(clip)
            flips.append(self.flip and torch.rand(1, generator=g).item() < 0.5)
            blur = self.blur_p > 0 and torch.rand(1, generator=g).item() < self.blur_p
            sigmas.append(torch.empty(1).uniform_(0.1, 2.0, generator=g).item() if blur else None)
        out = torch.stack(clips)                                                # (B, T, C, S, S)
        flipped = [i for i, f in enumerate(flips) if f]
        if flipped:
            out[flipped] = out[flipped].flip(-1)
        blurred = [i for i, sigma in enumerate(sigmas) if sigma is not None]
        if blurred:   # one depthwise 3x3 convolution over every blurred frame, each clip's own kernel
            lim = 1 / math.sqrt(2.0)   # v2's kernel: softmax(-(x / sigma)^2) on linspace(-lim, lim, 3)
            x = torch.linspace(-lim, lim, steps=3, dtype=out.dtype)
            k1 = torch.softmax(x.div(torch.tensor([sigmas[i] for i in blurred], dtype=out.dtype)[:, None])
                               .pow(2).neg(), dim=1)                            # (nb, 3)
            kernels = (k1[:, :, None] * k1[:, None, :]).repeat_interleave(t * c, dim=0)[:, None]
            frames = F.pad(out[blurred].reshape(1, -1, s, s), [1, 1, 1, 1], mode="reflect")
            out[blurred] = F.conv2d(frames, kernels, groups=len(blurred) * t * c).reshape(len(blurred), t, c, s, s)
        return out

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None,
                epoch: float = math.inf, recolour=None) -> torch.Tensor:
        """``recolour``: None, or a function of the cropped clips (B, C, T, size, size) in [0, 1] returning
        (B, 1 or 3, T, size, size), applied before normalisation. A per-clip affine colour map (augment.tint)
        commutes with crop, resize, flip and blur, whose weights sum to 1: applied here, it gives what it would
        on the uncropped clips while those work on one channel instead of three (a training step about 4 %
        faster on 2 cores: benchmarks/results/selection.md)."""
        from torchvision import tv_tensors   # as above

        if not isinstance(x, torch.Tensor) or x.dim() != 5 or x.shape[1] not in (1, 3) or 0 in x.shape:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x of shape {got} is not accepted: expected (B, C, T, H, W) with C = 1 or 3")
        if not (x.is_floating_point() or x.dtype == torch.uint8):
            raise ValueError(f"x of dtype {x.dtype} is not accepted: expected float in [0, 1] or uint8")
        b, c, t, h, w = x.shape
        v = x.float() / 255 if x.dtype == torch.uint8 else x.float()
        if self.train_mode:
            if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
                raise ValueError(f"generator={generator!r} is not accepted: training augmentation needs a "
                                 "torch.Generator on the CPU")
            seeds = torch.randint(0, 2**62, (b,), generator=generator).tolist()
            if self.batched:
                out = self._crop_flip_blur(v, seeds)                             # (B, T, C, S, S)
            else:
                clips = []
                for i in range(b):   # v2 draws one set of parameters per call: one call per clip
                    with torch.random.fork_rng(devices=[]):
                        # the CPU generator only: torch.manual_seed would also (lazily) reseed CUDA
                        torch.default_generator.manual_seed(seeds[i])
                        clips.append(self.transform(tv_tensors.Video(v[i].transpose(0, 1))).as_subclass(torch.Tensor))
                out = torch.stack(clips)                                        # (B, T, C, S, S)
        else:
            out = self.transform(v.transpose(1, 2).reshape(b * t, c, h, w)).reshape(b, t, c, self.size, self.size)
        out = out.clamp(0, 1).transpose(1, 2)
        if recolour is not None:
            out = recolour(out)
        dtype = x.dtype if x.is_floating_point() else torch.float32
        if not self.normalise:
            return out.expand(-1, 3, -1, -1, -1).contiguous().to(dtype)   # grey -> 3 equal channels
        # (v - mean) / std in one pass that also broadcasts grey to 3 channels
        scale, shift = 1 / self.std.to(out.device), -self.mean.to(out.device) / self.std.to(out.device)
        return torch.addcmul(shift, out, scale).to(dtype)
