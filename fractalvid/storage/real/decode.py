"""Decoding a real video with PyAV (:func:`read_video`; a folder of frame images counts as a video), its
frames resized to a short side, with what went wrong in it noted rather than hidden."""
from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

from .layout import IMAGE_EXTS

IMAGE_FOLDER_FPS = 25.0  # the rate given to a folder of frames (Volleyball's clips are 25 fps video frames)


class VideoError(Exception):
    """A video file that yields no frames; the message is the reason reported."""


def _target_size(height: int, width: int, short_side: int | None, square: bool = False) -> tuple[int, int]:
    """(H, W) with the short side ``short_side`` (both even, aspect kept); None: the size made even;
    ``square``: (short_side, short_side), the whole frame squeezed along its long side."""
    if short_side is None:
        return max(2, height // 2 * 2), max(2, width // 2 * 2)
    if square:
        return short_side, short_side
    scale = short_side / min(height, width)
    return max(2, round(height * scale / 2) * 2), max(2, round(width * scale / 2) * 2)


class _Resizer:
    """Resizes frames to the size the first one fixes: one path for decoded video frames and image files."""

    def __init__(self, short_side: int | None, square: bool = False):
        self.short_side, self.square, self.size = short_side, square, None

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        if self.size is None:
            self.size = (frame.height, frame.width)
            self.out_h, self.out_w = _target_size(*self.size, self.short_side, self.square)
            self.shrink = self.out_h * self.out_w < self.size[0] * self.size[1]
        # threads=1: swscale's slice threads change the output bytes from run to run
        # and, left alive in a garbage frame, hang a forked prepare() worker that frees it
        return frame.reformat(width=self.out_w, height=self.out_h, format="rgb24", threads=1,
                              interpolation="AREA" if self.shrink else "BILINEAR").to_ndarray()


def _image_order(path: Path) -> tuple:
    """Frame images by the integer of their name (2.jpg before 10.jpg); names that are not integers after them."""
    return (0, int(path.stem), path.name) if path.stem.isdigit() else (1, 0, path.name)


def _read_image_folder(folder: Path, short_side: int | None, max_frames: int | None,
                       square: bool = False) -> tuple[np.ndarray, dict]:
    """:func:`read_video` for a folder of frame images (``IMAGE_EXTS``), read with PIL in name order."""
    from PIL import Image   # only image-folder sets (Volleyball) need PIL

    images = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file()),
                    key=_image_order)
    if not images:
        raise VideoError("no image frames in folder")
    resize, frames, bad, last_error = _Resizer(short_side, square), [], 0, None
    for image in images:
        if max_frames is not None and len(frames) >= max_frames:
            break
        try:
            with Image.open(image) as im:
                rgb = np.asarray(im.convert("RGB"))
        except Exception as e:  # PIL's many errors on a cut or foreign file: skipped like a bad packet
            bad, last_error = bad + 1, f"{image.name}: {type(e).__name__}: {e}"
            continue
        frames.append(resize(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
    if not frames:
        raise VideoError(f"none of the {len(images)} image frames could be read ({last_error})")
    notes = [f"{bad} image(s) could not be read ({last_error})"] if bad else []
    info = {"fps": IMAGE_FOLDER_FPS, "source_frames": len(images), "source_height": resize.size[0],
            "source_width": resize.size[1], "note": "; ".join(notes)}
    return np.stack(frames), info


def read_video(path: str | os.PathLike, short_side: int | None = None,
               max_frames: int | None = None, square: bool = False) -> tuple[np.ndarray, dict]:
    """Decode a video file with PyAV: RGB uint8 frames (T, H, W, 3) and facts about it.

    Frames are resized (area averaging when shrinking, bilinear when
    enlarging) so that the short side is ``short_side`` with both sides even;
    with None the size is kept (trimmed by resizing to even sizes). With
    ``square`` the frames become ``short_side`` x ``short_side``: the whole
    picture, squeezed along its long side, so that a centre crop later cuts
    nothing off (a portrait clip's head and feet, a wide clip's sides). Only the
    first ``max_frames`` frames are read when given. The first video stream
    is read; packets that fail to decode are skipped and counted.

    The dict holds ``fps``, ``source_frames`` (what the container declares;
    0 if unknown), ``source_height``, ``source_width`` and ``note``: empty, or
    what was wrong but still gave frames (a truncated file, bad packets).
    Raises :class:`VideoError` with the reason when no frame comes out.

    ``path`` may also be a folder of frame images (``IMAGE_EXTS``, e.g.
    Volleyball's clips): they are read with PIL in the order of the integers
    of their names (other names after them, by name) and resized exactly as
    decoded frames are; ``fps`` is ``IMAGE_FOLDER_FPS`` (25), ``source_frames``
    the number of images, and images that cannot be read are skipped and
    counted in ``note``.
    """
    path = Path(path)
    if path.is_dir():
        return _read_image_folder(path, short_side, max_frames, square)
    if not path.is_file():
        raise VideoError("missing file")
    if path.stat().st_size == 0:
        raise VideoError("empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except Exception as e:  # FFmpeg's many errors, and PyAV's own on streams it cannot describe
        raise VideoError(f"cannot open: {type(e).__name__}: {e}") from None
    frames, bad_packets, last_error, stopped, resize = [], 0, None, None, _Resizer(short_side, square)
    with container:
        if not container.streams.video:
            raise VideoError("no video stream")
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1  # prepare() runs one process per core already
        declared = stream.frames or 0
        rate = stream.average_rate or stream.guessed_rate
        try:
            for packet in container.demux(stream):
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError as e:  # a damaged packet: the next key frame may recover
                    bad_packets, last_error = bad_packets + 1, e
                    continue
                frames.extend(resize(frame) for frame in decoded)
                if max_frames is not None and len(frames) >= max_frames:
                    break
        except av.error.FFmpegError as e:  # the container itself is cut or damaged: keep what came out
            stopped = e
    if not frames:
        why = stopped or last_error
        raise VideoError("no frames decoded" + (f": {type(why).__name__}: {why}" if why else ""))
    frames = frames[:max_frames] if max_frames is not None else frames
    notes = []
    if stopped is not None:
        notes.append(f"truncated: reading stopped after {len(frames)} frames ({stopped})")
    if bad_packets:
        notes.append(f"{bad_packets} packet(s) failed to decode ({last_error})")
    if max_frames is None and stopped is None and declared > len(frames):
        notes.append(f"decoded {len(frames)} of the {declared} frames the container declares")
    info = {"fps": round(float(rate), 4) if rate else 0.0, "source_frames": declared,
            "source_height": resize.size[0], "source_width": resize.size[1], "note": "; ".join(notes)}
    return np.stack(frames), info
