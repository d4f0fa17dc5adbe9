"""Action-recognition networks: TSM (Temporal Shift Module, Lin et al. 2019) on 2D trunks.

A clip ``x`` of shape (B, C=3, T, H, W), float and normalised (ImageNet mean/std on
[0, 1] RGB), is folded into a batch of B*T frames for a torchvision 2D trunk. Inside
the trunk, each residual block shifts part of its channels along time on the
residual branch, just before the branch's first convolution (TSM's "blockres"
placement): with ``shift_div = 8``, channels [0, C/8) of frame t take the values of
frame t+1 (shifted one frame back in time), channels [C/8, 2C/8) take those of frame
t-1 (one frame forward), zeros enter at the clip ends, the other channels stay.
The identity path is not shifted, so each frame keeps its own spatial features.
After the trunk: global average pool, dropout, a linear head per frame, and the mean
over the T frames (average consensus) gives the logits (B, num_classes).

Trunks (``ARCHS``): ``tsm_r18`` and ``tsm_r50`` (torchvision ResNet-18/50, shift in
every block), ``tsm_r18_w32`` and ``tsm_r18_w16`` (ResNet-18 at half and a quarter of
its width, about 1/4 and 1/16 of its compute, for CPUs), ``tsm_mnv2`` (torchvision MobileNetV2, shift in the inverted-residual
blocks that have a residual connection, as TSM does). All start from random weights.

The shift needs T at run time: ``TSM.forward`` reads it from the input and hands it
to the shift modules, so one model accepts any number of frames (``frames`` is only
the documented default). The shifted convolution is wrapped as ``.net`` so parameter
names follow the public TSM code; ``load_tsm_kinetics`` loads its Kinetics-400
ResNet-50 checkpoint, ``trunk_state_dict``/``load_trunk`` move a pre-trained trunk
(everything but the head) to a model with a new head.

X3D-S and X3D-M (``x3d_s``, ``x3d_m``), the paper's other backbone, are in
:mod:`fractalvid.learning.x3d` (written here: torchvision has none); :func:`build_model` builds them too,
with the same interface (``features``, ``head``, ``feat_dim``), so they train, fine-tune,
checkpoint and resume as the TSM networks do.
"""
from __future__ import annotations

import functools
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models.mobilenetv2 import InvertedResidual

from .x3d import X3D, X3D_ARCHS

# narrow ResNet-18s for CPUs: stage widths (w, 2w, 4w, 8w) instead of (64, 128, 256, 512), so about
# (w / 64)^2 of ResNet-18's multiply-adds: at 2 cores a network 16x cheaper sees many more clips
NARROW_WIDTHS = {"tsm_r18_w32": 32, "tsm_r18_w16": 16}
TSM_ARCHS = ("tsm_r18", "tsm_r50", "tsm_mnv2", *NARROW_WIDTHS)
ARCHS = (*TSM_ARCHS, *X3D_ARCHS)
KINETICS_CLASSES = 400


# -----------------------------------------------------------------------------
# the temporal shift

def temporal_shift(x: torch.Tensor, frames: int, shift_div: int = 8) -> torch.Tensor:
    """Shift channels of a batch of frames (N = B*frames, C, H, W) along time.

    Channels [0, C//shift_div) of frame t receive frame t+1 (zeros at the last frame),
    channels [C//shift_div, 2*C//shift_div) receive frame t-1 (zeros at the first),
    the rest are copied. Frames of one clip must be consecutive along N (clip-major).
    Returns a new tensor of x's shape, dtype and memory layout; differentiable.
    """
    if x.dim() != 4:
        raise ValueError(f"temporal_shift expects x of shape (B*T, C, H, W), got shape {tuple(x.shape)}")
    n, c = x.shape[:2]
    if frames < 1 or n % frames:
        raise ValueError(f"frames={frames} does not divide the batch of {n} frames: expected B*T frames")
    fold = c // shift_div
    if fold == 0:
        return x
    v = x.reshape(n // frames, frames, *x.shape[1:])
    # Write every element of out exactly once: five slice copies, no zero-fill pass.
    out = torch.empty_like(v)
    out[:, :-1, :fold] = v[:, 1:, :fold]
    out[:, -1, :fold] = 0
    out[:, 1:, fold:2 * fold] = v[:, :-1, fold:2 * fold]
    out[:, 0, fold:2 * fold] = 0
    out[:, :, 2 * fold:] = v[:, :, 2 * fold:]
    return out.view(x.shape)


class TemporalShift(nn.Module):
    """Shift the input along time, then run ``net`` (the residual branch's first layer).

    ``frames`` is set by the owning TSM before each forward pass.
    """

    def __init__(self, net: nn.Module, frames: int, shift_div: int):
        super().__init__()
        self.net = net
        self.frames = frames
        self.shift_div = shift_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(temporal_shift(x, self.frames, self.shift_div))

    def extra_repr(self) -> str:
        return f"shift_div={self.shift_div}"


# -----------------------------------------------------------------------------
# the model

def narrow_resnet18(width: int) -> torchvision.models.ResNet:
    """torchvision's ResNet-18 with stage widths (width, 2, 4, 8 x width), initialised as torchvision does
    (Kaiming-normal convolutions, BatchNorm weight 1 and bias 0). ``width=64`` is ResNet-18 itself."""
    from torchvision.models.resnet import BasicBlock   # torchvision loads where used: about 1 s

    net = torchvision.models.ResNet(BasicBlock, [2, 2, 2, 2])
    net.inplanes = width
    net.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = nn.BatchNorm2d(width)
    net.layer1 = net._make_layer(BasicBlock, width, 2)
    for i, stage in enumerate(("layer2", "layer3", "layer4"), start=1):
        setattr(net, stage, net._make_layer(BasicBlock, width * 2 ** i, 2, stride=2))
    net.fc = nn.Linear(width * 8, 1000)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def _make_trunk(arch: str, frames: int, shift_div: int) -> tuple[nn.Module, int]:
    """A torchvision trunk whose forward gives pooled per-frame features, and their size."""
    if arch in ("tsm_r18", "tsm_r50", *NARROW_WIDTHS):
        if arch in NARROW_WIDTHS:
            trunk = narrow_resnet18(NARROW_WIDTHS[arch])
        else:
            trunk = (torchvision.models.resnet18 if arch == "tsm_r18" else torchvision.models.resnet50)(weights=None)
        feat_dim = trunk.fc.in_features
        trunk.fc = nn.Identity()
        if shift_div:
            for stage in (trunk.layer1, trunk.layer2, trunk.layer3, trunk.layer4):
                for block in stage:
                    block.conv1 = TemporalShift(block.conv1, frames, shift_div)
    else:  # tsm_mnv2
        trunk = torchvision.models.mobilenet_v2(weights=None)
        feat_dim = trunk.last_channel
        trunk.classifier = nn.Identity()   # its forward still pools and flattens
        if shift_div:
            for block in trunk.features:
                if isinstance(block, InvertedResidual) and block.use_res_connect:
                    block.conv[0] = TemporalShift(block.conv[0], frames, shift_div)
    return trunk, feat_dim


def _check_int(name: str, value, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lo:
        raise ValueError(f"{name}={value!r} is not accepted: expected an int >= {lo}")


class TSM(nn.Module):
    """TSM network; build it with :func:`build_model`.

    Attributes: ``arch``, ``frames`` (default clip length, not enforced), ``num_classes``,
    ``feat_dim``, ``shift_div``; modules ``trunk`` (torchvision, head removed),
    ``drop`` (dropout) and ``head`` (linear).
    """

    def __init__(self, arch: str, num_classes: int, frames: int = 8, dropout: float = 0.8, shift_div: int = 8):
        super().__init__()
        if arch not in TSM_ARCHS:
            raise ValueError(f"arch={arch!r} is not accepted: expected one of {ARCHS}")
        _check_int("num_classes", num_classes, 1)
        _check_int("frames", frames, 1)
        if isinstance(shift_div, bool) or not isinstance(shift_div, numbers.Integral) or shift_div == 1 or shift_div < 0:
            raise ValueError(f"shift_div={shift_div!r} is not accepted: expected an int >= 2 "
                             "(or 0 for no shift, a TSN baseline)")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
            raise ValueError(f"dropout={dropout!r} is not accepted: expected a probability in [0, 1)")
        self.arch, self.frames, self.shift_div = arch, int(frames), int(shift_div)
        self.trunk, self.feat_dim = _make_trunk(arch, self.frames, self.shift_div)
        self.drop = nn.Dropout(float(dropout))
        self.reset_head(num_classes)

    def reset_head(self, num_classes: int) -> None:
        """Replace the head by a fresh one for ``num_classes`` classes (on the old head's device/dtype)."""
        _check_int("num_classes", num_classes, 1)
        old = getattr(self, "head", None)
        kw = {} if old is None else dict(device=old.weight.device, dtype=old.weight.dtype)
        self.head = nn.Linear(self.feat_dim, int(num_classes), **kw)
        # TSM's initialisation of a new head: tiny weights, so early logits are near uniform.
        nn.init.normal_(self.head.weight, 0.0, 0.001)
        nn.init.zeros_(self.head.bias)
        self.num_classes = int(num_classes)

    def _check_input(self, x) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 5 or x.shape[1] != 3 or 0 in x.shape:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{self.arch} expects x of shape (B, 3, T, H, W) (clips, RGB channels, frames, "
                             f"height, width; all > 0), got {got}")
        if not x.is_floating_point():
            raise ValueError(f"{self.arch} expects a float clip, normalised (e.g. clip.float() / 255 then "
                             f"ImageNet mean/std), got dtype {x.dtype}")

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled trunk features of every frame: (B, T, feat_dim)."""
        self._check_input(x)
        b, c, t, h, w = x.shape
        for m in self.trunk.modules():
            if isinstance(m, TemporalShift):
                m.frames = t
        # clip-major batch of frames: frame t of clip b is row b*T + t, as temporal_shift expects
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)
        return self.trunk(frames).view(b, t, self.feat_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features averaged over frames, before dropout and head: (B, feat_dim)."""
        return self.frame_features(x).mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes): head on every frame (after dropout), mean over frames."""
        return self.head(self.drop(self.frame_features(x))).mean(dim=1)


def build_model(arch: str, num_classes: int, frames: int = 8, dropout: float = 0.8,
                shift_div: int = 8) -> TSM | X3D:
    """A network with random weights: TSM (``shift_div=0`` disables the shift) or X3D (which needs no
    ``frames``: its 3D convolutions take any clip length). ``arch`` in ``ARCHS``."""
    if arch in X3D_ARCHS:
        _check_int("num_classes", num_classes, 1)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
            raise ValueError(f"dropout={dropout!r} is not accepted: expected a probability in [0, 1)")
        return X3D(arch, int(num_classes), dropout=float(dropout))
    return TSM(arch, num_classes, frames=frames, dropout=dropout, shift_div=shift_div)


@functools.cache
def trunk_stages(arch: str) -> tuple[str, ...]:
    """Names of the trunk's top-level modules that hold weights, in order: conv1, bn1, layer1 ... layer4 of a
    TSM-ResNet, 0, 1, ... of X3D; where one module holds them all (features of TSM-MobileNetV2), its members
    (features.0 ... features.18). Built on the meta device: no memory, no time."""
    with torch.device("meta"):
        module = build_model(arch, 1).trunk
    prefix = ""
    while True:
        named = [(name, m) for name, m in module.named_children() if any(True for _ in m.parameters())]
        if len(named) != 1:
            return tuple(prefix + name for name, _ in named)
        prefix, module = prefix + named[0][0] + ".", named[0][1]


def keep_stages(model: TSM | X3D, stages) -> dict[str, torch.Tensor]:
    """Copies of the weights and buffers of the trunk ``stages`` (names from :func:`trunk_stages`), to be put back
    with ``model.load_state_dict(kept, strict=False)`` after a pre-trained trunk is loaded over them."""
    prefixes = tuple(f"trunk.{stage}." for stage in stages)
    return {k: v.clone() for k, v in trunk_state_dict(model).items() if prefixes and k.startswith(prefixes)}


# -----------------------------------------------------------------------------
# checkpoints

@dataclass
class LoadReport:
    """What a load did: model keys loaded, model keys left as they were (missing from the
    checkpoint), checkpoint keys that fit nothing (unexpected), checkpoint keys deliberately
    not loaded (skipped, e.g. a head for other classes). Checkpoint keys are named
    without their "module." prefix."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def head_loaded(self) -> bool:
        return "head.weight" in self.loaded

    def __str__(self) -> str:
        return (f"loaded {len(self.loaded)} tensors (head {'loaded' if self.head_loaded else 'kept'}), "
                f"{len(self.missing)} missing, {len(self.unexpected)} unexpected, {len(self.skipped)} skipped")


def _is_head(key: str) -> bool:
    return key.startswith("head.")


def _some(keys, n: int = 5) -> str:
    keys = sorted(keys)
    more = f" ... and {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def trunk_state_dict(model: TSM) -> dict[str, torch.Tensor]:
    """The model's state dict without the head (keys as in ``model.state_dict()``)."""
    return {k: v for k, v in model.state_dict().items() if not _is_head(k)}


def _unpack(checkpoint) -> tuple[Mapping, str | None]:
    """(state dict, arch or None) of a state dict or a checkpoint dict {"state_dict", "arch"}."""
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f"expected a state dict or a checkpoint dict, got {type(checkpoint).__name__}")
    arch = checkpoint.get("arch") if isinstance(checkpoint.get("arch"), str) else None
    sd = checkpoint["state_dict"] if isinstance(checkpoint.get("state_dict"), Mapping) else checkpoint
    bad = [k for k, v in sd.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"expected a state dict of named tensors; entries that are not: {_some(map(str, bad))}")
    # DataParallel / DistributedDataParallel prefix their keys with "module."
    return {k.removeprefix("module."): v for k, v in sd.items()}, arch


def load_trunk(model: TSM, state_dict, strict_trunk: bool = True) -> LoadReport:
    """Load everything but the head from a state dict (or checkpoint dict with "state_dict"
    and optionally "arch") into ``model``; the head is never touched.

    Raises ValueError, naming the checkpoint's arch (when saved) and the model's, when the
    checkpoint was made for another architecture: a saved arch that differs, a tensor of
    another shape, no matching key, or (with ``strict_trunk``) trunk keys missing from or
    unknown to the model. BatchNorm ``num_batches_tracked`` counters may be missing.
    """
    sd, ckpt_arch = _unpack(state_dict)
    ckpt_name = f"arch={ckpt_arch!r}" if ckpt_arch else "arch not saved"
    where = f"checkpoint ({ckpt_name}) does not fit the model (arch={model.arch!r})"
    if ckpt_arch in ARCHS and ckpt_arch != model.arch:
        raise ValueError(f"{where}: it was saved for another architecture")
    ours = trunk_state_dict(model)
    given = {k: v for k, v in sd.items() if not _is_head(k)}
    report = LoadReport(skipped=sorted(k for k in sd if _is_head(k)))
    report.missing = sorted(set(ours) - set(given))
    report.unexpected = sorted(set(given) - set(ours))
    matched = sorted(set(ours) & set(given))
    if not matched:
        raise ValueError(f"{where}: none of its {len(given)} trunk keys is a key of the model "
                         f"(checkpoint keys: {_some(given)}; model keys: {_some(ours)})")
    wrong = [k for k in matched if given[k].shape != ours[k].shape]
    if wrong:
        k = wrong[0]
        raise ValueError(f"{where}: {len(wrong)} tensors differ in shape, e.g. {k} is "
                         f"{tuple(given[k].shape)} in the checkpoint, {tuple(ours[k].shape)} in the model")
    if strict_trunk:
        missing = [k for k in report.missing if not k.endswith("num_batches_tracked")]
        if missing or report.unexpected:
            raise ValueError(f"{where}: missing from the checkpoint: {_some(missing) or 'none'}; "
                             f"unknown to the model: {_some(report.unexpected) or 'none'} "
                             "(strict_trunk=False loads the keys that match)")
    model.load_state_dict({k: given[k] for k in matched}, strict=False)
    report.loaded = matched
    return report


def load_tsm_kinetics(model: TSM, path) -> LoadReport:
    """Load the public TSM Kinetics-400 ResNet-50 checkpoint (mit-han-lab/temporal-shift-module,
    e.g. TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e50.pth) into a ``tsm_r50``.

    Its keys "module.base_model.<torchvision name>" (the shifted conv wrapped as ".net",
    as in our model) map onto ``trunk.<name>``; "module.new_fc.*" is the 400-class head:
    loaded as our head when ``model.num_classes == 400``, otherwise our head is kept and
    the checkpoint's reported as skipped. Checkpoints without ".net" (plain TSN) load too.
    The checkpoint was trained with shift_div=8, ImageNet-normalised RGB, 8 frames.
    """
    if not isinstance(model, TSM) or model.arch != "tsm_r50":
        got = model.arch if isinstance(model, TSM) else type(model).__name__
        raise ValueError(f"the TSM Kinetics-400 checkpoint is a ResNet-50: it loads into arch='tsm_r50' only, "
                         f"got {got!r}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"TSM Kinetics checkpoint not found: {path}")
    try:
        # weights_only: the file holds tensors, numbers and strings only; never run pickled code
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path} is not a loadable TSM checkpoint (torch.load with weights_only=True "
                         f"failed: {e})") from e
    sd, ckpt_arch = _unpack(checkpoint)
    ours = set(trunk_state_dict(model))
    without_net = {k.replace(".net.", "."): k for k in ours}
    trunk, head, head_keys, other = {}, {}, [], []
    for key, value in sd.items():
        if key.startswith(("new_fc.", "base_model.fc.")):   # dropout 0 kept TSM's head inside base_model
            head[key.rsplit(".", 1)[1]] = value
            head_keys.append(key)
        elif key.startswith("base_model."):
            name = "trunk." + key.removeprefix("base_model.")
            trunk[name if name in ours else without_net.get(name, name)] = value
        else:
            other.append(key)
    label = f"TSM {ckpt_arch}" if ckpt_arch else None
    if other:
        raise ValueError(f"{path} ({label or 'arch not saved'}) is not in the TSM checkpoint format "
                         f"(keys 'module.base_model.*', 'module.new_fc.*'); other keys: {_some(other)}")
    load_head = model.num_classes == KINETICS_CLASSES
    if load_head:   # checked before anything is loaded, so a failure leaves the model as it was
        w, b = head.get("weight"), head.get("bias")
        if w is None or b is None or w.shape != model.head.weight.shape or b.shape != model.head.bias.shape:
            shapes = {k: tuple(v.shape) for k, v in head.items()}
            raise ValueError(f"{path}: model has {KINETICS_CLASSES} classes so the checkpoint's head should "
                             f"load, but its head is {shapes or 'absent'}; expected weight "
                             f"{tuple(model.head.weight.shape)} and bias {tuple(model.head.bias.shape)}")
    report = load_trunk(model, {"arch": label, "state_dict": trunk}, strict_trunk=True)
    if load_head:
        model.head.load_state_dict({"weight": head["weight"], "bias": head["bias"]})
        report.loaded += ["head.bias", "head.weight"]
        report.skipped = []
    else:
        report.skipped = sorted(head_keys)
    return report


def load_checkpoint(path: str | os.PathLike) -> dict:
    """torch.load with a clear error for a missing or corrupt file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # a truncated or overwritten file raises many kinds of errors
        raise ValueError(f"checkpoint {path} is corrupt and was not loaded ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or "encoder" not in state or "arch" not in state:
        raise ValueError(f"checkpoint {path} is not a fractalvid checkpoint (expected keys 'arch' and 'encoder')")
    return state
