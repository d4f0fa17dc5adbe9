"""The package's fractal generator side by side with the paper's public generator, in one job.

    python benchmarks/side_by_side.py --public PATH            # print the table
    python benchmarks/side_by_side.py --public PATH --write    # and write the JSON, the figure, docs/generator.md
    python benchmarks/side_by_side.py --markdown               # the docs table from the written JSON

PATH is the root of a local copy of github.com/davidsvy/fractal_video at commit 7dd100f (never committed
here). The public code needs scipy and numba: `pip install scipy`, or --site DIR, a folder holding scipy.
Without PATH the script says so and exits 0 (skipped).

Both generators draw --clips unsupervised clips (no instance perturbation) at the paper's settings; per
generator: the shear of each map (|(W^T W)_01| / trace W^T W), |det W|, each frame's sigma factor
sum_i (s1 + 2 s2) against the public code's alpha range [(5+K)/2, (6+K)/2], and the largest one-frame jump of
the motion curves; --render clips of each are rendered for the lit share of frames and the frame-to-frame
change. The package redraws degenerate draws, the public code keeps every one: "all draws" are the package's
first draws, "kept" the clips it keeps. same_uniforms feeds both implementations the same random numbers.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import time
import types
from collections import Counter
from pathlib import Path

import numba
import numpy as np

from fractalvid.atomic import write_json, write_text
from fractalvid.clips.ifs import (FractalConfig, KeyFrames, curve_periodic, curve_spline, interpolate,
                                  quadratic_spline, raised_sine, sample_clip, sample_motion_curves,
                                  sample_sigma_factors)
from fractalvid.clips.render import render_clip

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "side_by_side.json"
FIGURE, DOC = ROOT / "docs" / "figures" / "side_by_side.png", ROOT / "docs" / "generator.md"
PUBLIC_COMMIT = "7dd100f18bdce772444bd365ea32eb467844e77e"
BEGIN = "<!-- side-by-side: written by benchmarks/side_by_side.py; do not edit by hand -->"
END = "<!-- /side-by-side -->"
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
MOVE = 16 / 255      # a pixel changing by more than this between frames moves
CURVE_DRAWS = 5000


# ------------------------------------------------------------------ the two generators

def load_public(path: Path, site: Path | None):
    """The public generator's functions, or None after saying why. Its package __init__ files pull in video
    writers (cv2) that the generator does not need, so `src.synthetic` and its io module are stubbed."""
    if site is not None:
        sys.path.append(str(site))
    try:
        import scipy.interpolate  # noqa: F401
    except ImportError:
        print("skipped: the public code needs scipy and numba; `pip install scipy` or pass --site DIR")
        return None
    _numba_uniform_keywords()
    sys.path.insert(0, str(path))
    for name, folder in (("src", "src"), ("src.synthetic", "src/synthetic")):
        stub = types.ModuleType(name)
        stub.__path__ = [str(path / folder)]
        sys.modules[name] = stub
    sys.modules["src.synthetic.io"] = types.SimpleNamespace(save_imgs=None, save_video=None)
    from src.synthetic import params as curves
    from src.synthetic.fractal import build, params
    box = build.estimate_bounding_box   # NumPy 2: see SHIMS
    build.estimate_bounding_box = lambda img, kept=0.9: box(img, kept).astype(np.int64)
    return types.SimpleNamespace(**{**vars(curves), **vars(params), **vars(build)})  # every public function by name


SHIMS = [  # what the public code needs to run as its authors ran it (NumPy 1, an older numba); recorded in the JSON
    "numba: np.random.uniform(a=, b=, size=) in its chaos game; current numba names them low, high only, so "
    "overloads taking a, b are registered",
    "NumPy 2: detect_borders subtracts the margin from the uint32 box edges of estimate_bounding_box; NumPy 1's "
    "value-based casting made that signed, NumPy 2 wraps it below 0 and the view breaks (an all-black clip "
    "whenever the box touches the framing window's top or left edge), so the box is cast to int64",
]


def _numba_uniform_keywords() -> None:
    """The public chaos game calls np.random.uniform(a=-1, b=1, size=...) inside numba; numba releases since
    the public code was written name those arguments low and high only, so the old names are added back here."""
    from numba.extending import overload

    @overload(np.random.uniform)
    def uniform_a_b(a, b, size=None):  # numba's parallel pass rewrites the array call into scalar calls
        if size is None or isinstance(size, numba.types.NoneType):
            return lambda a, b, size=None: a + (b - a) * np.random.random()
        return lambda a, b, size=None: a + (b - a) * np.random.random(size)


def public_args(cfg: FractalConfig) -> argparse.Namespace:
    """The public argparse defaults (src/synthetic/args.py) at the paper's settings."""
    return argparse.Namespace(img=False, bs_point=cfg.walkers, res=cfg.res, iter=cfg.steps, iter_skip=cfg.discard,
                              iter_b=3000, res_b=128, thres_b=0.9, var=[-1], linear_motion=False)


@numba.njit
def _seed_numba(s):  # the public chaos game draws from numba's own generator
    np.random.seed(s)


def seed_public(s: int) -> None:
    random.seed(s)
    np.random.seed(s)
    _seed_numba(s)


def public_draw(pub, seed: int, i: int):
    """Clip i of the public generator: (coef (T, K, 6) float64, lambda (T, K), variation)."""
    seed_public(seed * 1_000_003 + i)
    params = pub.sample_params_video(var=[-1])
    return pub.compose_params(params).astype(np.float64), params["interp"].astype(np.float64), params["var"]


def package_draw(seed: int, i: int, cfg: FractalConfig):
    """Clip i of the package, first draw: (coef, lambda (T, K) drawn alone on a fresh generator)."""
    coef = sample_clip(np.random.default_rng([seed, i]), cfg).coef
    lam, _ = sample_motion_curves(np.random.default_rng([seed, i]), coef.shape[0], coef.shape[1], cfg)
    return coef, lam


# ------------------------------------------------------------------ one function per statistic

def linear_parts(coefs) -> np.ndarray:
    """All map-frames' W = [[a, b], [d, e]] of a list of (T, K, 6) clips, (N, 2, 2)."""
    c = np.concatenate([x.reshape(-1, 6) for x in coefs])
    return c[:, [0, 1, 3, 4]].reshape(-1, 2, 2)


def shear(coefs) -> np.ndarray:
    w = linear_parts(coefs)
    g = np.transpose(w, (0, 2, 1)) @ w
    return np.abs(g[:, 0, 1]) / np.maximum(g[:, 0, 0] + g[:, 1, 1], 1e-300)


def abs_det(coefs) -> np.ndarray:
    w = linear_parts(coefs)
    return np.abs(np.linalg.det(w))


def sigma_factor(coefs) -> tuple[np.ndarray, np.ndarray]:
    """Per frame sum_i (s1 + 2 s2), and its offset from the alpha range's low end (5+K)/2 (range: [0, 1])."""
    sums, offsets = [], []
    for c in coefs:
        s = np.linalg.svd(c[..., [0, 1, 3, 4]].reshape(c.shape[:2] + (2, 2)), compute_uv=False)
        total = (s[..., 0] + 2 * s[..., 1]).sum(1)
        sums.append(total)
        offsets.append(total - (5 + c.shape[1]) / 2)
    return np.concatenate(sums), np.concatenate(offsets)


def max_jump(lams) -> np.ndarray:
    """Per clip, the largest |lambda[t+1] - lambda[t]| over frames and maps."""
    return np.array([np.abs(np.diff(l, axis=0)).max() for l in lams])


def image_stats(frames: np.ndarray) -> dict:
    """Frames (T, R, R) on a 0..1 grey scale: lit share per frame, mean |change| and moving share per clip."""
    diff = np.abs(np.diff(frames, axis=0))
    return {"lit": (frames > 0).mean((1, 2)), "change": float(diff.mean()), "moving": float((diff > MOVE).mean())}


def summary(v) -> dict:
    v = np.asarray(v, float)
    return {"n": int(v.size), "mean": float(v.mean()),
            "quantiles": {str(q): float(np.quantile(v, q)) for q in QUANTILES}}


def param_stats(coefs, lams=None) -> tuple[dict, dict]:
    """The parameter statistics of a set of clips: the JSON summary and the raw values for the figure."""
    sh, det, (sums, offset) = shear(coefs), abs_det(coefs), sigma_factor(coefs)
    in_range = (offset >= -1e-6) & (offset <= 1 + 1e-6)   # float32 public values sit on the range's ends
    out = {"clips": len(coefs), "shear": {**summary(sh), "share_above_0.05": float((sh > 0.05).mean())},
           "abs_det": summary(det), "sigma_factor": {**summary(sums), "offset_from_alpha_low": summary(offset),
                                                     "share_in_alpha_range": float(in_range.mean())}}
    raw = {"shear": sh, "det": det, "sigma_offset": offset}
    if lams is not None:
        raw["jump"] = jump = max_jump(lams)
        out["curve_max_jump"] = {**summary(jump), "share_above_0.5": float((jump > 0.5).mean()),
                                 "share_above_0.25": float((jump > 0.25).mean())}
    return out, raw


def render_package(seed: int, n: int, cfg: FractalConfig) -> dict:
    """Render n clips the way the package makes them: degenerate draws redrawn (attempt a > 0: [seed, i, a])."""
    first, kept, problems, coefs, seconds, draws = [], [], Counter(), [], 0.0, 0
    for i in range(n):
        start = time.perf_counter()
        for attempt in range(cfg.max_attempts):
            rng = np.random.default_rng([seed, i] if attempt == 0 else [seed, i, attempt])
            params = sample_clip(rng, cfg)
            r = render_clip(params, cfg, rng)
            draws += 1
            frames = r.frames.astype(np.float32) / 255
            if attempt == 0:
                first.append(image_stats(frames))
            problems[r.problem or "kept"] += attempt == 0
            if r.problem is None:
                kept.append(image_stats(frames))
                coefs.append(params.coef)
                break
        seconds += time.perf_counter() - start
    return {"first": first, "kept": kept, "problems": dict(problems), "kept_coefs": coefs, "draws": draws,
            "s_per_kept_clip": seconds / n, "s_per_draw": seconds / draws}


def render_public(pub, seed: int, n: int, cfg: FractalConfig) -> dict:
    """Render n public clips (every draw kept); frames after its log tone map, in [0, 1]."""
    args, rows, seconds = public_args(cfg), [], 0.0
    for i in range(n):
        start = time.perf_counter()
        coef, _, var = public_draw(pub, seed, i)
        frames = pub.build_single(args, coef.astype(np.float32), var)
        seconds += time.perf_counter() - start
        rows.append(image_stats(np.asarray(frames, np.float32)))
    return {"kept": rows, "s_per_clip": seconds / n}


def image_summary(rows, cfg: FractalConfig) -> tuple[dict, dict]:
    lit = np.concatenate([r["lit"] for r in rows])
    change = np.array([r["change"] for r in rows])
    moving = np.array([r["moving"] for r in rows])
    fails = np.mean([(r["lit"].min() < cfg.min_coverage) or (r["lit"].max() > cfg.max_coverage) for r in rows])
    return ({"clips": len(rows), "lit_share": summary(lit), "change": summary(change),
             "moving_share": summary(moving), "share_failing_coverage_checks": float(fails)},
            {"lit": lit, "change": change})


def curve_only(pub, seed: int) -> dict:
    """5000 'curve' and 5000 'periodic' curves of each generator, T in 18..20 in turn."""
    rng, out = np.random.default_rng([seed, 1]), {}
    seed_public(seed)
    pkg = [curve_spline(rng, 18 + i % 3) for i in range(CURVE_DRAWS)]
    pubc = [pub.interp_curve(18 + i % 3) for i in range(CURVE_DRAWS)]
    for name, cs in (("public", pubc), ("fractalvid", pkg)):
        out[name] = {"curve": {
            "share_jump_above_0.5": float(np.mean([np.abs(np.diff(c)).max() > 0.5 for c in cs])),
            "share_frames_outside_0_1": float(np.mean(np.concatenate([(c < 0) | (c > 1) for c in cs]))),
            "share_first_value_0": float(np.mean([c[0] == 0 for c in cs]))}}
    pkg = np.concatenate([curve_periodic(rng, 18 + i % 3) for i in range(CURVE_DRAWS)])
    pubp = np.concatenate([pub.interp_periodic(18 + i % 3) for i in range(CURVE_DRAWS)])
    for name, v in (("public", pubp), ("fractalvid", pkg)):
        out[name]["periodic"] = {"min": float(v.min()), "max": float(v.max())}
    out["fractalvid"]["curve"]["note"] = "clipped to [0, 1] by the package"
    return out


# ------------------------------------------------------------------ the same random numbers

class GlobalUniforms:
    """A stand-in for np.random.Generator that draws from the legacy global state the public code uses."""

    def uniform(self, lo, hi, size=None):
        return np.random.uniform(lo, hi, size)


def check_sigma_factors(pub, s: int) -> float:
    k = 3 + s % 6
    seed_public(s)
    theirs = pub.sample_sigma_aux(k)
    seed_public(s)
    return float(np.abs(sample_sigma_factors(GlobalUniforms(), k) - theirs).max())


def check_composition(pub, s: int) -> float:
    """The public key frames as the package's KeyFrames: angle[..., 0] theta, angle[..., 1] phi, the diagonals
    of sigma, delta[0] (D1) and delta[1] (D2); a constant bias ends where it starts."""
    seed_public(s)
    raw = pub.sample_params_video(var=[0])
    p = {k: np.asarray(v, np.float64) for k, v in raw.items() if isinstance(v, np.ndarray)}
    diag = lambda m: np.diagonal(m, axis1=-2, axis2=-1)
    bias = p["bias"][[0, 0]] if raw["is_constant"] else p["bias"]
    keys = KeyFrames(p["angle"][..., 0], p["angle"][..., 1], diag(p["sigma"]), bias, diag(p["delta"][0]),
                     diag(p["delta"][1]))
    return float(np.abs(interpolate(keys, p["interp"], "decomposed") - pub.compose_params(raw)).max())


def check_curve(pub, s: int, n_frames: int) -> float:
    """interp_curve: random.randint(5, 9) knots, up to 6 draws of np.random.uniform values; compared unclipped."""
    seed_public(s)
    theirs = pub.interp_curve(n_frames)
    seed_public(s)
    n = random.randint(5, 9)
    for _ in range(6):
        y = np.random.uniform(0.0, 1.0, size=n)
        if np.abs(np.diff(y)).mean() > 0.45:
            break
    return float(np.abs(quadratic_spline(np.linspace(0, 1, n), y, np.linspace(0, 1, n_frames)) - theirs).max())


def check_periodic(pub, s: int, n_frames: int) -> tuple[float, float, bool]:
    """random_sin: frequencies then amplitudes, one per half period; (raw diff, diff clipped to [0, 1], public
    outside [0, 1])."""
    period = 5 + s % 11
    n = math.ceil(n_frames / period)
    size = len(np.arange(0, (n + 1) * 2 * np.pi, np.pi))  # the public knots: 2 n + 2
    np.random.seed(s)
    theirs = pub.random_sin(period, n)
    np.random.seed(s)
    ours = raised_sine(period, n, np.random.uniform(0.15, 1.7, size=size), np.random.uniform(0.6, 1.0, size=size))
    clipped = np.abs(np.clip(ours, 0, 1) - np.clip(theirs, 0, 1)).max()
    return float(np.abs(ours - theirs).max()), float(clipped), bool(np.any((theirs < 0) | (theirs > 1)))


def check_instance_curve(pub, s: int, n_frames: int) -> float:
    """random_curve(T, eps=0.4): random.randint(4, 7) knots with values U(0.6, 1.4)."""
    seed_public(s)
    theirs = pub.random_curve(n_frames, eps=0.4)
    seed_public(s)
    n = random.randint(4, 7)
    ours = quadratic_spline(np.linspace(0, 1, n), np.random.uniform(0.6, 1.4, size=n), np.linspace(0, 1, n_frames))
    return float(np.abs(ours - theirs).max())


def same_uniforms(pub, seeds: int = 200, n_frames: int = 20) -> dict:
    """Max |difference| between the two implementations given the same random numbers, over seeds 0..seeds-1."""
    rows = [(check_sigma_factors(pub, s), check_composition(pub, s), check_curve(pub, s, n_frames),
             *check_periodic(pub, s, n_frames), check_instance_curve(pub, s, n_frames)) for s in range(seeds)]
    names = ("sigma_factors", "composition", "curve", "periodic", "periodic_clipped", "periodic_public_outside_0_1",
             "instance_curve")
    d = {n: float(np.max([r[i] for r in rows])) for i, n in enumerate(names)}
    outside = int(sum(r[5] for r in rows))
    del d["periodic_public_outside_0_1"]
    tol = {"sigma_factors": 1e-6, "composition": 1e-5, "curve": 1e-12, "periodic": 1e-9, "periodic_clipped": 1e-9,
           "instance_curve": 1e-12}
    return {"seeds": seeds, "max_abs_diff": d, "tolerance": tol, "pass": {k: d[k] <= tol[k] for k in d},
            "periodic_draws_outside_0_1": outside, "note": "the public sigma factors and maps are float32; "
            "periodic_clipped compares both waves clipped to [0, 1]"}


# ------------------------------------------------------------------ reporting

def pct(x) -> str:
    return f"{100 * x:.1f} %"


def table(res: dict) -> list[tuple[str, str, str]]:
    """One row per statistic: (statistic, public generator, fractalvid); "kept" where redrawing changes it."""
    p, f, k = res["public"], res["fractalvid"], res["fractalvid"]["kept"]
    med = lambda s: f"{s['quantiles']['0.5']:.3f}"
    span = lambda s, lo, hi: f"[{s['quantiles'][lo]:.3f}, {s['quantiles'][hi]:.3f}]"
    shear = lambda g: f"{med(g['params']['shear'])} ({pct(g['params']['shear']['share_above_0.05'])})"
    det = lambda g: f"{med(g['params']['abs_det'])} {span(g['params']['abs_det'], '0.05', '0.95')}"
    alpha = lambda g: pct(g["params"]["sigma_factor"]["share_in_alpha_range"])
    offset = lambda g: span(g["params"]["sigma_factor"]["offset_from_alpha_low"], "0.01", "0.99")
    jump = lambda g: pct(g["params"]["curve_max_jump"]["share_above_0.5"]) + \
        f" ({pct(g['params']['curve_max_jump']['share_above_0.25'])})"
    lit = lambda g: med(g["images"]["lit_share"])
    change = lambda g: f"{g['images']['change']['mean']:.4f} ({pct(g['images']['moving_share']['mean'])})"
    curve = lambda key: tuple(pct(res["curves"][n]["curve"][key]) for n in ("public", "fractalvid"))
    periodic = tuple("[{min:.3f}, {max:.3f}]".format(**res["curves"][n]["periodic"]) for n in ("public", "fractalvid"))
    rejected = ", ".join(f"{n} {c}" for n, c in sorted(f["problems"].items()) if n != "kept") or "none"
    return [
        ("map shear: median (share > 0.05)", shear(p), f"{shear(f)}; kept {shear(k)}"),
        ("abs det W: median [5 %, 95 %]", det(p), f"{det(f)}; kept {det(k)}"),
        ("frames whose sigma factor is in the alpha range", alpha(p), f"{alpha(f)}; kept {alpha(k)}"),
        ("sigma factor - (5+K)/2: [1 %, 99 %]", offset(p), f"{offset(f)}; kept {offset(k)}"),
        ("clips whose curves jump > 0.5 (> 0.25) in a frame", jump(p), jump(f)),
        ("'curve' alone: draws with a one-frame jump > 0.5", *curve("share_jump_above_0.5")),
        ("'curve' alone: frames outside [0, 1]", *curve("share_frames_outside_0_1")),
        ("'periodic' alone: lambda range", *periodic),
        ("lit share of a frame: median", lit(p), f"{lit(f)}; kept {lit(k)}"),
        ("frame-to-frame change: mean (moving share)", change(p), f"{change(f)}; kept {change(k)}"),
        ("clips failing the package's coverage checks", pct(p["images"]["share_failing_coverage_checks"]),
         pct(f["images"]["share_failing_coverage_checks"])),
        ("first draws rejected and redrawn", "none: every draw kept", f"{pct(f['rejected_share'])} ({rejected})"),
        ("wall time per clip, one thread (s)", f"{p['s_per_clip']:.2f}",
         f"{f['s_per_kept_clip']:.2f} ({f['s_per_draw']:.2f} per draw)"),
    ]


def markdown(res: dict) -> str:
    lines = ["| statistic | public generator | fractalvid |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in table(res)]
    s = res["settings"]
    return "\n".join(lines) + (f"\n\n{s['clips']} clips per generator ({s['render']} rendered), {s['res']} px, "
                               f"{s['walkers']} walkers x {s['steps']} steps; public commit {res['public_commit'][:7]}; "
                               "fractalvid: all first draws; 'kept': the clips it keeps after redrawing.")


def figure(raw: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [("shear", "map shear |(W^T W)_01| / tr", np.linspace(0, 0.5, 41)),
              ("det", "|det W| per map-frame", np.linspace(0, 1, 41)),
              ("sigma_offset", "sigma factor - (5+K)/2 (alpha range: [0, 1])", np.linspace(-1, 1.5, 51)),
              ("lit", "lit share of a frame", np.linspace(0, 1, 41)),
              ("change", "mean |frame-to-frame change| per clip", np.linspace(0, 0.15, 41)),
              ("jump", "largest one-frame curve jump per clip", np.linspace(0, 1, 41))]
    plt.rcParams.update({"font.size": 13})
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    for ax, (key, title, bins) in zip(axes.flat, panels):
        for name, colour in (("public", "tab:orange"), ("fractalvid", "tab:blue")):
            v = np.clip(raw[name][key], bins[0], bins[-1])
            ax.hist(v, bins, density=True, alpha=0.5, color=colour, label=f"{name} (n = {len(v)})")
        if key == "sigma_offset":
            ax.axvspan(0, 1, color="grey", alpha=0.15, label="alpha range")
        ax.set_title(title)
        ax.set_yticks([])
    for ax in axes.flat[[0, 2, 3]]:
        ax.legend()
    fig.suptitle("fractalvid (first draws, before redrawing) beside the paper's public generator; "
                 "values past an axis are piled on its end bin")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def write_doc_table(res: dict) -> None:
    text = DOC.read_text() if DOC.exists() else ""
    if BEGIN not in text or END not in text:
        print(f"note: {DOC.relative_to(ROOT)} has no side-by-side markers; its table was not written")
        return
    head, rest = text.split(BEGIN, 1)
    write_text(DOC, head + BEGIN + "\n" + markdown(res) + "\n" + END + rest.split(END, 1)[1])


def public_commit(path: Path) -> str:
    out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else PUBLIC_COMMIT + " (assumed: PATH is not a git checkout)"


# ------------------------------------------------------------------ main

def run(pub, a: argparse.Namespace) -> tuple[dict, dict]:
    """Every statistic of both generators: the JSON results and the raw values for the figure."""
    cfg = FractalConfig(res=a.res, steps=a.steps)
    res = {"benchmark": "side_by_side", "public_commit": public_commit(a.public),
           "settings": {"clips": a.clips, "render": a.render, "res": a.res, "walkers": cfg.walkers, "steps": a.steps,
                        "discard": cfg.discard, "seed": a.seed, "threads": a.threads}, "public_shims": SHIMS}
    print("warming up (numba compiles both chaos games) ...", flush=True)
    render_package(a.seed + 1, 1, FractalConfig(res=64, steps=400))
    render_public(pub, a.seed + 1, 1, FractalConfig(res=64, steps=400))
    raw, pubd, pkgd = {}, [public_draw(pub, a.seed, i) for i in range(a.clips)], [
        package_draw(a.seed, i, cfg) for i in range(a.clips)]
    (pp, raw["public"]), (fp, raw["fractalvid"]) = (param_stats([d[0] for d in pubd], [d[1] for d in pubd]),
                                                    param_stats([d[0] for d in pkgd], [d[1] for d in pkgd]))

    print(f"rendering {a.render} clips of each ...", flush=True)
    rp, rf = render_public(pub, a.seed, a.render, cfg), render_package(a.seed, a.render, cfg)
    (pi, pimg), (fi, fimg) = image_summary(rp["kept"], cfg), image_summary(rf["first"], cfg)
    raw["public"].update(pimg)
    raw["fractalvid"].update(fimg)
    res["public"] = {"params": pp, "images": pi, "s_per_clip": rp["s_per_clip"]}
    res["fractalvid"] = {"params": fp, "images": fi, "kept": {"params": param_stats(rf["kept_coefs"])[0],
                                                              "images": image_summary(rf["kept"], cfg)[0]},
                         "problems": rf["problems"], "rejected_share": 1 - rf["problems"].get("kept", 0) / a.render,
                         "draws_per_kept_clip": rf["draws"] / a.render, "s_per_kept_clip": rf["s_per_kept_clip"],
                         "s_per_draw": rf["s_per_draw"]}
    res["curves"] = curve_only(pub, a.seed)
    res["same_uniforms"] = same_uniforms(pub)
    return res, raw


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--public", type=Path, help="root of a local copy of github.com/davidsvy/fractal_video @ 7dd100f")
    ap.add_argument("--site", type=Path, help="a folder holding scipy, appended to sys.path (the public code needs it)")
    ap.add_argument("--clips", type=int, default=300, help="clips drawn per generator (default 300)")
    ap.add_argument("--render", type=int, default=100, help="clips rendered per generator (default 100)")
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--steps", type=int, default=7500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="numba threads for both (default 1: the package renders "
                    "a clip on one thread and runs clips in parallel processes)")
    ap.add_argument("--write", action="store_true", help="write the JSON, the figure and the docs table")
    ap.add_argument("--markdown", action="store_true", help="print the docs table of the written JSON and exit")
    a = ap.parse_args(argv)
    if a.markdown:
        print(markdown(json.loads(RESULTS.read_text())))
        return 0
    if a.public is None or not (a.public / "src/synthetic/fractal/params.py").exists():
        print(f"skipped: pass --public PATH, the root of a local copy of github.com/davidsvy/fractal_video at commit "
              f"{PUBLIC_COMMIT[:7]} (git clone, then git checkout {PUBLIC_COMMIT[:7]}); got {a.public}. "
              "The public code needs scipy and numba (pip install scipy).")
        return 0
    pub = load_public(a.public.resolve(), a.site)
    if pub is None:
        return 0
    numba.set_num_threads(a.threads)
    res, raw = run(pub, a)
    rows = [("statistic", "public generator", "fractalvid")] + table(res)
    w0, w1 = (max(len(r[i]) for r in rows) for i in (0, 1))
    print("\n".join(f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]}" for r in rows))
    print("same uniforms, max |diff|:", {k: f"{v:.1e}" for k, v in res["same_uniforms"]["max_abs_diff"].items()})
    if a.write:
        from fractalvid.numerics import machine
        res["machine"] = machine()
        write_json(RESULTS, res)
        figure(raw, FIGURE)
        write_doc_table(res)
        print(f"wrote {RESULTS.relative_to(ROOT)}, {FIGURE.relative_to(ROOT)}, {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
