"""Preparing a real set: every listed video decoded (:mod:`.decode`) and stored as a colour clip in the chunk
store of generated datasets (:mod:`fractalvid.storage.store`), so ``open_dataset`` reads both; the videos
that cannot be read are skipped and listed in ``prepare_report.json`` / ``.csv``."""
from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

from ...atomic import replacing, write_json
from ...checks import check_int as _check_int
from ...progress import progress_bar
from ...version import __version__
from ..store import (PREPARED_FIELDS, PRESETS, chunk_done, chunk_paths, encode_clip, prepare_folder, read_rows,
                     write_chunks, write_rows)
from .decode import VideoError, read_video
from .layout import VideoRecord
from .listing import list_videos, select_classes

# what prepare writes into its folder (removed when overwriting a dataset of other settings; runs.jsonl: the
# wall-time log of older versions, see fractalvid.clips.generate.PRODUCTS)
PREPARED_PRODUCTS = ("chunks", "manifest.csv", "card.json", "runs.jsonl", "settings.json", "prepare_report.json",
                     "prepare_report.csv")


_prep: dict = {}  # a prepare() worker's settings


def _init_prep(opts: dict) -> None:
    _prep.clear()
    _prep.update(opts)


def _prepare_one(job: tuple[int, VideoRecord]) -> tuple[int, dict | None, bytes | None, str | None]:
    """(index, manifest row, clip bytes, None) for a readable video, (index, None, None, reason) otherwise."""
    index, rec = job
    try:
        frames, info = read_video(rec.path, _prep["short_side"], _prep["max_frames"], _prep["square"])
        # the stored rate only matters for playback; the source's exact rate is in the manifest
        data = encode_clip(frames, _prep["crf"], _prep["preset"], fps=round(info["fps"]) or 12, mbtree=False)
    except VideoError as e:
        return index, None, None, str(e)
    except Exception as e:  # anything else one file does must not stop the run: it is reported instead
        return index, None, None, f"{type(e).__name__}: {e}"
    names = _prep["class_names"]
    row = {"index": index, "split": rec.split, "label": rec.label, "class_name": names[rec.label],
           "path": str(rec.path), "frames": frames.shape[0], "height": frames.shape[1], "width": frames.shape[2],
           **info}
    if rec.group:
        row["group"] = rec.group
    return index, row, data, None


def _prepared_fields(settings: dict) -> tuple[str, ...]:
    """The manifest's columns: ``PREPARED_FIELDS``, plus ``group`` when the records carry one (Weizmann's actor)."""
    return PREPARED_FIELDS + ("group",) if settings.get("groups") else PREPARED_FIELDS


def _problems_path(out: Path, chunk: int) -> Path:
    return chunk_paths(out, chunk)[1].with_suffix(".problems.json")


def prepare(records: list[VideoRecord], out: str | os.PathLike, short_side: int = 128,
            max_frames: int | None = None, workers: int | None = None, progress: bool = True,
            class_names: list[str] | None = None, chunk_size: int = 200, crf: int = 18,
            preset: str = "veryfast", overwrite: bool = False, source: dict | None = None,
            square: bool = False) -> dict:
    """Decode, resize and store real videos in folder ``out``; returns the dataset card.

    Each video is read with :func:`read_video` (short side ``short_side``,
    even, aspect kept, or with ``square`` the whole frame at ``short_side`` x
    ``short_side``; at most ``max_frames`` frames, the first ones) and
    stored as a colour H.264 clip (``crf``, ``preset``, x264's macroblock
    tree off, so that the same videos always give the same bytes) in chunks of
    ``chunk_size`` videos, the store of generated datasets, so
    ``open_dataset(out)`` reads it (``ds[i]`` -> RGB (T, H, W, 3), label).
    Record i is manifest index i; the manifest has ``PREPARED_FIELDS``, and
    a ``group`` column when the records carry groups (:class:`VideoRecord`;
    all of them or none), which the protocol's folds keep whole.

    Videos that give no frame (missing, empty, garbage, cut before the first
    frame) are skipped; ones that give some frames despite damage are kept
    with a note. Both are listed with their reason in
    ``prepare_report.json`` and ``prepare_report.csv`` (path, status, reason).

    Rerunning resumes: finished chunks are kept (each is written under a
    temporary name, then renamed, its .csv last). Other settings or records
    in an existing folder raise FileExistsError unless ``overwrite``.
    ``workers`` processes (default: every core) decode in parallel.
    ``class_names`` names the labels (default "0", "1", ...); ``source``
    (e.g. dataset, root, split) is copied into the card.
    """
    records = list(records)
    if not records:
        raise ValueError("records is empty: there is nothing to prepare (see list_videos)")
    _check_int("short_side", short_side, 2, "an even integer >= 2")
    if short_side % 2:
        raise ValueError(f"short_side={short_side!r} is not accepted: expected an even integer (yuv420p)")
    if max_frames is not None:
        _check_int("max_frames", max_frames, 1, "None or an integer >= 1")
    if not isinstance(square, bool):
        raise ValueError(f"square={square!r} is not accepted: expected true or false")
    workers = os.cpu_count() if workers is None else workers
    _check_int("workers", workers, 1, "an integer >= 1")
    _check_int("chunk_size", chunk_size, 1, "an integer >= 1")
    _check_int("crf", crf, 0, "an integer in [0, 51]")
    if crf > 51:
        raise ValueError(f"crf={crf!r} is not accepted: expected an integer in [0, 51]")
    if preset not in PRESETS:
        raise ValueError(f"preset={preset!r} is not accepted: expected one of {PRESETS}")
    top = max(r.label for r in records)
    class_names = [str(i) for i in range(top + 1)] if class_names is None else list(class_names)
    bad = [r for r in records if not 0 <= r.label < len(class_names) or r.split not in ("train", "test")]
    if bad:
        raise ValueError(f"record {bad[0]} is not accepted: expected a label in [0, {len(class_names)}) "
                         "and split 'train' or 'test'")
    grouped = any(r.group for r in records)
    if grouped and not all(isinstance(r.group, str) and r.group for r in records):
        raise ValueError(f"record {next(r for r in records if not r.group)} is not accepted: other records have a "
                         "group, so every record needs one (a non-empty string), or none does")
    out = Path(out)
    listing = "\n".join(f"{r.path}\t{r.label}\t{r.split}" + (f"\t{r.group}" if grouped else "") for r in records)
    settings = {"kind": "prepared", "short_side": short_side, "max_frames": max_frames, "crf": crf,
                "preset": preset, "chunk_size": chunk_size, "records": len(records),
                "records_sha256": hashlib.sha256(listing.encode()).hexdigest(), "class_names": class_names,
                "source": source}
    if square:  # only when set: folders prepared before the option existed keep their settings
        settings["square"] = True
    if grouped:  # likewise: the manifest gets a group column
        settings["groups"] = True
    # no macroblock tree (encode_clip): the same videos give the same bytes; a folder prepared before, whose
    # bytes depended on the process that wrote them, is refused (or replaced with overwrite)
    settings["mbtree"] = False
    prepare_folder(out, settings, overwrite, PREPARED_PRODUCTS, hint="pass overwrite=True")

    n_chunks = -(-len(records) // chunk_size)
    todo = [c for c in range(n_chunks) if not chunk_done(out, c)]
    jobs = [(i, records[i]) for c in todo for i in range(c * chunk_size, min((c + 1) * chunk_size, len(records)))]
    if jobs:
        opts = {"short_side": short_side, "max_frames": max_frames, "crf": crf, "preset": preset,
                "class_names": class_names, "square": square}
        bar = progress_bar(len(jobs), f"prepare {out.name}", "video", enabled=progress)

        def report_skipped(chunk, skipped):   # before the chunk's .csv, which marks it done
            write_json(_problems_path(out, chunk), [{"path": str(records[i].path), "reason": reason}
                                                    for i, reason in skipped])

        write_chunks(out, jobs, _prepare_one, chunk_size=chunk_size, total=len(records), init=_init_prep,
                     initargs=(opts,), workers=workers, bar=bar, fields=_prepared_fields(settings),
                     before_chunk=report_skipped)
        bar.close()
    return _finish_prepared(out, settings, n_chunks)


def _finish_prepared(out: Path, settings: dict, n_chunks: int) -> dict:
    """Write manifest.csv, the report and card.json from the finished chunks; a finished set (card.json is
    written last) is left as it is and its card returned."""
    if (out / "card.json").exists() and (out / "manifest.csv").exists():
        return json.loads((out / "card.json").read_text())
    rows = [r for c in range(n_chunks) for r in read_rows(chunk_paths(out, c)[1])]
    skipped = [p for c in range(n_chunks) for p in json.loads(_problems_path(out, c).read_text())]
    noted = [{"path": r["path"], "reason": r["note"]} for r in rows if r["note"]]
    with replacing(out / "manifest.csv") as tmp:
        write_rows(tmp, rows, _prepared_fields(settings))
    write_json(out / "prepare_report.json", {"skipped": skipped, "kept_with_notes": noted})
    with replacing(out / "prepare_report.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["path", "status", "reason"])
        writer.writerows([p["path"], "skipped", p["reason"]] for p in skipped)
        writer.writerows([p["path"], "kept", p["reason"]] for p in noted)
    names = settings["class_names"]
    nbytes = sum(r["nbytes"] for r in rows)
    card = {
        "kind": "prepared",
        "generator": f"fractalvid {__version__}",
        "source": settings["source"],
        "channels": 3,
        "classes": len(names),
        "class_names": names,
        "videos": settings["records"],
        "clips": len(rows),
        "skipped": len(skipped),
        "kept_with_notes": len(noted),
        "splits": {s: sum(r["split"] == s for r in rows) for s in sorted({r["split"] for r in rows})},
        "per_class": {n: sum(r["label"] == i for r in rows) for i, n in enumerate(names)},
        "frames": sum(r["frames"] for r in rows),
        "bytes": nbytes,
        "bytes_per_clip": round(nbytes / len(rows)) if rows else 0,
        "fields": list(_prepared_fields(settings)),
        "settings": settings,
    }
    if settings.get("groups"):  # the number of identities (Weizmann: actors) the folds are cut from
        card["groups"] = len({r["group"] for r in rows})
    write_json(out / "card.json", card)
    return card


def prepare_dataset(dataset: str, root: str | os.PathLike, out: str | os.PathLike, split: int = 1,
                    short_side: int = 128, classes=None, **kwargs) -> dict:
    """:func:`list_videos` then :func:`prepare`: a real dataset's split, stored in ``out``; returns the card.

    ``classes`` keeps the named classes only (None: all; :func:`select_classes`), checked before any decoding.
    Other keyword arguments go to :func:`prepare` (square, max_frames, workers, chunk_size, crf, preset,
    overwrite, progress).
    """
    records, names = list_videos(dataset, root, split)
    records, names = select_classes(records, names, classes, dataset)
    source = {"dataset": dataset, "root": str(root), "split": split}
    if classes is not None:   # recorded only when set, so a set prepared before the key existed is resumed
        source["classes"] = names
    return prepare(records, out, short_side=short_side, class_names=names, source=source, **kwargs)
