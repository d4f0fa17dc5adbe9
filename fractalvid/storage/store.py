"""The on-disk dataset: clips as H.264 in a few large chunk files, a manifest, a card.

Layout of a dataset folder::

    settings.json            what made it (checked before resuming)
    chunks/chunk-00000.bin   clips 0..chunk_size-1, each a complete .mp4, back to back
    chunks/chunk-00000.csv   their manifest rows; written last, so its presence
                             means the chunk is complete
    manifest.csv             all rows, once every chunk exists
    card.json                settings, counts, rejected draws, version (no wall time: the folder's bytes
                             depend on its settings alone; times go to the caller's metrics)

A grey clip (generated datasets) is stored as an H.264 mp4 whose frame is the
luma plane of full-range yuv420p with flat chroma, so nothing is lost to a
colour conversion and the quality is set by the constant rate factor alone
(``crf=0`` is lossless). A colour clip (real videos prepared by
:mod:`fractalvid.storage.real`) is full-range yuv420p too: RGB is converted with the
BT.601 matrix in numpy (chroma averaged over 2 x 2 pixels), and decoding
inverts it (chroma interpolated bilinearly), so the conversion is explicit and
does not depend on how a decoder reads colour tags. The encoder runs
single-threaded, so generated clips always give the same bytes; real clips
are encoded without x264's macroblock tree (``mbtree=False``), with which
their bytes differed from one process to the next.

Generated datasets write the manifest columns ``MANIFEST_FIELDS``; prepared
real datasets write ``PREPARED_FIELDS`` and say ``"channels": 3`` in their
card. :class:`ClipDataset` reads both.
"""
from __future__ import annotations

import copy
import csv
import io
import json
import multiprocessing as mp
import os
import shutil
from pathlib import Path

import av
import numpy as np

from ..atomic import remove_leftovers, replacing, write_json
from ..config import differing

MANIFEST_FIELDS = ("index", "split", "label", "seed", "attempt", "rejected", "frames", "variation", "n_maps",
                   "chunk", "offset", "nbytes")
INT_FIELDS = ("index", "label", "seed", "attempt", "frames", "n_maps", "chunk", "offset", "nbytes")
# The manifest of a dataset prepared from real videos: ``path`` is the source file, ``note`` says what was
# odd about it (e.g. truncated) but still kept; ``source_*`` describe the file before resizing.
PREPARED_FIELDS = ("index", "split", "label", "class_name", "path", "frames", "source_frames", "height", "width",
                   "source_height", "source_width", "fps", "note", "chunk", "offset", "nbytes")
# How to read back a column of either manifest (other columns stay text).
_NUMERIC = {**{k: int for k in INT_FIELDS + ("source_frames", "height", "width", "source_height", "source_width")},
            "fps": float}

# Full-range BT.601 (as in JPEG): rows give Y, Cb, Cr from R, G, B (chroma centred on 128) ...
_RGB_TO_YUV = np.array([[0.299, 0.587, 0.114],
                        [-0.168736, -0.331264, 0.5],
                        [0.5, -0.418688, -0.081312]], np.float32)
# ... and R, G, B from Y, Cb - 128, Cr - 128.
_YUV_TO_RGB = np.array([[1.0, 0.0, 1.402],
                        [1.0, -0.344136, -0.714136],
                        [1.0, 1.772, 0.0]], np.float32)

# x264's presets, fastest first: the speed-for-size trade of every clip the store encodes
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


# ----------------------------------------------------------------- one clip

def encode_clip(frames: np.ndarray, crf: int = 20, preset: str = "superfast", fps: int = 12,
                mbtree: bool = True) -> bytes:
    """uint8 frames (T, H, W) (grey) or (T, H, W, 3) (RGB), H and W even -> the bytes of an H.264 mp4.

    ``mbtree=False`` turns off x264's macroblock-tree rate control (``mbtree=0``). With it, x264 gave real
    footage (basketball5 at 64 x 114) different bytes in different processes, single-threaded and with the
    same settings: 6 distinct encodings of the same 60 clips in 6 processes. Without it, one encoding in
    46 processes; the clips grow by 14 %. Generated clips were stable either way. Turning off psy or B-frames
    instead was not enough (B-frames off: 2 of 24 processes differed)."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim not in (3, 4) or (frames.ndim == 4 and frames.shape[3] != 3):
        raise ValueError(f"frames of dtype {frames.dtype} and shape {frames.shape} are not accepted: "
                         "expected uint8 (T, H, W) or (T, H, W, 3)")
    n_frames, height, width = frames.shape[:3]
    if n_frames < 1 or height % 2 or width % 2:
        raise ValueError(f"frames of shape {frames.shape} are not accepted: expected T >= 1 and even H and W "
                         "(yuv420p halves the chroma planes)")
    colour = frames.ndim == 4
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset, **({} if mbtree else {"x264-params": "mbtree=0"})}
        stream.thread_count = 1
        stream.codec_context.color_range = 2  # full range (JPEG): luma 0..255 as is
        if colour:  # tag the matrix so that players show the colours right (decode_clip does not need it)
            stream.codec_context.colorspace = 5  # AVCOL_SPC_BT470BG, i.e. BT.601
        yuv = np.full((height * 3 // 2, width), 128, np.uint8)
        for frame in frames:
            if colour:
                yuv = _rgb_to_yuv420(frame)
            else:
                yuv[:height] = frame
            vf = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            vf.color_range = 2
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def decode_clip(data: bytes, channels: int = 1, indices=None) -> np.ndarray:
    """The bytes of a clip -> uint8 frames (T, H, W) (channels=1, the luma plane) or (T, H, W, 3) (channels=3, RGB).

    With ``indices`` (frame numbers, any order, repeats allowed) only those
    frames are returned, in that order, and decoding stops after the last one
    needed. A colour clip read with channels=1 gives its luma; a grey clip
    read with channels=3 gives R = G = B.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels={channels!r} is not accepted: expected 1 (grey) or 3 (RGB)")
    wanted = None if indices is None else np.asarray(indices, dtype=np.int64).ravel()
    if wanted is not None and wanted.size and wanted.min() < 0:
        raise IndexError(f"frame indices must be >= 0, got {wanted.min()}")
    last = None if wanted is None else (int(wanted.max()) if wanted.size else -1)
    keep = None if wanted is None else set(wanted.tolist())
    planes, kept, n = [], {}, 0
    with av.open(io.BytesIO(data)) as container:
        for n, f in enumerate(container.decode(video=0), 1):
            if keep is None:
                planes.append(f.to_ndarray(format="yuv420p", threads=1))
            elif n - 1 in keep:  # frames not asked for are decoded (H.264 needs them) but not copied out
                kept[n - 1] = f.to_ndarray(format="yuv420p", threads=1)
            if last is not None and n > last:
                break
    if wanted is not None:
        if last >= n:
            raise IndexError(f"frame {last} was asked for but the clip has {n} frames")
        planes = [kept[i] for i in wanted.tolist()]
    if not planes:
        return np.zeros((0, 0, 0) if channels == 1 else (0, 0, 0, 3), np.uint8)
    height = planes[0].shape[0] * 2 // 3
    yuv = np.stack(planes)
    return yuv[:, :height] if channels == 1 else _yuv420_to_rgb(yuv, height)


def _rgb_to_yuv420(rgb: np.ndarray) -> np.ndarray:
    """One RGB frame (H, W, 3) -> the planes of full-range yuv420p stacked as (H * 3 / 2, W)."""
    height, width = rgb.shape[:2]
    yuv = rgb.astype(np.float32) @ _RGB_TO_YUV.T
    # 2 x 2 box average of the chroma: the same as converting the averaged RGB, the matrix being linear
    chroma = yuv[..., 1:].reshape(height // 2, 2, width // 2, 2, 2).mean(axis=(1, 3)) + 128
    out = np.empty((height * 3 // 2, width), np.uint8)
    out[:height] = np.clip(np.rint(yuv[..., 0]), 0, 255)
    # below the luma: the U plane then the V plane, each (H/2 x W/2) bytes, packed into rows of W
    out[height:] = np.clip(np.rint(chroma.transpose(2, 0, 1)), 0, 255).reshape(height // 2, width)
    return out


def _yuv420_to_rgb(yuv: np.ndarray, height: int) -> np.ndarray:
    """Stacked yuv420p planes (T, H * 3 / 2, W) -> RGB (T, H, W, 3), chroma upsampled bilinearly."""
    n, _, width = yuv.shape
    chroma = yuv[:, height:].reshape(n, 2, height // 2, width // 2).astype(np.float32) - 128
    chroma = _double(_double(chroma, 2), 3)
    stacked = np.stack([yuv[:, :height].astype(np.float32), chroma[:, 0], chroma[:, 1]], axis=-1)
    return np.clip(np.rint(stacked @ _YUV_TO_RGB.T), 0, 255).astype(np.uint8)


def _double(c: np.ndarray, axis: int) -> np.ndarray:
    """Twice as many samples along ``axis``, each 3/4 of its own and 1/4 of the nearer neighbour (edges repeat).

    A chroma sample is the mean of 2 pixels, sited between them; this is linear
    interpolation from those sites back to the pixels.
    """
    c = np.moveaxis(c, axis, -1)
    before = np.concatenate([c[..., :1], c[..., :-1]], axis=-1)
    after = np.concatenate([c[..., 1:], c[..., -1:]], axis=-1)
    out = np.stack([0.75 * c + 0.25 * before, 0.75 * c + 0.25 * after], axis=-1).reshape(*c.shape[:-1], -1)
    return np.moveaxis(out, -1, axis)


# ------------------------------------------------------------- chunk files

def chunk_paths(root: Path, chunk: int) -> tuple[Path, Path]:
    base = Path(root) / "chunks" / f"chunk-{chunk:05d}"
    return base.with_suffix(".bin"), base.with_suffix(".csv")


def chunk_done(root: Path, chunk: int) -> bool:
    return chunk_paths(root, chunk)[1].exists()


def write_chunk(root: Path, chunk: int, clips: list[tuple[dict, bytes]], fields=MANIFEST_FIELDS) -> None:
    """Write a chunk under temporary names, then rename: the .bin first, the .csv last (columns ``fields``)."""
    bin_path, csv_path = chunk_paths(root, chunk)
    bin_path.parent.mkdir(parents=True, exist_ok=True)
    rows, offset = [], 0
    with replacing(bin_path) as tmp_bin, open(tmp_bin, "wb") as f:
        for row, data in clips:
            f.write(data)
            rows.append({**row, "chunk": chunk, "offset": offset, "nbytes": len(data)})
            offset += len(data)
        f.flush()
        os.fsync(f.fileno())
    with replacing(csv_path) as tmp_csv:   # last: a chunk is done when its .csv exists
        write_rows(tmp_csv, rows, fields)


def write_rows(path: Path, rows: list[dict], fields=MANIFEST_FIELDS) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_rows(path: Path) -> list[dict]:
    """Manifest rows with the columns of either format; the known numeric columns as numbers."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        casts = [(k, _NUMERIC[k]) for k in reader.fieldnames or () if k in _NUMERIC]
        rows = list(reader)
    for row in rows:
        for k, cast in casts:
            row[k] = cast(row[k])
    return rows


def prepare_folder(out: Path, settings: dict, overwrite: bool, products: tuple[str, ...], hint: str,
                   complete=None) -> None:
    """Ready ``out`` to make, or resume, the dataset that ``settings`` describes.

    ``complete(old)`` fills the settings a folder was made with by the defaults of the keys they lack (a
    setting added after the folder was made counts at its default, which is what made it), so such a folder
    is resumed, not refused.

    A folder whose settings.json holds other settings is refused, or with ``overwrite`` emptied of
    ``products`` (what a run there writes); a non-empty folder without settings.json is refused unless
    ``overwrite``. ``hint`` says how to overwrite (``pass --overwrite``), for the error messages. Chunks left
    half-written by a killed run (``*.tmp``) are removed, so a resumed run remakes them.
    """
    path = out / "settings.json"
    if path.exists():
        old = json.loads(path.read_text())
        if complete is not None:
            old = json.loads(json.dumps(complete(old)))
        new = json.loads(json.dumps(settings))   # as it would read back from JSON
        if old != new:
            if not overwrite:
                raise FileExistsError(f"{out} holds a dataset made with other settings (differing: "
                                      f"{differing(old, new)}); {hint} to replace it, or choose another folder")
            for name in products:
                p = out / name
                shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    elif out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} exists, is not empty and is not a fractalvid dataset; {hint} or choose "
                              "another folder")
    (out / "chunks").mkdir(parents=True, exist_ok=True)
    remove_leftovers(out / "chunks")
    if not path.exists():
        write_json(path, settings)


def write_chunks(out: Path, jobs: list, work, *, chunk_size: int, total: int, init, initargs: tuple = (),
                 workers: int = 1, bar=None, fields=MANIFEST_FIELDS, before_chunk=None) -> None:
    """The pool-and-chunk writer of every dataset (generated clips and prepared real videos).

    Runs ``work(job)`` for each of ``jobs`` in a pool of ``workers`` processes (forked where the platform
    can, each set up once by ``init(*initargs)``; in this process with 1 worker), keeps the results in the
    jobs' order, and writes chunk ``c`` (items ``c * chunk_size`` up to ``total``) as soon as its last item
    is back, so a killed run keeps every finished chunk. ``work`` returns ``(index, row, data, reason)``:
    ``row`` None for an item that gave no clip, with its ``reason``; ``before_chunk(chunk, [(index, reason),
    ...])`` is called before each chunk is written (prepare keeps the skipped videos in a report).
    The jobs must be whole chunks, in order.
    """
    pending, skipped = [], []

    def collect(results):
        for index, row, data, reason in results:
            if row is None:
                skipped.append((index, reason))
            else:
                pending.append((row, data))
            if bar is not None:
                bar.update(1)
            chunk = index // chunk_size
            if index == min((chunk + 1) * chunk_size, total) - 1:   # the chunk's last item
                if before_chunk is not None:
                    before_chunk(chunk, list(skipped))
                write_chunk(out, chunk, pending, fields)
                pending.clear()
                skipped.clear()

    if workers == 1 or len(jobs) <= 1:
        init(*initargs)
        collect(map(work, jobs))
    else:
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ctx.Pool(min(workers, len(jobs)), initializer=init, initargs=initargs) as pool:
            collect(pool.imap(work, jobs, chunksize=2))


# ------------------------------------------------------------------ reading

class ClipDataset:
    """A generated or prepared dataset, opened read-only: ``ds[i]`` is (uint8 frames, label).

    Frames are (T, H, W) for grey (generated) datasets and (T, H, W, 3) RGB for
    datasets prepared from real videos (``ds.channels`` is 1 or 3, from the
    card; cards without it are grey). Files are opened lazily and per process,
    so the object can be handed to DataLoader workers. ``ds.card`` is the
    dataset card, ``ds.rows`` the manifest, ``ds.class_names`` the class names
    when the card has them (prepared datasets), else None.
    """

    def __init__(self, path: str | os.PathLike, split: str | None = None):
        self.root = Path(path)
        manifest = self.root / "manifest.csv"
        if not manifest.exists():
            raise FileNotFoundError(
                f"{manifest} does not exist: {self.root} is not a finished dataset "
                "(run `fractalvid generate` to completion, or `fractalvid merge` its parts)")
        self.card = json.loads((self.root / "card.json").read_text())
        rows = read_rows(manifest)
        if split is not None:
            splits = sorted({r["split"] for r in rows})
            if split not in splits:
                raise ValueError(f"split={split!r} is not in this dataset: expected one of {splits}")
            rows = [r for r in rows if r["split"] == split]
        self.rows = rows
        self.channels = int(self.card.get("channels", 1))
        self.class_names = self.card.get("class_names")
        self._files: dict[int, object] = {}
        self._pid = None

    def __len__(self) -> int:
        return len(self.rows)

    def clip_bytes(self, i: int) -> bytes:
        row = self.rows[i]
        if self._pid != os.getpid():  # a forked worker must not share file offsets
            self._files, self._pid = {}, os.getpid()
        f = self._files.get(row["chunk"])
        if f is None:
            f = self._files[row["chunk"]] = open(chunk_paths(self.root, row["chunk"])[0], "rb")
        f.seek(row["offset"])
        return f.read(row["nbytes"])

    def subset(self, indices) -> "ClipDataset":
        """The same dataset restricted to rows ``indices`` (in that order); files stay shared and lazy."""
        out = copy.copy(self)
        out.rows = [self.rows[int(i)] for i in indices]
        return out

    def __getstate__(self):  # open files do not travel to spawned workers; each reopens its own
        return {**self.__dict__, "_files": {}, "_pid": None}

    def read(self, i: int, indices=None) -> np.ndarray:
        """The frames of clip ``i``; with ``indices``, only those frames (see :func:`decode_clip`)."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} is out of range for a dataset of {len(self)} clips")
        return decode_clip(self.clip_bytes(i % len(self)), self.channels, indices)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        frames = self.read(i)
        return frames, self.rows[i % len(self)]["label"]

    @property
    def labels(self) -> np.ndarray:
        return np.array([r["label"] for r in self.rows])

    def __repr__(self) -> str:
        return f"ClipDataset({str(self.root)!r}, {len(self)} clips)"


def open_dataset(path: str | os.PathLike, split: str | None = None) -> ClipDataset:
    """Open a generated or prepared dataset: ``len()``, ``ds[i] -> (frames, label)``, ``ds.card``."""
    return ClipDataset(path, split)
