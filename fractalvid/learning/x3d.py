"""X3D (Feichtenhofer, CVPR 2020), the paper's other backbone beside TSM, written here on plain torch.

X3D expands a tiny 2D network along several axes at once; X3D-S and X3D-M share one network (about 3.8 M
parameters for 400 classes) and differ only in their input (X3D-S: 13 frames of 160 px, stride 6; X3D-M:
16 frames of 224 px, stride 5; :data:`INPUTS`). The network, as the paper's Table 1 and its reference
implementation build it:

- stem: a 3x3 spatial convolution (24 channels, stride 2), then a depthwise 5x1x1 temporal one, BN, ReLU;
- four stages of 3, 5, 11 and 7 bottleneck blocks with 24, 48, 96 and 192 output channels (each halves
  the frame; time keeps its length): 1x1x1 expansion by 2.25, BN, ReLU; a depthwise 3x3x3 convolution,
  BN, squeeze-excitation (every other block, 1/16 of the channels rounded to multiples of 8), Swish;
  1x1x1 projection, BN; a projected shortcut where the shape changes; ReLU after the sum;
- head: 1x1x1 convolution to 432 channels, BN, ReLU, global average pool, a 2048-wide linear layer and
  ReLU (the features), dropout and the classifier ``head``.

The interface is :class:`fractalvid.learning.models.TSM`'s: ``features(x)`` (B, 2048), ``forward(x)`` logits, a
``head`` that fine-tuning replaces, clips (B, 3, T, H, W) of any length.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

X3D_ARCHS = ("x3d_s", "x3d_m")
# the paper's inputs (frames, sampling stride, training crop); both archs are the same network
INPUTS = {"x3d_s": dict(frames=13, stride=6, size=160), "x3d_m": dict(frames=16, stride=5, size=224)}
STAGE_DEPTHS = (3, 5, 11, 7)
STAGE_WIDTHS = (24, 48, 96, 192)
EXPANSION = 2.25
SE_RATIO = 1 / 16
HEAD_WIDTH = 2048


def round_width(width: float, multiplier: float = 1.0, divisor: int = 8) -> int:
    """``width * multiplier`` rounded to a multiple of ``divisor`` (at least ``divisor``), never more than
    10 % below it: the channel rounding of the reference implementation."""
    width *= multiplier
    out = max(divisor, int(width + divisor / 2) // divisor * divisor)
    return int(out + divisor if out < 0.9 * width else out)


def _bn(channels: int, zero: bool = False) -> nn.BatchNorm3d:
    bn = nn.BatchNorm3d(channels, eps=1e-5, momentum=0.1)
    if zero:  # the last BN of a residual branch starts at 0: each block starts as the identity
        nn.init.zeros_(bn.weight)
    return bn


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduced: int):
        super().__init__()
        self.reduce = nn.Conv3d(channels, reduced, 1)
        self.expand = nn.Conv3d(reduced, channels, 1)

    def forward(self, x):
        s = x.mean((2, 3, 4), keepdim=True)
        return x * torch.sigmoid(self.expand(torch.relu(self.reduce(s))))


class Bottleneck(nn.Module):
    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, stride: int, se: bool):
        super().__init__()
        self.conv_a = nn.Sequential(nn.Conv3d(dim_in, dim_inner, 1, bias=False), _bn(dim_inner), nn.ReLU(inplace=True))
        self.conv_b = nn.Sequential(nn.Conv3d(dim_inner, dim_inner, 3, stride=(1, stride, stride), padding=1,
                                              groups=dim_inner, bias=False), _bn(dim_inner))
        self.se = SqueezeExcite(dim_inner, round_width(dim_inner, SE_RATIO)) if se else nn.Identity()
        self.act = nn.SiLU(inplace=True)   # Swish
        self.conv_c = nn.Sequential(nn.Conv3d(dim_inner, dim_out, 1, bias=False), _bn(dim_out, zero=True))
        self.shortcut = nn.Identity() if dim_in == dim_out and stride == 1 else nn.Sequential(
            nn.Conv3d(dim_in, dim_out, 1, stride=(1, stride, stride), bias=False), _bn(dim_out))

    def forward(self, x):
        y = self.conv_c(self.act(self.se(self.conv_b(self.conv_a(x)))))
        return torch.relu(y + self.shortcut(x))


class X3D(nn.Module):
    """X3D-S/M; build it with :func:`fractalvid.learning.models.build_model` (``arch`` "x3d_s" or "x3d_m").

    Attributes as :class:`fractalvid.learning.models.TSM`: ``arch``, ``frames`` (the paper's clip length, a
    default only), ``num_classes``, ``feat_dim`` (2048); modules ``trunk``, ``drop``, ``head``.
    """

    def __init__(self, arch: str, num_classes: int, dropout: float = 0.5):
        super().__init__()
        if arch not in X3D_ARCHS:
            raise ValueError(f"arch={arch!r} is not accepted here: expected one of {X3D_ARCHS}")
        self.arch, self.frames, self.feat_dim = arch, INPUTS[arch]["frames"], HEAD_WIDTH
        stem = STAGE_WIDTHS[0]
        layers = [nn.Conv3d(3, stem, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), bias=False),
                  nn.Conv3d(stem, stem, (5, 1, 1), padding=(2, 0, 0), groups=stem, bias=False),
                  _bn(stem), nn.ReLU(inplace=True)]
        dim_in = stem
        for depth, dim_out in zip(STAGE_DEPTHS, STAGE_WIDTHS):
            dim_inner = int(EXPANSION * dim_out)
            layers += [Bottleneck(dim_in if i == 0 else dim_out, dim_inner, dim_out, 2 if i == 0 else 1,
                                  se=i % 2 == 0) for i in range(depth)]
            dim_in = dim_out
        last = int(EXPANSION * dim_in)
        layers += [nn.Conv3d(dim_in, last, 1, bias=False), _bn(last), nn.ReLU(inplace=True),
                   nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(last, HEAD_WIDTH, bias=False),
                   nn.ReLU(inplace=True)]
        self.trunk = nn.Sequential(*layers)
        for m in self.trunk.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        self.drop = nn.Dropout(float(dropout))
        self.reset_head(num_classes)

    def reset_head(self, num_classes: int) -> None:
        """A fresh classifier for ``num_classes`` classes (small weights: near-uniform first logits)."""
        old = getattr(self, "head", None)
        kw = {} if old is None else dict(device=old.weight.device, dtype=old.weight.dtype)
        self.head = nn.Linear(self.feat_dim, int(num_classes), **kw)
        nn.init.normal_(self.head.weight, 0.0, 0.01)
        nn.init.zeros_(self.head.bias)
        self.num_classes = int(num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 2048-wide clip features before dropout and head: (B, 2048)."""
        if not isinstance(x, torch.Tensor) or x.dim() != 5 or x.shape[1] != 3 or not x.is_floating_point():
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{self.arch} expects a float clip of shape (B, 3, T, H, W), got {got}")
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.features(x)))


def multiply_adds(model: nn.Module, frames: int, size: int) -> float:
    """Multiply-adds of one clip (1, 3, frames, size, size) through ``model``, counted by torch's FLOP
    counter on the meta device (no compute): FLOPs / 2, the unit of the X3D paper's "GFLOPs"."""
    from torch.utils.flop_counter import FlopCounterMode   # only when counting

    meta = copy.deepcopy(model).to("meta").eval()
    with FlopCounterMode(display=False) as counter:
        meta(torch.empty(1, 3, frames, size, size, device="meta"))
    return counter.get_total_flops() / 2


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
