"""Making datasets: which clip an index is, how it is drawn, and the resumable run.

Every clip is a pure function of (settings, dataset seed, index): its random
generator is seeded with ``[seed, stream, index, attempt]``, and degenerate
draws are redrawn with the next attempt, so the result does not depend on
worker count, shard or order, and any clip can be regenerated alone
(:func:`make_clip`).

Clip indices are laid out class by class: class c owns indices
``c * per_class ... (c + 1) * per_class - 1``, the last ``val_per_class`` of
them held out for validation. Chunks of ``chunk_size`` consecutive clips are
the unit of storage, of resuming and of sharding (chunk i belongs to shard
``i % n + 1`` of n).

Families. ``spec.family`` names an entry of :data:`FAMILIES`; "fractal" is
the paper's method, the others (fractalvid/clips/families.py) the synthetic
families it compares with. A family is a :class:`Family`:

- ``config``: its settings class, a frozen dataclass validated on
  construction with ``to_dict()`` and ``from_dict(d)`` (ValueError on an
  unknown key); ``spec.options`` holds an instance (for "fractal" a
  :class:`~fractalvid.clips.ifs.FractalConfig`), frame size ``res`` included.
- ``draw_class(spec, label, rng) -> class_params``: the parameter set of a
  class, any object; rng is seeded ``[seed, CLASS_STREAM, label, 0]``. Called
  once per class and process (classes are cached one at a time).
- ``clip(spec, index, rng, class_params) -> (frames, info)``: one clip,
  uint8 frames (T, R, R); class_params is None for unsupervised sets (and for
  indices whose label is -1). rng is seeded ``[seed, CLIP_STREAM, index,
  attempt]``. info fills the manifest: "variation" (str; the fractal's
  variation, for other families a short description they choose) and
  "n_maps" (int; maps, shapes, limbs, octaves); "problem" (str) rejects the
  draw, which is made again with the next attempt, and "rejected" (list of
  str) reports earlier redraws (a class's own) in the row.
- ``label_split(spec, index) -> (label, split)``: optional; the default is
  the class-by-class layout above (a family may split by actor instead).
- ``check(spec)``: optional, raises ValueError for a spec the family cannot
  make (e.g. more classes than it has), before any work.

So registering a family is one import and one entry in FAMILIES.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..atomic import replacing, write_json
from ..checks import check
from ..config import Settings
from ..progress import progress_bar
from ..storage.store import (PRESETS, chunk_done, chunk_paths, encode_clip, prepare_folder, read_rows, write_chunks,
                             write_rows)
from ..version import __version__
from . import actions, families
from .ifs import ClipParams, FractalConfig, perturb, sample_clip, shift_maps
from .render import render_clip

CLIP_STREAM, CLASS_STREAM, PROBE_STREAM, SHIFT_STREAM = 0, 1, 2, 3
RUN_KEYS = ("out", "workers")  # params.yaml keys that say where and how, not what
# what generate writes into its folder (removed when overwriting a dataset of other settings); runs.jsonl is
# the wall-time log of older versions: times now go to the caller's metrics, so that a folder's bytes (and
# DVC's hash of it) depend on its settings alone
PRODUCTS = ("chunks", "manifest.csv", "card.json", "runs.jsonl", "settings.json")


@dataclass(frozen=True)
class DatasetSpec(Settings):
    """What a dataset is; two datasets with equal specs are byte-identical.

    ``options`` are the family's settings (its ``Family.config``: a
    FractalConfig for "fractal"), the one home of the frame size ``res`` as of
    every other setting: None for the defaults, a dict, or the config itself;
    it is stored as the config. Settings written before fractals were an
    ordinary family (a ``fractal`` key) are read as the fractal's options.
    """
    kind = "dataset"  # in messages: "unknown dataset setting(s) ..."

    family: str = "fractal"
    classes: int | None = None      # supervised: number of classes ...
    per_class: int = 200            # ... clips per class, of which
    val_per_class: int = 10         # ... this many are held out for validation
    samples: int | None = None      # unsupervised: number of clips
    seed: int = 0
    chunk_size: int = 1000
    crf: int = 20                   # H.264 constant rate factor (0 = lossless)
    preset: str = "superfast"
    options: Any = None             # the family's settings (Family.config), e.g. FractalConfig

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        check(self.family in FAMILIES, "family", self.family, f"one of {tuple(FAMILIES)}")
        check((self.classes is None) != (self.samples is None), "classes/samples", (self.classes, self.samples),
              "exactly one of --classes (supervised) or --samples (unsupervised)")
        if self.classes is not None:
            check(isinstance(self.classes, int) and self.classes >= 1, "classes", self.classes, "an integer >= 1")
            check(isinstance(self.per_class, int) and self.per_class >= 1, "per_class", self.per_class,
                  "an integer >= 1")
            check(isinstance(self.val_per_class, int) and 0 <= self.val_per_class < self.per_class,
                  "val_per_class", self.val_per_class, f"an integer in [0, per_class={self.per_class})")
        else:
            check(isinstance(self.samples, int) and self.samples >= 1, "samples", self.samples, "an integer >= 1")
        check(isinstance(self.seed, int) and 0 <= self.seed < 2**63, "seed", self.seed, "an integer in [0, 2**63)")
        check(isinstance(self.chunk_size, int) and self.chunk_size >= 1, "chunk_size", self.chunk_size,
              "an integer >= 1")
        check(isinstance(self.crf, int) and 0 <= self.crf <= 51, "crf", self.crf, "an integer in [0, 51]")
        check(self.preset in PRESETS, "preset", self.preset, f"one of {PRESETS}")
        fam = FAMILIES[self.family]
        if self.options is None or isinstance(self.options, dict):
            object.__setattr__(self, "options", fam.config.from_dict(self.options or {}))
        check(isinstance(self.options, fam.config), "options", self.options,
              f"a dict of {fam.config.__name__} settings for family {self.family!r}")
        if fam.check is not None:
            fam.check(self)

    @property
    def supervised(self) -> bool:
        return self.classes is not None

    @property
    def n_clips(self) -> int:
        return self.classes * self.per_class if self.supervised else self.samples

    @property
    def n_chunks(self) -> int:
        return -(-self.n_clips // self.chunk_size)

    def label_split(self, index: int) -> tuple[int, str]:
        fam = FAMILIES[self.family]
        return fam.label_split(self, index) if fam.label_split is not None else default_label_split(self, index)

    @property
    def res(self) -> int:
        """The frame size in pixels (every family's settings have it)."""
        return self.options.res

    def to_dict(self) -> dict:
        """Plain JSON-able settings, the family's own under "options"."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["options"] = self.options.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DatasetSpec":
        if isinstance(d, dict) and "fractal" in d:
            d = dict(d)   # written before fractals were an ordinary family: their settings, by another name
            legacy = d.pop("fractal") or {}
            if d.get("family", "fractal") == "fractal" and not d.get("options"):
                d["options"] = legacy
            elif legacy:
                raise ValueError(f"fractal={legacy!r} is not accepted for family {d.get('family')!r}: expected its "
                                 "settings under `options`")
        return cls(**cls.check_names(d))

    @classmethod
    def from_params(cls, section: dict) -> "DatasetSpec":
        """The spec in a params.yaml ``generate`` section, whose run keys (out, workers) are not part of it."""
        return cls.from_dict({k: v for k, v in section.items() if k not in RUN_KEYS})


def default_label_split(spec: DatasetSpec, index: int) -> tuple[int, str]:
    """Class by class: class c owns indices c * per_class.., its last val_per_class are validation."""
    if not spec.supervised:
        return -1, "train"
    label, j = divmod(index, spec.per_class)
    return label, ("val" if j >= spec.per_class - spec.val_per_class else "train")


def parse_shard(text: str) -> tuple[int, int]:
    """'k/n' -> (k, n) with 1 <= k <= n."""
    try:
        k, n = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise ValueError(f"shard={text!r} is not accepted: expected 'k/n' with integers 1 <= k <= n") from None
    if not 1 <= k <= n:
        raise ValueError(f"shard={text!r} is not accepted: expected 'k/n' with integers 1 <= k <= n")
    return k, n


# ------------------------------------------------------------------ one clip

def _rng(spec: DatasetSpec, stream: int, index: int, attempt: int) -> np.random.Generator:
    return np.random.default_rng([spec.seed, stream, index, attempt])


def class_params(spec: DatasetSpec, label: int) -> tuple[ClipParams, list[str]]:
    """The parameter set of a class, redrawn until it and its probe instances render well.

    Perturbing coefficients by up to 1.4x can make a map expanding; a class
    whose maps are near that edge would have mostly exploding instances. So a
    class is kept only if its own clip and ``class_probes`` probe instances
    (drawn from a stream of their own) are all usable.
    """
    cfg = spec.options
    if cfg.one_fractal:
        return _shifted_class(spec, label)
    rejected = []
    for attempt in range(cfg.max_attempts):
        rng = _rng(spec, CLASS_STREAM, label, attempt)
        params = sample_clip(rng, cfg.replace(image_frames=1) if cfg.image else cfg)
        problem = render_clip(params, cfg, rng).problem
        for probe in range(cfg.class_probes if problem is None else 0):
            rng = np.random.default_rng([spec.seed, PROBE_STREAM, label, attempt, probe])
            problem = render_clip(_instance(rng, params, cfg), cfg, rng).problem
            if problem is not None:
                problem = "probe-" + problem
                break
        if problem is None:
            return params, rejected
        rejected.append(problem)
    raise RuntimeError(f"class {label}: {cfg.max_attempts} draws were all degenerate ({rejected}); "
                       "loosen min_coverage/max_coverage/min_in_view or raise max_attempts")


def _shifted_class(spec: DatasetSpec, label: int) -> tuple[ClipParams, list[str]]:
    """A 1p-frac class (``fractal.one_fractal``): the class-0 fractal of the same seed, its maps shifted
    (:func:`~fractalvid.clips.ifs.shift_maps`) on a stream of their own, redrawn until the clip renders well."""
    cfg = spec.options
    base, rejected = class_params(spec.replace(options=cfg.replace(one_fractal=0.0)), 0)
    for attempt in range(cfg.max_attempts):
        rng = _rng(spec, SHIFT_STREAM, label, attempt)
        params = shift_maps(rng, base, cfg.one_fractal)
        problem = render_clip(params, cfg, rng).problem
        if problem is None:
            return params, rejected
        rejected.append("shift-" + problem)
    raise RuntimeError(f"class {label}: {cfg.max_attempts} shifts of the single fractal were all degenerate "
                       f"({rejected}); lower one_fractal={cfg.one_fractal} or raise max_attempts")


def _instance(rng: np.random.Generator, base: ClipParams, cfg: FractalConfig) -> ClipParams:
    if cfg.one_fractal:   # a 1p-frac class is one clip: its instances differ only in the chaos game's points
        return base
    if not cfg.image:
        return perturb(rng, base, cfg)
    stills = [perturb(rng, base, cfg) for _ in range(cfg.image_frames)]  # each frame its own instance
    return ClipParams(np.concatenate([s.coef for s in stills]), np.concatenate([s.variation for s in stills]),
                      dict(base.info))


def _fractal_class(spec: DatasetSpec, label: int, rng: np.random.Generator):
    """Fractal classes redraw on streams of their own (see class_params); rng is not used."""
    return class_params(spec, label)


def _fractal_clip(spec: DatasetSpec, index: int, rng: np.random.Generator, cls) -> tuple[np.ndarray, dict]:
    cfg = spec.options
    base, class_rejected = cls if cls is not None else (None, [])
    params = _instance(rng, base, cfg) if base is not None else sample_clip(rng, cfg)
    rendered = render_clip(params, cfg, rng)
    info = {"variation": params.info.get("variation", "mixed"), "n_maps": params.info.get("n_maps", 0),
            "problem": rendered.problem}
    if cls is not None and index % spec.per_class == 0:  # a class's first clip reports the class's own redraws
        info["rejected"] = ["class-" + r for r in class_rejected]
    return rendered.frames, info


def _actions_check(spec: DatasetSpec) -> None:
    if not spec.supervised or spec.classes > len(actions.ACTIONS):
        raise ValueError(f"classes={spec.classes!r} is not accepted for family 'actions': expected an integer in "
                         f"[1, {len(actions.ACTIONS)}] (the actions {', '.join(actions.ACTIONS)})")


def _actions_split(spec: DatasetSpec, index: int) -> tuple[int, str]:
    """The j-th clip of a class is played by actor j % actors; test actors make the test split."""
    label, _, split = actions.clip_layout(index, spec.per_class, spec.options)
    return label, split


def _actions_clip(spec: DatasetSpec, index: int, rng: np.random.Generator, cls) -> tuple[np.ndarray, dict]:
    frames, _, _, info = actions.clip_for_index(spec.seed, index, spec.per_class, spec.options)
    return frames, {"variation": info["action"], "n_maps": info["actor"]}  # n_maps column: the actor


@dataclass(frozen=True)
class Family:
    """One kind of clip; the protocol is in the module docstring."""

    config: type
    draw_class: Callable[[DatasetSpec, int, np.random.Generator], Any]
    clip: Callable[[DatasetSpec, int, np.random.Generator, Any], tuple[np.ndarray, dict]]
    label_split: Callable[[DatasetSpec, int], tuple[int, str]] | None = None
    check: Callable[[DatasetSpec], None] | None = None


FAMILIES: dict[str, Family] = {
    "fractal": Family(FractalConfig, _fractal_class, _fractal_clip),
    "perlin": Family(families.PerlinConfig, families.perlin_class, families.perlin_clip,
                     check=families.perlin_check),
    "dead_leaves": Family(families.DeadLeavesConfig, families.dead_leaves_class, families.dead_leaves_clip),
    "octopus": Family(families.OctopusConfig, families.octopus_class, families.octopus_clip),
    # the built-in downstream benchmark (a stand-in for real action videos, see fractalvid/clips/actions.py);
    # its clips have no class parameters and never need a redraw
    "actions": Family(actions.ActionConfig, lambda spec, label, rng: None, _actions_clip,
                      label_split=_actions_split, check=_actions_check),
}
DEFAULT_MAX_ATTEMPTS = 64  # redraws of a family whose settings have no max_attempts


def make_clip(spec: DatasetSpec, index: int, class_cache: dict | None = None) -> tuple[np.ndarray, dict]:
    """Render clip ``index`` of the dataset: uint8 frames (T, R, R) and its manifest row."""
    if not 0 <= index < spec.n_clips:
        raise IndexError(f"index={index} is out of range: the dataset has {spec.n_clips} clips")
    fam = FAMILIES[spec.family]
    label, split = spec.label_split(index)
    base = None
    if label >= 0:
        cache = class_cache if class_cache is not None else {}
        if label not in cache:
            cache.clear()  # indices come class by class: one class at a time is enough
            cache[label] = fam.draw_class(spec, label, _rng(spec, CLASS_STREAM, label, 0))
        base = cache[label]
    attempts = getattr(spec.options, "max_attempts", DEFAULT_MAX_ATTEMPTS)
    rejected = []
    for attempt in range(attempts):
        frames, info = fam.clip(spec, index, _rng(spec, CLIP_STREAM, index, attempt), base)
        problem = info.get("problem")
        if problem is None:
            if not (isinstance(frames, np.ndarray) and frames.dtype == np.uint8 and frames.ndim == 3
                    and frames.shape[1] == frames.shape[2] and frames.shape[1] % 2 == 0):
                raise TypeError(f"family {spec.family!r} made clip {index} as {type(frames).__name__} "
                                f"{getattr(frames, 'shape', '')} {getattr(frames, 'dtype', '')}: "
                                "expected uint8 frames (T, R, R) with R even")
            row = {"index": index, "split": split, "label": label, "seed": spec.seed, "attempt": attempt,
                   "rejected": "+".join([*info.get("rejected", ()), *rejected]), "frames": frames.shape[0],
                   "variation": info.get("variation", ""), "n_maps": int(info.get("n_maps", 0))}
            return frames, row
        rejected.append(problem)
    hint = "; loosen min_coverage/max_coverage/min_in_view or raise max_attempts" if fam.config is None else ""
    raise RuntimeError(f"clip {index}: {attempts} draws were all degenerate ({rejected}){hint}")


# ------------------------------------------------------------- the whole run

_worker_spec: DatasetSpec | None = None
_worker_cache: dict = {}


def _init_worker(spec: DatasetSpec) -> None:
    global _worker_spec, _worker_cache
    _worker_spec, _worker_cache = spec, {}


def _encoded_clip(index: int) -> tuple[int, dict, bytes, None]:
    """A pool worker's job: clip ``index``, encoded (:func:`fractalvid.storage.store.write_chunks`)."""
    frames, row = make_clip(_worker_spec, index, _worker_cache)
    return index, row, encode_clip(frames, _worker_spec.crf, _worker_spec.preset), None


def _prepare_output(out: Path, spec: DatasetSpec, overwrite: bool) -> None:
    prepare_folder(out, spec.to_dict(), overwrite, PRODUCTS, hint="pass --overwrite",
                   complete=lambda old: DatasetSpec.from_dict(old).to_dict())


def generate(out: str | os.PathLike, spec: DatasetSpec, workers: int | None = None, shard: str = "1/1",
             overwrite: bool = False, progress: bool = True) -> dict:
    """Make (or resume) the dataset ``spec`` in folder ``out``; returns the card when complete.

    Finished chunks are skipped; with shard 'k/n' only the chunks of part k
    are made. When every chunk exists the manifest and card are written.
    """
    k, n = parse_shard(shard)
    workers = os.cpu_count() if workers is None else workers
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers={workers!r} is not accepted: expected an integer >= 1")
    out = Path(out)
    _prepare_output(out, spec, overwrite)
    todo = [c for c in range(k - 1, spec.n_chunks, n) if not chunk_done(out, c)]
    indices = [i for c in todo for i in range(c * spec.chunk_size, min((c + 1) * spec.chunk_size, spec.n_clips))]
    if indices:
        bar = progress_bar(len(indices), f"generate {out.name}", "clip", enabled=progress)
        write_chunks(out, indices, _encoded_clip, chunk_size=spec.chunk_size, total=spec.n_clips,
                     init=_init_worker, initargs=(spec,), workers=workers, bar=bar)
        bar.close()
    return finalize(out)


def finalize(out: str | os.PathLike) -> dict | None:
    """Write manifest.csv and card.json once every chunk exists; returns the card, or None. A finished set
    (both written) is left as it is: its card is returned and nothing is rewritten."""
    out = Path(out)
    if (out / "card.json").exists() and (out / "manifest.csv").exists():
        return json.loads((out / "card.json").read_text())
    spec = DatasetSpec.from_dict(json.loads((out / "settings.json").read_text()))
    missing = [c for c in range(spec.n_chunks) if not chunk_done(out, c)]
    if missing:
        return None
    rows = [r for c in range(spec.n_chunks) for r in read_rows(chunk_paths(out, c)[1])]
    with replacing(out / "manifest.csv") as tmp:
        write_rows(tmp, rows)
    (out / "runs.jsonl").unlink(missing_ok=True)  # an older version's wall-time log (see PRODUCTS)
    rejected: dict[str, int] = {}
    for r in rows:
        for reason in filter(None, r["rejected"].split("+")):
            rejected[reason] = rejected.get(reason, 0) + 1
    nbytes = sum(r["nbytes"] for r in rows)
    card = {
        "generator": f"fractalvid {__version__}",
        "family": spec.family,
        "settings": spec.to_dict(),
        "clips": len(rows),
        "splits": {s: sum(r["split"] == s for r in rows) for s in sorted({r["split"] for r in rows})},
        "classes": spec.classes,
        "rejected_draws": dict(sorted(rejected.items())),
        "bytes": nbytes,
        "bytes_per_clip": round(nbytes / len(rows)),
    }
    if spec.family == "actions":  # named classes, like a real dataset's
        card["class_names"] = list(actions.ACTIONS[: spec.classes])
    write_json(out / "card.json", card)
    return card


def merge(out: str | os.PathLike, parts: list[str | os.PathLike]) -> dict | None:
    """Combine datasets made as shards (same settings) into ``out``; chunks keep their numbers."""
    out = Path(out)
    specs = {}
    for part in map(Path, parts):
        if not (part / "settings.json").exists():
            raise FileNotFoundError(f"{part} is not a fractalvid dataset part: {part / 'settings.json'} is missing")
        specs[part] = json.loads((part / "settings.json").read_text())
    first = next(iter(specs.values()))
    for part, s in specs.items():
        if s != first:
            raise ValueError(f"{part} was made with other settings than {next(iter(specs))}; parts must match")
    _prepare_output(out, DatasetSpec.from_dict(first), overwrite=False)
    for part in specs:
        if part.resolve() == out.resolve():
            continue
        for csv_path in sorted((part / "chunks").glob("chunk-*.csv")):
            chunk = int(csv_path.stem.split("-")[1])
            if chunk_done(out, chunk):
                continue
            bin_dst, csv_dst = chunk_paths(out, chunk)
            for src, dst in ((csv_path.with_suffix(".bin"), bin_dst), (csv_path, csv_dst)):   # the .csv last
                with replacing(dst) as tmp:
                    shutil.copyfile(src, tmp)
    return finalize(out)
