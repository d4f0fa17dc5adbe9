"""Tabulate every transfer benchmark result into reports/study.md (and a margin figure per curve).

    python benchmarks/study.py          # reads benchmarks/results/transfer*.json, writes reports/study.md

One row per results file: what it changed (the options of ``benchmarks/transfer.py``), the pretext task's
train top-1, the pre-training minutes, and per downstream set the fractal-minus-scratch margin in points
with its 95 % interval, the number of test clips and whether it was scored on the test parts or on held-out
training clips (recipe selection). Margin-versus-labelled-data and margin-versus-compute curves are drawn
from the rows that vary those options alone.
"""
from __future__ import annotations

import json
from pathlib import Path

import record
from fractalvid.evaluation.ablations import current_name

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = ROOT / "reports" / "study.md"
FIGURES = ROOT / "reports" / "figures" / "study"


def load() -> list[dict]:
    """The record's rows (benchmarks/record.py), with the fields this table reads."""
    rows = []
    for r in record.read():
        o = r["options"]
        changes = {current_name(k): v for k, v in r["changes"].items()}   # keys as params.yaml names them now
        rows.append({**r, "changes": changes, "file": r["id"] + ".json", "family": o.get("family") or "fractal", "control": o.get("control"),
                     "pretrain_epochs": r["pretrain"]["epochs"], "pretrain_minutes": r["pretrain"]["minutes"],
                     "pretrain_clip_passes": r["pretrain"]["clip_passes"], "pretext_top1": r["pretrain"]["pretext_top1"],
                     "label_fraction": o.get("label_fraction") or 1.0, "holdout": o.get("holdout"),
                     "pretrained": one_network(o.get("pretrained")), "early_stop": o.get("early_stop"),
                     "stream": o.get("stream"), "summary": r["datasets"]})
    named = {Path(r["file"]).stem: r for r in rows}
    for r in rows:
        r["pretrain_changes"] = pretraining_changes(r, named)
    return rows


PRETRAIN_KEYS = ("generate.", "pretrain.")   # the --set keys that shape a pre-training


def one_network(pretrained):
    """A row's --pretrained as one name: the pipeline's draws (models/pretrain/N, one or several) are its
    network, ``models/pretrain``; other lists are joined."""
    names = pretrained if isinstance(pretrained, list) else [pretrained] if pretrained else []
    if names and all(n == "models/pretrain" or n.startswith("models/pretrain/") for n in names):
        return "models/pretrain"
    return ", ".join(names) or None


def pretraining_changes(r: dict, named: dict[str, dict]) -> dict | None:
    """The ``--set`` changes that made a row's pre-trained network: its own generate.* and pretrain.* ones when it
    pre-trained; none for the pipeline's ``models/pretrain`` (params.yaml's); for ``--pretrained
    benchmarks/work/NAME/pretrain``, those of the run NAME that made it (``named``: rows by results-file stem),
    or None where that run is not here or did not pre-train itself."""
    where = r.get("pretrained")
    if not where:
        return {k: v for k, v in r["changes"].items() if k.startswith(PRETRAIN_KEYS)}
    parts = Path(where).parts
    if parts[0] == "models":
        return {}
    source = named.get(parts[2]) if len(parts) == 4 and parts[:2] == ("benchmarks", "work") else None
    if source is None or source.get("pretrained"):
        return None
    return {k: v for k, v in source["changes"].items() if k.startswith(PRETRAIN_KEYS)}


def cell(summary: dict, dataset: str) -> str:
    e = summary.get(dataset)
    if not e or "margin_top1" not in e:
        return "-"
    m = e["margin_top1"]
    return (f"{100 * m['mean']:+.1f} [{100 * m['ci95'][0]:+.1f}, {100 * m['ci95'][1]:+.1f}] "
            f"({100 * e['scratch_top1']['mean']:.0f} -> {100 * e['fractal_top1']['mean']:.0f} %, "
            f"{len(m['per_seed'])} seeds, {e['test_clips']} clips)")


def plot_margins(ax, points: list[tuple[float, dict]], fmt: str, color: str, label: str,
                 from_zero: bool = False) -> None:
    """One series of (x, a set's summary) points: the mean margin in points with its 95 % CI as error bars,
    and each seed's margin as a dot; ``from_zero`` starts the line at (0, 0), scratch."""
    zero = [0.0] if from_zero else []
    margins = [e["margin_top1"] for _, e in points]
    ax.errorbar(zero + [x for x, _ in points], zero + [100 * m["mean"] for m in margins],
                yerr=[zero + [100 * (m["mean"] - m["ci95"][0]) for m in margins],
                      zero + [100 * (m["ci95"][1] - m["mean"]) for m in margins]],
                fmt=fmt, capsize=3, color=color, label=f"{label}: mean, 95 % CI")
    for (x, _), m in zip(points, margins):
        ax.scatter([x] * len(m["per_seed"]), [100 * v for v in m["per_seed"]], s=9, color=color, alpha=0.4)


def pretraining_of(r: dict) -> str:
    """A row's pre-training in words: its --set changes outside the fine-tuning recipe, or the network it reused."""
    changes = {k: v for k, v in r["changes"].items() if not k.startswith("finetune.")}
    if r["pretrained"] == "models/pretrain" or (not changes and not r["pretrained"]):
        return "the pipeline's network"
    return ", ".join(f"`{k}={record.spelled(v)}`" for k, v in changes.items()) or f"`{r['pretrained']}`"


def mean_best_epoch(r: dict, dataset: str, init: str) -> float | None:
    """The mean over seeds and folds of the epoch an early-stopped run kept (None for fixed-length runs)."""
    epochs = [b for run in r["runs"] if run["dataset"] == dataset and run["init"] == init
              for b in run.get("fold_best_epoch", [])]
    return sum(epochs) / len(epochs) if epochs else None


def label_series(r: dict) -> str | None:
    """The margin-versus-labelled-data series of a row (scored on test, fractal, no control), or None: the
    fixed-length runs of params.yaml's recipe on the pipeline's network, or early-stopped runs (each trained
    until it converged on held-out clips) on one pre-training."""
    if r["scored_on"] != "test" or r["family"] != "fractal" or r["control"] or r["pretrain_epochs"] != 20:
        return None
    if r["early_stop"]:
        return f"trained to convergence (early stopping), {pretraining_of(r)}"
    if r["changes"] == {} and r["pretrained"] in (None, "models/pretrain"):
        return f"{r['finetune_epochs']} epochs, the pipeline's network"
    return None


def label_curve(rows: list[dict], path: Path) -> list[str]:
    """The margin-versus-labelled-data curve: the margin (points, 95 % CI, per-seed dots) against the labelled
    share of each training fold, one series per :func:`label_series`, one panel per set; returns the table of
    its points as markdown lines (nothing if no series has two points)."""
    series: dict[str, list[dict]] = {}
    for r in rows:
        if on_curve_sets(r) and (name := label_series(r)) is not None:
            series.setdefault(name, []).append(r)
    series = {k: sorted(v, key=lambda r: r["label_fraction"]) for k, v in series.items() if len(v) >= 2}
    if not series:
        return []
    table = ["| series | labelled | fine-tuning | kept epoch, scratch / fractal | actions margin | "
             "basketball5 margin |", "|---|---|---|---|---|---|"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for k, (name, pts) in enumerate(series.items()):
        for r in pts:
            tuning = (f"up to {r['finetune_epochs']} epochs, stopped {r['early_stop']} after the best on held-out "
                      "clips" if r["early_stop"] else f"{r['finetune_epochs']} epochs")
            kept = "; ".join(f"{d}: {mean_best_epoch(r, d, 'scratch'):.0f} / {mean_best_epoch(r, d, 'fractal'):.0f}"
                             for d in ("actions", "basketball5") if mean_best_epoch(r, d, "fractal") is not None)
            table.append(f"| {name} | {100 * r['label_fraction']:.0f} % | {tuning} | {kept or '-'} | "
                         f"{cell(r['summary'], 'actions')} | {cell(r['summary'], 'basketball5')} |")
        for ax, dataset in zip(axes, ("actions", "basketball5")):
            points = [(r["label_fraction"], r["summary"][dataset]) for r in pts
                      if "margin_top1" in r["summary"].get(dataset, {})]
            if not points:
                continue
            shift = 1 + 0.04 * k   # series side by side, not on top of each other
            # the legend's name: the table's, without markdown or the settings' section names
            label = name.replace("`", "").replace("generate.", "").replace("pretrain.", "")
            plot_margins(ax, [(x * shift, e) for x, e in points], "o-", f"C{k}", label)
            e = points[0][1]
            ax.set_title(f"{dataset}: {e['test_clips']} test clips, chance {100 * e['chance']:.0f} %", fontsize=9)
    shares = sorted({r["label_fraction"] for pts in series.values() for r in pts})
    for ax in axes:
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_xticks(shares, [f"{100 * x:g} %" for x in shares])   # every share measured, not a decade's two ticks
        ax.minorticks_off()
        ax.set_xlabel("labelled share of each training fold")
    axes[0].set_ylabel("fractal - scratch top-1 (points)")
    legend = {}   # one legend for both panels, under them (a series may have points on one set only)
    for ax in axes:
        legend.update(zip(*ax.get_legend_handles_labels()[::-1]))
    fig.legend(list(legend.values()), list(legend), loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize=8)
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return table


# how a row of the curve trained, from its --set changes besides the set's size (generate.classes, per_class)
# and the pre-training seed: params.yaml's step (batch 32; channels-last is the same arithmetic in another
# memory layout), or the faster step of benchmarks/train.py --recipe (batch 64 in channels-last layout)
STILL = ("generate.options.image", True)   # image mode: each frame its own still fractal, nothing moves
# tinted clips, a bright fractal over a dark background, each clip its own colours (augment.tint)
TINT = frozenset({("pretrain.tint", True), ("pretrain.tint_fg", (0.6, 1.0)), ("pretrain.tint_bg", (0.0, 0.3))})
STRIDE1 = ("pretrain.stride", 1)   # the 8 pre-training frames read 1 apart, not 2: half the motion between them
CHANNELS_LAST = ("pretrain.channels_last", True)
STEPS = {frozenset(): "batch 32", frozenset({CHANNELS_LAST}): "batch 32",
         frozenset({STRIDE1}): "stride 1", frozenset({STRIDE1, CHANNELS_LAST}): "stride 1",
         frozenset({("pretrain.batch_size", 64), CHANNELS_LAST}): "batch 64, channels-last",
         frozenset({STILL}): "still", frozenset({STILL, CHANNELS_LAST}): "still",
         TINT: "tinted", TINT | {CHANNELS_LAST}: "tinted"}


def fields(changes: dict) -> frozenset:
    """A row's changes as a set of (key, value) fields, lists as tuples, to look up in :data:`STEPS`."""
    return frozenset((k, tuple(v) if isinstance(v, list) else v) for k, v in changes.items())


# the curve's series: params.yaml's 100 classes with more clips each (a line), the same recipe from another
# pre-training seed (how far one draw moves the margin), the faster step, more classes (the paper's 500), still
# fractals, tinted ones, clips rendered on the fly, and pre-training frames read 1 apart
SERIES = (("batch 32", "more clips per class, 20 epochs", "o-"),
          ("another draw", "the same, another pre-training seed", "v"),
          ("batch 64, channels-last", "the same, batch 64 (channels-last)", "D"),
          ("more classes", "more classes, fewer clips each (each pre-training seed)", "^"),
          ("still", "still fractals (image mode), more clips per class", "P-"),
          ("tinted", "tinted fractals, bright over dark", "*"),
          ("stream", "rendered on the fly, mostly new clips each epoch", "X"),
          ("stride 1", "pre-training frames 1 apart instead of 2", "<"))
# the steps that make a series of their own at any set size, with what the curve's table adds to their row
OWN_SERIES = {"still": ", still fractals (image mode)", "tinted": ", tinted bright over dark",
              "stride 1": ", frames 1 apart"}
CURVE_KEYS = ("generate.classes", "generate.per_class", "pretrain.seed")   # what a point of the curve may set


def setting(r: dict, key: str):
    """The value a row's changes gave ``key``, or None."""
    return r["changes"].get(key)


def curve_point(r: dict) -> tuple[int, int, str] | None:
    """(classes, clips per class, series of :data:`SERIES`) of a row whose pre-training changed nothing but the
    set's size (params.yaml's 100 x 22 for none), the pre-training seed, a step of :data:`STEPS` and whether the
    fractals move, and whose fine-tuning changed nothing; None for any other, and for a network pre-trained
    elsewhere whose settings are not known (:func:`pretraining_changes`)."""
    if (r["scored_on"] != "test" or r["family"] != "fractal" or r["control"] or r["label_fraction"] != 1.0
            or r.get("early_stop") or any(not k.startswith(PRETRAIN_KEYS) for k in r["changes"])
            or r["options"].get("basketball_square")):
        return None
    pre = r.get("pretrain_changes", pretraining_changes(r, {}))
    if pre is None:
        return None
    classes, per_class, seed = (setting({"changes": pre}, k) for k in CURVE_KEYS)
    step = STEPS.get(fields({k: v for k, v in pre.items() if k not in CURVE_KEYS}))
    if r["pretrain_epochs"] != 20 or step is None or (seed is not None and step not in ("batch 32", "stride 1")):
        return None
    classes, per_class = int(classes or 100), int(per_class or 22)
    if r.get("stream"):   # the set is the pool the stream draws from; each epoch renders r["stream"] of it
        return (classes, per_class, "stream") if step == "batch 32" else None
    if step in OWN_SERIES:
        return classes, per_class, step
    if classes != 100:
        return classes, per_class, "more classes"
    return classes, per_class, ("another draw" if seed not in (None, 0) else step)


def on_curve_sets(r: dict) -> bool:
    """Whether a row has a margin on a set the curves draw (actions, basketball5)."""
    return any("margin_top1" in r["summary"].get(d, {}) for d in ("actions", "basketball5"))


def compute_curve(rows: list[dict], ablations: list[dict], path: Path) -> list[str]:
    """The margin-versus-compute curve: the margin (points, 95 % CI, per-seed dots) against the pre-training
    minutes, 0 being scratch, on each set. The ways to spend the minutes: more clips per class at 20 epochs
    (the paper's direction: it trains on 100k clips; these runs' ``generate.per_class``), drawn as a line; the
    same recipe pre-trained with another seed (how far one pre-training draw moves the margin), with the
    faster step, and more classes with fewer clips each (:data:`SERIES`), drawn as points; and more epochs over params.yaml's 2,200 clips (the
    pipeline's DVC experiments, built-in benchmark only). Returns the table of the points as markdown lines
    (nothing if fewer than two budgets)."""
    order = [key for key, _, _ in SERIES]
    pts = sorted(((point, r) for r in rows if (point := curve_point(r)) and on_curve_sets(r)),
                 key=lambda p: (order.index(p[0][2]), p[0][0], p[0][1], setting(p[1], "pretrain.seed") or 0))
    if len(pts) < 2:
        return []
    table = ["| classes x clips per class | pre-training | pre-training min | clip-passes | "
             "pretext train top-1 | actions margin | basketball5 margin |", "|---|---|---|---|---|---|---|"]
    for (classes, per_class, step), r in pts:
        pre = r.get("pretrain_changes", pretraining_changes(r, {}))
        seed = setting({"changes": pre}, "pretrain.seed")
        how = step if step.startswith("batch") else "batch 32"
        how += f", seed {seed}" if seed not in (None, 0) else ""
        how += OWN_SERIES.get(step, "")
        if step == "stream":
            how += f", rendered on the fly ({r['stream']:,} per epoch)"
        if step != "batch 64, channels-last" and pre.get("pretrain.channels_last"):
            how += ", channels-last"   # the same arithmetic, faster: its minutes are not the others'
        table.append(f"| {classes} x {per_class} | {how} | {r['pretrain_minutes']:.1f} | "
                     f"{r['pretrain_clip_passes'] or 0:,} | "
                     f"{100 * r['pretext_top1']:.0f} % | {cell(r['summary'], 'actions')} | "
                     f"{cell(r['summary'], 'basketball5')} |")
    # one row per pre-training, grouped by the way it spends the minutes and ordered by them: the names sit
    # on the axis, so no legend covers a point, and runs of equal minutes do not hide each other
    lines = [(k, label, f"{classes} x {per_class}", r["pretrain_minutes"], r["summary"])
             for k, (key, label, _) in enumerate(SERIES) for (classes, per_class, step), r in pts if step == key]
    epochs = [a for a in ablations if a["changed"].keys() <= {"pretrain.epochs", "pretrain.warmup_epochs"}]
    lines += [(len(SERIES), "more epochs over 2,200 clips (DVC experiments)",
               f"{a['changed'].get('pretrain.epochs', 20)} epochs", a["pretrain_minutes"], a["datasets"])
              for a in sorted(epochs, key=lambda a: a["pretrain_minutes"])]
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.26 * len(lines) + 1.4), sharey=True)
    ys = range(len(lines))[::-1]
    for ax, dataset in zip(axes, ("actions", "basketball5")):
        clips = chance = None
        for y, (k, _, _, _, summary) in zip(ys, lines):
            e = summary.get(dataset, {})
            if "margin_top1" not in e:
                continue
            m = e["margin_top1"]
            ax.errorbar([100 * m["mean"]], [y], xerr=[[100 * (m["mean"] - m["ci95"][0])],
                                                      [100 * (m["ci95"][1] - m["mean"])]],
                        fmt="o", capsize=3, color=f"C{k}")
            ax.scatter([100 * v for v in m["per_seed"]], [y] * len(m["per_seed"]), s=9, color=f"C{k}", alpha=0.4)
            clips, chance = e["test_clips"], e["chance"]
        ax.axvline(0, color="k", lw=0.8)
        ax.grid(axis="x", alpha=0.3)
        ax.set_title(f"{dataset}: {clips} test clips, chance {100 * chance:.0f} %" if clips else dataset, fontsize=9)
        ax.set_xlabel("fractal - scratch top-1 (points): mean, 95 % CI, each seed")
    axes[0].set_yticks(list(ys), [f"{label}: {size}, {minutes:.1f} min" for _, label, size, minutes, _ in lines],
                       fontsize=7)
    for tick, (k, *_) in zip(axes[0].get_yticklabels(), lines):
        tick.set_color(f"C{k}")
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return table


SETS = ("actions", "basketball5", "weizmann6")


def findings(rows: list[dict]) -> list[str]:
    """What the record says, per downstream set, from the rows scored on the test parts: how many settings
    were measured, how many gave a margin whose interval lies above 0, and the largest margin."""
    out = []
    for dataset in SETS:
        scored = [r for r in rows if r["scored_on"] == "test" and "margin_top1" in r["summary"].get(dataset, {})]
        if not scored:
            continue
        above = [r for r in scored if r["summary"][dataset]["margin_top1"]["ci95"][0] > 0]
        best = max(scored, key=lambda r: r["summary"][dataset]["margin_top1"]["mean"])
        e = best["summary"][dataset]
        out.append(f"- **{dataset}** ({e['test_clips']} test clips, chance {100 * e['chance']:.0f} %): "
                   f"{len(scored)} setting{'s' if len(scored) > 1 else ''} read on the test parts, {len(above)} "
                   f"with the interval above 0; the largest margin (the best of {len(scored)}: an optimistic "
                   f"figure) {cell(best['summary'], dataset)}, from {pretraining_of(best)} (`{best['id']}`).")
    return out


def main() -> None:
    rows = load()
    lines = ["# The transfer study", "",
             "Every run here was made with fractalvid 0.1's generator, whose maps never sheared (0.2 composes them "
             "as the method states); none has been rerun with 0.2's. The README's generator-fix table gives the "
             "margins before and after on one machine.", "", "## Findings", "",
             f"Generated from the experiment record (`benchmarks/results/record.jsonl`, {len(rows)} runs; "
             "`benchmarks/record.py` selects its rows by field). Margins: fractal minus scratch top-1 in points, "
             "95 % interval.", "", *findings(rows), "",
             "How the default recipe was chosen is in [selection.md](../benchmarks/results/selection.md); the "
             "weizmann6 grids, each declared before its runs, in "
             "[weizmann6/README.md](../benchmarks/results/weizmann6/README.md).", "", "## Every run", "",
             "Written by `python benchmarks/study.py` from the record (each run made by "
             "`benchmarks/transfer.py` with the options shown). Margins are fractal minus scratch top-1 in "
             "points, mean over paired seeds with the 95 % Student-t interval, then scratch -> fractal mean "
             "top-1, the seeds and the test clips (every clip of the set tested once). Rows scored on "
             "'holdout' chose the recipe on held-out training actors/clips; only 'test' rows are results.", "",
             "| run | scored on | pre-training | pretext train top-1 | labelled | actions margin "
             "| basketball5 margin | weizmann6 margin |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        pre = (("the pipeline's network, " if r["pretrained"] == "models/pretrain" else
                f"the network of `{r['pretrained']}`, ") if r["pretrained"] else "") + \
              f"{r['family']}{' (' + r['control'] + ' labels)' if r['control'] else ''}" + \
              (f" rendered on the fly ({r['stream']:,} clips per epoch)" if r["stream"] else "") + \
              f", {r['pretrain_epochs']} " \
              f"epochs, {r['pretrain_clip_passes'] or 0:,} clip-passes, {r['pretrain_minutes']:.1f} min" + \
              "".join(f", `{k}={record.spelled(v)}`" for k, v in r["changes"].items()) + \
              (", basketball5 square" if r["options"].get("basketball_square") else "")
        labelled = f"{100 * r['label_fraction']:.0f} %" + (f", early stop {r['early_stop']}" if r["early_stop"] else "")
        lines.append(f"| {r['file']}{'' if r['complete'] else ' (partial)'} | {r['scored_on']} | {pre} | "
                     f"{100 * r['pretext_top1']:.0f} % | {labelled} | "
                     f"{cell(r['summary'], 'actions')} | {cell(r['summary'], 'basketball5')} | "
                     f"{cell(r['summary'], 'weizmann6')} |")
    labels = label_curve(rows, FIGURES / "margin_vs_labels.png")
    if labels:
        lines += ["", "## Margin versus labelled data", "",
                  "Fine-tuning on a labelled share of each training fold (`--label-fraction`: the same clips for "
                  "both initialisations of a seed), 5 paired seeds, every clip of the set tested once. "
                  "Fixed-length rows train params.yaml's epochs whatever the share. Early-stopped rows "
                  "(`--early-stop P`) hold a quarter of each fold's training clips out, score them after every "
                  "epoch, stop P epochs after the best one and test that epoch's weights, so each run trains "
                  "until it converges on clips it does not train on, and the epoch is chosen per run, never on "
                  "the test part; the kept epoch is the mean over seeds and folds.", "", *labels, "",
                  "![margin versus labelled data](figures/study/margin_vs_labels.png)"]
    ablations_path = ROOT / "reports" / "ablations.json"
    ablations = json.loads(ablations_path.read_text()) if ablations_path.exists() else []
    table = compute_curve(rows, ablations, FIGURES / "margin_vs_compute.png")
    if table:
        lines += ["", "## Margin versus pre-training compute", "",
                  "Fractal pre-training with params.yaml's settings but more clips per class (`--set "
                  "generate.per_class=N`, 100 classes, 20 epochs: the paper's direction, 100k clips), or more "
                  "classes with fewer clips each (`--set generate.classes=500`, the paper's 500 classes), 5 "
                  "paired seeds, every clip tested once. Minutes are the pre-training epochs' training time on 2 cores "
                  "(generation comes on top). The paper pre-trains on 2.5M clip-passes at about 400 times the "
                  "compute per clip. Rows marked seed N pre-train the same recipe from another seed (each "
                  "interval covers the fine-tuning seeds of one pre-training, so these rows show how far one "
                  "pre-training draw moves the margin); channels-last is the same arithmetic in a faster memory "
                  "layout (`pretrain.channels_last`); batch 64 takes the faster step of `benchmarks/train.py "
                  "--recipe` (its lr scaled with the batch, as every run's is). Still fractals (`--set "
                  "generate.options.image=true`, the paper's image mode: each frame its own still fractal, no "
                  "motion to learn) are a diagnostic of what basketball5 is told apart by, drawn as a series of "
                  "their own; a row fine-tuned from another run's network (`--pretrained "
                  "benchmarks/work/NAME/pretrain`) takes the pre-training settings of the run NAME that made it.",
                  "", *table, "",
                  "![margin versus pre-training compute](figures/study/margin_vs_compute.png)"]
    if (ROOT / "reports" / "ablations.md").exists():
        lines += ["", "The paper's ablations, run as DVC experiments of the pipeline itself (one setting changed, "
                      "5 paired seeds, the built-in benchmark), are recorded in [ablations.md](ablations.md) and "
                      "drawn in `04_figures`."]
    OUT.write_text("\n".join(lines) + "\n")
    print(OUT.relative_to(ROOT))


if __name__ == "__main__":
    main()
