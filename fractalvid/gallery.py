"""Pictures of what the generator and the augmentations do: a contact sheet and an animation each.

``gallery(out)`` writes::

    out/families/<family>.png   rows: a few clips of the family, columns: every other frame (labelled)
    out/families/<family>.gif   the same clips side by side, animated
    out/augment/<effect>.png    rows: the same fractal clips with one effect applied alone
    out/augment/<effect>.gif    ("none" is the input, "all" the full real-video emulation,
                                "standard" the standard augmentation after it)

Each effect is shown with its probability set to 1 and the curriculum at its
end, so every row shows it; everything else is switched off.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .atomic import replacing
from .clips.generate import FAMILIES, DatasetSpec, make_clip
from .learning.augment import (AugmentConfig, Background, CameraPan, CameraShake, CameraZoom, Clone, Displacement,
                               ForegroundPlacement, Perspective, RealVideoAugment)
from .learning.presets import StandardAugment

OFF = dict(background=False, placement=False, clone=False, displacement=False, perspective=False,
           camera_pan=False, camera_zoom=False, camera_shake=False)
# effect -> (module class, the settings that show it alone)
EFFECTS = {
    "background": (Background, dict(background=True, p_background=1.0)),
    "placement": (ForegroundPlacement, dict(placement=True, p_placement=1.0)),
    "clone": (Clone, dict(clone=True, p_clone=1.0)),
    "displacement": (Displacement, dict(displacement=True, p_displacement=1.0)),
    "perspective": (Perspective, dict(perspective=True, p_perspective=1.0)),
    "camera_pan": (CameraPan, dict(camera_pan=True, p_pan=1.0)),
    "camera_zoom": (CameraZoom, dict(camera_zoom=True, p_zoom=1.0)),
    "camera_shake": (CameraShake, dict(camera_shake=True, p_shake=1.0)),
}


TITLES = {"none": "none (the input, shrunk and centred)", "all": "all (the full real-video emulation)",
          "standard": "standard (crop, flip, RandAugment, blur) after all"}


def family_clips(family: str, clips: int = 4, res: int = 128, seed: int = 0) -> list[np.ndarray]:
    """The first ``clips`` clips of a small unsupervised set of a family (actions: one per action)."""
    if family == "actions":
        spec = DatasetSpec(family=family, classes=10, per_class=1, val_per_class=0, seed=seed, options={"res": res})
    else:
        spec = DatasetSpec(family=family, samples=clips, seed=seed, options={"res": res})
    step = spec.per_class if spec.supervised and family != "actions" else 1
    return [make_clip(spec, i * step)[0] for i in range(min(clips, spec.n_clips))]


def augment_views(clips: list[np.ndarray], seed: int = 0, shrink: float = 0.6) -> dict[str, np.ndarray]:
    """Each effect alone (and none, all, standard) on a batch of grey clips -> uint8 (B, T, H, W) per effect.

    The clips are first shrunk by ``shrink`` and centred ("none" is that input)."""
    t = min(c.shape[0] for c in clips)
    x = torch.from_numpy(np.stack([c[:t] for c in clips])).float().div_(255).unsqueeze(1)  # (B, 1, T, H, W)
    if shrink < 1:  # room around the fractal, so that moves, zooms and clones show
        b, _, _, h, w = x.shape
        small = F.interpolate(x.flatten(0, 2)[:, None], scale_factor=shrink, mode="area")[:, 0]
        top, left = (h - small.shape[-2]) // 2, (w - small.shape[-1]) // 2
        x = F.pad(small, (left, w - small.shape[-1] - left, top, h - small.shape[-2] - top)).view(b, 1, t, h, w)
    views = {"none": x}
    for name, (module, on) in EFFECTS.items():
        views[name] = module(AugmentConfig(**{**OFF, **on}))(x, torch.Generator().manual_seed(seed))
    views["all"] = RealVideoAugment(AugmentConfig())(x, torch.Generator().manual_seed(seed))
    standard = StandardAugment(train=True, size=x.shape[-1], normalise=False)
    views["standard"] = standard(views["all"], torch.Generator().manual_seed(seed))[:, :1]
    return {k: (v[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy() for k, v in views.items()}


def _write(rows: list[np.ndarray], stem: Path, title: str, fps: int = 12) -> None:
    """Clips (T, H, W) -> stem.png (a row per clip, every other frame, labelled: ``title`` above, frame
    indices over the columns) and stem.gif (the clips side by side, animated)."""
    from matplotlib.figure import Figure  # no pyplot: no display or global state needed

    t = min(r.shape[0] for r in rows)
    shown = list(range(0, t, 2))[:12]
    fig = Figure(figsize=(1.1 * len(shown), 1.1 * len(rows) + 0.5))
    axes = fig.subplots(len(rows), len(shown), squeeze=False)
    for i, clip in enumerate(rows):
        for j, frame in enumerate(shown):
            ax = axes[i, j]
            ax.imshow(clip[frame], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(f"frame {frame}", fontsize=7)
        axes[i, 0].set_ylabel(f"clip {i + 1}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    stem.parent.mkdir(parents=True, exist_ok=True)
    with replacing(stem.with_suffix(".png")) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    strip = np.concatenate([np.pad(r[:t], ((0, 0), (0, 0), (0, 2)), constant_values=96) for r in rows], axis=2)
    frames = [Image.fromarray(f) for f in strip]
    with replacing(stem.with_suffix(".gif"), suffix=".gif") as tmp:   # PIL picks the format by the extension
        frames[0].save(tmp, save_all=True, append_images=frames[1:], duration=round(1000 / fps), loop=0)


def gallery(out: str | os.PathLike, clips: int = 4, res: int = 128, seed: int = 0,
            families: tuple[str, ...] | None = None) -> list[Path]:
    """Write the family and augmentation galleries under ``out``; returns the PNG paths."""
    if not isinstance(clips, int) or not 2 <= clips <= 16:
        raise ValueError(f"clips={clips!r} is not accepted: expected an integer in [2, 16] "
                         "(background mixing needs other clips in the batch)")
    if not isinstance(res, int) or res < 64 or res % 2:
        raise ValueError(f"res={res!r} is not accepted: expected an even integer >= 64")
    families = tuple(FAMILIES) if families is None else tuple(families)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"families={unknown} are not accepted: expected names from {tuple(FAMILIES)}")
    out = Path(out)
    written = []
    fractal = None
    for family in families:
        rows = family_clips(family, clips, res, seed)
        fractal = rows if family == "fractal" else fractal
        _write(rows, out / "families" / family, f"family: {family}")
        written.append(out / "families" / f"{family}.png")
    for name, views in augment_views(fractal or family_clips("fractal", clips, res, seed), seed).items():
        _write(list(views), out / "augment" / name, f"augmentation: {TITLES.get(name, name + ' alone')}")
        written.append(out / "augment" / f"{name}.png")
    return written
