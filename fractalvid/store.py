"""The on-disk dataset: clips as H.264 in a few large chunk files, a manifest, a card.

Layout of a dataset folder::

    settings.json            what made it (checked before resuming)
    chunks/chunk-00000.bin   clips 0..chunk_size-1, each a complete .mp4, back to back
    chunks/chunk-00000.csv   their manifest rows; written last, so its presence
                             means the chunk is complete
    manifest.csv             all rows, once every chunk exists
    card.json                settings, counts, rejected draws, version, wall time

A clip is stored as a grey H.264 mp4: the frame is the luma plane of full-range
yuv420p with flat chroma, so nothing is lost to a colour conversion and the
quality is set by the constant rate factor alone (``crf=0`` is lossless). The
encoder runs single-threaded, so the same frames always give the same bytes.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import av
import numpy as np

MANIFEST_FIELDS = ("index", "split", "label", "seed", "attempt", "rejected", "frames", "variation", "n_maps",
                   "chunk", "offset", "nbytes")
INT_FIELDS = ("index", "label", "seed", "attempt", "frames", "n_maps", "chunk", "offset", "nbytes")


# ----------------------------------------------------------------- one clip

def encode_clip(frames: np.ndarray, crf: int = 20, preset: str = "superfast", fps: int = 12) -> bytes:
    """uint8 frames (T, H, W), H and W even -> the bytes of a grey H.264 mp4."""
    n_frames, height, width = frames.shape
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        stream.thread_count = 1
        stream.codec_context.color_range = 2  # full range (JPEG): luma 0..255 as is
        yuv = np.full((height * 3 // 2, width), 128, np.uint8)
        for frame in frames:
            yuv[:height] = frame
            vf = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            vf.color_range = 2
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def decode_clip(data: bytes) -> np.ndarray:
    """The bytes of a clip -> uint8 frames (T, H, W) (the luma plane)."""
    with av.open(io.BytesIO(data)) as container:
        frames = [f.to_ndarray(format="yuv420p")[: f.height] for f in container.decode(video=0)]
    return np.stack(frames)


# ------------------------------------------------------------- chunk files

def chunk_paths(root: Path, chunk: int) -> tuple[Path, Path]:
    base = Path(root) / "chunks" / f"chunk-{chunk:05d}"
    return base.with_suffix(".bin"), base.with_suffix(".csv")


def chunk_done(root: Path, chunk: int) -> bool:
    return chunk_paths(root, chunk)[1].exists()


def write_chunk(root: Path, chunk: int, clips: list[tuple[dict, bytes]]) -> None:
    """Write a chunk under temporary names, then rename: the .bin first, the .csv last."""
    bin_path, csv_path = chunk_paths(root, chunk)
    bin_path.parent.mkdir(parents=True, exist_ok=True)
    rows, offset = [], 0
    tmp_bin, tmp_csv = bin_path.with_suffix(".bin.tmp"), csv_path.with_suffix(".csv.tmp")
    with open(tmp_bin, "wb") as f:
        for row, data in clips:
            f.write(data)
            rows.append({**row, "chunk": chunk, "offset": offset, "nbytes": len(data)})
            offset += len(data)
        f.flush()
        os.fsync(f.fileno())
    write_rows(tmp_csv, rows)
    os.replace(tmp_bin, bin_path)
    os.replace(tmp_csv, csv_path)


def write_rows(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, MANIFEST_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for k in INT_FIELDS:
            row[k] = int(row[k])
    return rows


def write_json(path: Path, obj) -> None:
    """Write JSON under a temporary name, then rename."""
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


# ------------------------------------------------------------------ reading

class ClipDataset:
    """A generated dataset, opened read-only: ``ds[i]`` is (uint8 frames T x H x W, label).

    Files are opened lazily and per process, so the object can be handed to
    DataLoader workers. ``ds.card`` is the dataset card, ``ds.rows`` the manifest.
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

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} is out of range for a dataset of {len(self)} clips")
        i %= len(self)
        return decode_clip(self.clip_bytes(i)), self.rows[i]["label"]

    @property
    def labels(self) -> np.ndarray:
        return np.array([r["label"] for r in self.rows])

    def __repr__(self) -> str:
        return f"ClipDataset({str(self.root)!r}, {len(self)} clips)"


def open_dataset(path: str | os.PathLike, split: str | None = None) -> ClipDataset:
    """Open a generated dataset: ``len()``, ``ds[i] -> (frames, label)``, ``ds.card``."""
    return ClipDataset(path, split)
