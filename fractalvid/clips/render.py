"""Rendering fractal clips: framing, the chaos game, splat, tone map, sanity checks.

The hot loop is :func:`chaos_game`, a numba kernel that walks a lane of
independent walkers through the frame's maps. Per step it does three tight
passes over the lanes: pick a map and apply it, bend the points by the clip's
variation (nonlinear clips only), then count the pixel each point lands on.
The paper's 3x3 splat is applied afterwards as a 3x3 box sum of the one-pixel
count image, which is exactly the same image (the count image carries a
one-pixel border so that points just outside the view splat into it too).
Counts are uint32: a frame draws walkers * steps points, far below 2**32 / 9.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ifs import ClipParams, FractalConfig, abs_det
from .kernels import chaos_game, splat_tone_map


# ----------------------------------------------------------------- map choice

TABLE_BITS = 14


def map_tables(coef: np.ndarray, bits: int = TABLE_BITS) -> np.ndarray:
    """Lookup tables for choosing map i with probability ~ |det W_i|, per frame.

    coef: (T, K, 6). Returns (T, 2**bits) uint8: entry j is the map whose
    cumulative probability interval holds (j + 0.5) / 2**bits, so each map
    gets its probability to within 2**-bits (6e-5). A table lookup keeps the
    chaos game's lane loop vectorised (an alias draw measured 2.5x slower).
    Frames whose maps all have |det| == 0 fall back to equal probabilities.
    """
    n_frames, k, _ = coef.shape
    det = abs_det(coef.astype(np.float64))
    total = det.sum(1, keepdims=True)
    p = np.where(total > 0, det / np.where(total > 0, total, 1), 1.0 / k)
    edges = np.cumsum(p, 1)
    grid = (np.arange(2**bits) + 0.5) / 2**bits
    table = np.stack([np.searchsorted(e, grid, side="right") for e in edges])
    return np.minimum(table, k - 1).astype(np.uint8)


def map_probabilities(table: np.ndarray, n_maps: int) -> np.ndarray:
    """The distribution each frame's table encodes, (T, K); for tests and the tour."""
    return np.stack([np.bincount(t, minlength=n_maps) / t.size for t in table])


# log1p of the counts most pixels have, so that the tone map rarely calls log
LOG_TABLE = np.log1p(np.arange(1 << 16, dtype=np.float64)).astype(np.float32)


def splat_and_tone_map(counts: np.ndarray, splat: int, per_frame: bool) -> tuple[np.ndarray, np.ndarray]:
    """Bordered one-pixel counts -> uint8 frames and the lit fraction of each frame."""
    frames, lit = splat_tone_map(counts, splat, per_frame, LOG_TABLE)
    return frames, lit / (frames.shape[1] * frames.shape[2])


# -------------------------------------------------------------------- framing

def keep_box(occupied: np.ndarray, keep: float) -> tuple[int, int, int, int] | None:
    """Smallest box holding >= keep of the occupied pixels, by greedy trimming.

    Empty border rows and columns go first; then, while the box still holds
    enough, the border row or column with the fewest occupied pixels is
    dropped. Returns (row0, row1, col0, col1), inclusive, or None if empty.
    """
    occ = occupied.astype(np.int64)
    total = int(occ.sum())
    if total == 0:
        return None
    rows, cols = np.flatnonzero(occ.sum(1)), np.flatnonzero(occ.sum(0))
    r0, r1, c0, c1 = rows[0], rows[-1], cols[0], cols[-1]
    table = np.zeros((occ.shape[0] + 1, occ.shape[1] + 1), np.int64)
    table[1:, 1:] = occ.cumsum(0).cumsum(1)

    def area(a0, a1, b0, b1):  # occupied pixels in rows a0..a1, cols b0..b1
        return table[a1 + 1, b1 + 1] - table[a0, b1 + 1] - table[a1 + 1, b0] + table[a0, b0]

    inside, need = total, keep * total
    while r1 > r0 or c1 > c0:
        edges = []
        if r1 > r0:
            edges += [(area(r0, r0, c0, c1), 0), (area(r1, r1, c0, c1), 1)]
        if c1 > c0:
            edges += [(area(r0, r1, c0, c0), 2), (area(r0, r1, c1, c1), 3)]
        drop, which = min(edges)
        if inside - drop < need:
            break
        inside -= drop
        if which == 0:
            r0 += 1
        elif which == 1:
            r1 -= 1
        elif which == 2:
            c0 += 1
        else:
            c1 -= 1
    return int(r0), int(r1), int(c0), int(c1)


def frame_view(coef, table, variation, cfg: FractalConfig, seeds) -> np.ndarray | None:
    """The view (x0, y0, x1, y1) of the clip, from its first and last frames.

    Both frames are rendered as occupancy at framing_res over the window
    [-framing_window, framing_window]^2; the union of their 90 % boxes plus a
    10 % margin on each side is the view. None when nothing lands in the window.
    """
    ends = [0, coef.shape[0] - 1] if coef.shape[0] > 1 else [0]
    w = cfg.framing_window
    scale = np.float32(cfg.framing_res / (2 * w))
    view = np.tile(np.array([-w, -w, scale, scale], np.float32), (len(ends), 1))
    counts, _ = chaos_game(coef[ends], table[ends], variation[ends], view, cfg.framing_res, 0,
                           cfg.framing_steps, cfg.discard, seeds[: len(ends)])
    boxes = [keep_box(c > 0, cfg.framing_keep) for c in counts]
    if any(b is None for b in boxes):
        return None
    r0, r1 = min(b[0] for b in boxes), max(b[1] for b in boxes) + 1
    c0, c1 = min(b[2] for b in boxes), max(b[3] for b in boxes) + 1
    px = 2 * w / cfg.framing_res
    x0, x1, y0, y1 = -w + c0 * px, -w + c1 * px, -w + r0 * px, -w + r1 * px
    mx, my = cfg.framing_margin * (x1 - x0), cfg.framing_margin * (y1 - y0)
    return np.array([x0 - mx, y0 - my, x1 + mx, y1 + my])


# ------------------------------------------------------------------ one clip

@dataclass
class Rendered:
    frames: np.ndarray          # (T, res, res) uint8
    problem: str | None         # None, or why the draw is degenerate
    coverage: np.ndarray        # (T,) fraction of lit pixels
    in_view: np.ndarray         # (T,) fraction of counted points inside the view
    view: np.ndarray | None     # (T, 4) x0, y0, x1, y1 per frame


def render_clip(params: ClipParams, cfg: FractalConfig, rng: np.random.Generator) -> Rendered:
    """Frame, render and tone-map a clip; flag it if degenerate (see :func:`diagnose`).

    Image-mode clips (cfg.image) frame and tone-map every frame on its own.
    """
    coef = params.coef.astype(np.float32)
    n_frames = coef.shape[0]
    res = cfg.res
    empty = Rendered(np.zeros((n_frames, res, res), np.uint8), None, np.zeros(n_frames), np.zeros(n_frames), None)
    if not np.all(np.isfinite(coef)):
        empty.problem = "nonfinite"
        return empty
    table = map_tables(coef)
    seeds = rng.integers(1, 2**32, (n_frames, cfg.walkers), dtype=np.uint32)
    variation = params.variation.astype(np.int64)
    if cfg.image:
        views = [frame_view(coef[t:t + 1], table[t:t + 1], variation[t:t + 1], cfg, seeds[t:t + 1])
                 for t in range(n_frames)]
    else:
        views = [frame_view(coef, table, variation, cfg, seeds)] * n_frames
    if any(v is None for v in views):
        empty.problem = "empty"
        return empty
    views = np.stack(views)
    size = views[:, 2:] - views[:, :2]
    if np.any(size < 4 * cfg.framing_window / cfg.framing_res):
        empty.problem, empty.view = "tiny", views
        return empty
    border = cfg.splat // 2
    kernel_view = np.concatenate([views[:, :2], res / size], 1).astype(np.float32)
    drawn = cfg.walkers * (cfg.steps - cfg.discard)
    counts, escaped = chaos_game(coef, table, variation, kernel_view, res, border, cfg.steps, cfg.discard,
                                 seeds, cfg.min_in_view * drawn)
    frames, coverage = splat_and_tone_map(counts, cfg.splat, cfg.image)
    in_view = counts.sum(axis=(1, 2), dtype=np.int64) / drawn
    out = Rendered(frames, None, coverage, in_view, views)
    out.problem = diagnose(out, cfg)
    return out


def diagnose(r: Rendered, cfg: FractalConfig) -> str | None:
    """Why a rendered clip is unusable, or None.

    exploding: some frame keeps fewer than min_in_view of its points in view;
    empty: some frame lights fewer than min_coverage of the pixels;
    saturated: some frame lights more than max_coverage (a washed-out blob).
    """
    if np.min(r.in_view) < cfg.min_in_view:
        return "exploding"
    if np.min(r.coverage) < cfg.min_coverage:
        return "empty"
    if np.max(r.coverage) > cfg.max_coverage:
        return "saturated"
    return None
