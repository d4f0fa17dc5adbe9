"""Writing clips for people to look at: mp4, animated GIF, PNG contact sheet."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .store import encode_clip

FORMATS = (".mp4", ".gif", ".png")


def contact_sheet(frames: np.ndarray, columns: int = 10, gap: int = 2) -> np.ndarray:
    """Frames (T, H, W) or (T, H, W, 3) tiled row by row, separated by a grey gap."""
    n, h, w = frames.shape[:3]
    rows = -(-n // columns)
    cols = min(columns, n)
    sheet = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap) + frames.shape[3:], 96, np.uint8)
    for i, frame in enumerate(frames):
        r, c = divmod(i, columns)
        sheet[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = frame
    return sheet


def write_clip(frames: np.ndarray, path: str | Path, fps: int = 12) -> Path:
    """Write uint8 frames (T, H, W) as .mp4, .gif or a .png contact sheet, by extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"output {str(path)!r} has extension {suffix!r}: expected one of {FORMATS}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".mp4":
        path.write_bytes(encode_clip(frames, crf=18, preset="medium", fps=fps))
    elif suffix == ".gif":
        images = [Image.fromarray(f) for f in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    else:
        Image.fromarray(contact_sheet(frames)).save(path)
    return path
