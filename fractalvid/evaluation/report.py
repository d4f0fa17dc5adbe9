"""What the notebooks show: training curves, confusion matrices, the results table.

Plain functions over the files a run writes (history.csv, metrics.json, confusion.csv; read by
:mod:`fractalvid.learning.runs`), so a figure can be redrawn from a finished pipeline without training
anything.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..learning.runs import read_history
from .stats import margin_over_draws, mean_ci95, pretraining_draw

# The paper's claim, quoted beside our table.
PAPER_CLAIM = ("Fractal pre-training comes close to Kinetics-400 pre-training and beats it on some downstream sets "
               "(TSM-ResNet50, 100k fractal clips, 25 epochs), and clearly beats training from scratch.")
INITS = ("scratch", "fractal", "kinetics")
def _scored(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The epochs a curve has a value at (a run that scores its test part every few epochs leaves the others
    empty), so that its points join into one line."""
    keep = ~np.isnan(y)
    return x[keep], y[keep]


def plot_curves(ax_loss, ax_acc, history: dict, label: str = "", chance: float | None = None,
                clips: int | None = None, scored: str = "val") -> None:
    """Loss and top-1 (in %) per epoch, train and the scored split (``scored``: its name, e.g. "test" or
    "holdout"), on two matplotlib axes; ``chance`` (a fraction) draws the chance line, ``clips`` (the scored
    clips) goes into the accuracy axis' title."""
    epoch = history["epoch"]
    ax_loss.plot(epoch, history["train_loss"], color="C0", label=f"{label} train".strip())
    ax_acc.plot(epoch, 100 * history["train_top1"], color="C0", label=f"{label} train".strip())
    if "val_loss" in history and not np.isnan(history["val_loss"]).all():
        ax_loss.plot(*_scored(epoch, history["val_loss"]), "--", marker=".", color="C1", label=f"{label} {scored}".strip())
        x, y = _scored(epoch, history["val_top1"])
        ax_acc.plot(x, 100 * y, "--", marker=".", color="C1", label=f"{label} {scored}".strip())
    if "select_loss" in history and not np.isnan(history["select_loss"]).all():   # early stopping's split
        held_out = f"{label} held out (chooses the epoch)".strip()
        ax_loss.plot(epoch, history["select_loss"], "-.", color="C2", label=held_out)
        ax_acc.plot(epoch, 100 * history["select_top1"], "-.", color="C2", label=held_out)
    if chance is not None:
        ax_acc.axhline(100 * chance, color="k", lw=0.8, ls=":", label="chance")
    if clips is not None:
        ax_acc.set_title(f"{scored}: {clips} clips", fontsize=9)
    ax_loss.set_xlabel("epoch"), ax_loss.set_ylabel("loss (cross-entropy)")
    ax_acc.set_xlabel("epoch"), ax_acc.set_ylabel("top-1 (%)"), ax_acc.set_ylim(0, 100)


def top1_per_epoch(history: dict) -> tuple[np.ndarray, str]:
    """(top-1 per epoch, what it was scored on) of a run's history: the test part's (``val_top1``), or, for
    a run that chose its epoch on held-out clips and scored its test part once, those held-out clips'."""
    if np.isnan(history["val_top1"]).all() and not np.isnan(history.get("select_top1", np.nan)).all():
        return history["select_top1"], "held-out"
    return history["val_top1"], "test"


def plot_runs_per_epoch(ax, runs: list[dict], summary: dict, plots: str | Path) -> None:
    """Every fine-tuning run's top-1 per epoch (pooled over its folds, from ``plots/<name>.csv`` as notebook
    03 writes them): a colour per initialisation, a line style per downstream set, each set's chance level,
    and the test clips and seeds of each set in the title."""
    colors = {"scratch": "C0", "fractal": "C1", "kinetics": "C2"}
    styles = ["-", "--", ":", "-."]
    datasets = sorted({r["dataset"] for r in runs})
    first_seed = min(r["seed"] for r in runs)
    scored = set()
    for r in runs:
        h = read_history(Path(plots) / f"{r['name']}.csv")
        top1, on = top1_per_epoch(h)
        scored.add(on)
        x, y = _scored(h["epoch"], top1)
        ax.plot(x, 100 * y, color=colors.get(r["init"], "C3"), ls=styles[datasets.index(r["dataset"]) % 4],
                alpha=0.6, lw=1, label=f"{r['dataset']}, {r['init']}" if r["seed"] == first_seed else None)
    for d, e in summary.items():
        ax.axhline(100 * e["chance"], color="k", ls=styles[datasets.index(d) % 4], lw=0.8, label=f"{d}: chance")
    ax.set_title("; ".join(f"{d}: {e['test_clips']} test clips, {len(e['inits']['scratch']['per_seed'])} seeds"
                           for d, e in summary.items() if "scratch" in e["inits"]), fontsize=9)
    ax.set_xlabel("epoch")
    ax.set_ylabel(" / ".join(sorted(scored)) + " top-1 (%)")


def plot_confusion(ax, names: list[str], counts: np.ndarray) -> None:
    """Row-normalised confusion matrix (each row: where a true class's videos went)."""
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted"), ax.set_ylabel("true")
    for (i, j), v in np.ndenumerate(counts):
        if v:
            ax.text(j, i, v, ha="center", va="center", fontsize=6, color="white" if rates[i, j] > 0.5 else "black")


def per_class_accuracy(counts: np.ndarray) -> np.ndarray:
    return np.diag(counts) / np.maximum(counts.sum(1), 1)


def collect_runs(root: str | Path, datasets, pretrained, seeds, draws=None) -> list[dict]:
    """One row per fine-tuning run that params.yaml declares (each dataset of ``datasets``, scratch and each
    initialisation of ``pretrained``, each seed of ``seeds``), from the metrics files
    ``<dataset>-<init>-<seed>.json`` that notebook 03 writes (:func:`fractalvid.evaluation.protocol.train_folds`). Other
    files in ``root`` (a seed since removed, say) are not read; a declared run without its file is an error.
    A pre-trained run's row says which pre-training draw it started from (``draw``; None for the others).
    With ``draws`` (``pretrain.seeds``), a fractal run that started from another draw than the one its seed
    is given now (:func:`fractalvid.evaluation.stats.pretraining_draw`) is an error too: it is a leftover of other
    pre-training settings, and would mix another network into the margin."""
    rows, missing, stale = [], [], []
    for dataset in datasets:
        for init in ("scratch", *pretrained):
            for seed in seeds:
                path = Path(root) / f"{dataset}-{init}-{seed}.json"
                if not path.exists():
                    missing.append(path.name)
                    continue
                m = json.loads(path.read_text())
                if draws is not None and init == "fractal" and m.get("draw") != pretraining_draw(int(seed), draws):
                    stale.append(f"{path.name} (draw {m.get('draw')}, expected {pretraining_draw(int(seed), draws)})")
                rows.append({"dataset": dataset, "init": init, "seed": int(seed), "top1": m["top1"],
                             "top5": m["top5"], "test_clips": m["test_clips"], "classes": len(m["classes"]),
                             "train_top1": m["train_top1"], "draw": m.get("draw"), "name": path.stem})
    if missing:
        raise FileNotFoundError(f"params.yaml declares fine-tuning runs whose metrics are not in {root}: "
                                f"{missing} (run `dvc repro dvc.yaml` first)")
    if stale:
        raise ValueError(f"fine-tuning runs in {root} started from other pre-training draws than pretrain.seeds="
                         f"{list(draws)} gives them: {stale}; expected runs of the current pre-training "
                         "(run `dvc repro dvc.yaml` first)")
    return rows


def comparison(rows: list[dict], key: str = "top1") -> dict:
    """The protocol's summary per downstream set: for each initialisation the mean of ``key`` over seeds with
    its 95 % interval and per-seed values; for each pre-trained one its paired margin over scratch
    with its interval over pre-training draws where the runs started from several
    (:func:`fractalvid.evaluation.stats.margin_over_draws`); the number of test clips and the chance level (1 / classes).
    """
    out: dict = {}
    for dataset in sorted({r["dataset"] for r in rows}):
        mine = [r for r in rows if r["dataset"] == dataset]
        by_init = {i: {r["seed"]: r[key] for r in mine if r["init"] == i} for i in INITS}
        entry = {"test_clips": mine[0]["test_clips"], "chance": 1 / mine[0]["classes"], "inits": {}, "margins": {}}
        for init, seeds in by_init.items():
            if seeds:
                entry["inits"][init] = {**mean_ci95(list(seeds.values())), "per_seed": seeds}
        for init in INITS[1:]:
            common = sorted(set(by_init[init]) & set(by_init["scratch"]))
            if common:
                draws = {r["seed"]: r.get("draw") for r in mine if r["init"] == init}
                entry["margins"][init] = margin_over_draws(
                    {s: by_init["scratch"][s] for s in common}, {s: by_init[init][s] for s in common},
                    draws if all(d is not None for d in draws.values()) else None)
        out[dataset] = entry
    return out


def format_comparison(summary: dict) -> str:
    """The comparison as Markdown: top-1 in % with 95 % intervals, margins in points, test clips, chance."""
    lines = ["| downstream set | initialisation | seeds | top-1 (%), mean [95 % CI] | margin over scratch (points) "
             "| test clips | chance (%) |", "|---|---|---|---|---|---|---|"]
    for dataset, e in summary.items():
        for init, r in e["inits"].items():
            m = e["margins"].get(init)
            over = f", CI over {len(m['draws'])} pre-training draws" if m and m["over"] == "pre-training draws" \
                else ", CI over fine-tuning seeds only" if m else ""
            margin = f"{100 * m['mean']:+.1f} [{100 * m['ci95'][0]:+.1f}, {100 * m['ci95'][1]:+.1f}], " \
                     f"better in {m['wins']}/{m['n']} seeds{over}" if m else ""
            lines.append(f"| {dataset} | {init} | {r['n']} | {100 * r['mean']:.1f} [{100 * r['ci95'][0]:.1f}, "
                         f"{100 * r['ci95'][1]:.1f}] | {margin} | {e['test_clips']} | {100 * e['chance']:.0f} |")
    return "\n".join(lines)


def margin_title(dataset: str, m: dict) -> str:
    """One margin in a line, as the results figure states it: points, 95 % interval, and what it is over."""
    over = (f"CI over {len(m['draws'])} pre-training draws" if m["over"] == "pre-training draws"
            else "CI over fine-tuning seeds of one network")
    return (f"{dataset}: fractal minus scratch {100 * m['mean']:+.1f} [{100 * m['ci95'][0]:+.1f}, "
            f"{100 * m['ci95'][1]:+.1f}] points, {over}")


def measured_here(summary: dict) -> str:
    """The fractal margins in a sentence per set, to read beside the paper's claim."""
    return "; ".join(
        f"on {d} ({e['test_clips']} test clips, chance {100 * e['chance']:.0f} %), fractal pre-training is "
        f"{100 * m['mean']:+.1f} points of top-1 against scratch (95 % CI {100 * m['ci95'][0]:+.1f} to "
        f"{100 * m['ci95'][1]:+.1f} over {m['over']}; {m['n']} paired seeds, {len(m['draws'])} pre-training "
        f"draws; better in {m['wins']})"
        for d, e in summary.items() for i, m in e["margins"].items() if i == "fractal")


def read_against_paper(summary: dict) -> str:
    """The result read against the paper's claim (:data:`PAPER_CLAIM`) in one paragraph: per set, whether the
    fractal margin's interval lies above 0 (agrees in sign), reaches 0 (does not show it) or lies below it."""
    verdicts = []
    for d, e in summary.items():
        m = e["margins"].get("fractal")
        if m is None:
            continue
        lo, hi = m["ci95"]
        verdict = ("its whole interval is above 0: the fractal start is ahead, as the paper says" if lo > 0 else
                   "its interval lies below 0: here the fractal start is behind, against the paper" if hi < 0 else
                   "its interval reaches 0: at this scale the comparison does not show the paper's claim, "
                   "nor its opposite")
        verdicts.append(f"on {d} ({e['test_clips']} test clips, chance {100 * e['chance']:.0f} %) the margin is "
                        f"{100 * m['mean']:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}]: {verdict}")
    if not verdicts:
        return "No fractal run to read against the paper's claim."
    return ("The paper claims that fractal pre-training clearly beats training from scratch (a TSM-ResNet50 "
            "pre-trained on 100k fractal clips, fine-tuned on real action sets). Here " + "; ".join(verdicts) + ". "
            "Only the sign of the margin can be compared: this pipeline's networks, clips and budget are far "
            "smaller than the paper's, so its magnitudes are not the paper's.")


def plot_comparison(ax, summary: dict) -> None:
    """Top-1 (%) per downstream set and initialisation: per-seed dots (a line joins the two runs of a seed),
    the mean with its 95 % interval, the chance level, and the number of test clips under each set."""
    colors = {"scratch": "C0", "fractal": "C1", "kinetics": "C2"}
    names = list(summary)
    for d, (dataset, e) in enumerate(summary.items()):
        inits = list(e["inits"])
        xs = {init: d + (k - (len(inits) - 1) / 2) * 0.3 for k, init in enumerate(inits)}
        seeds = sorted(set.intersection(*[set(r["per_seed"]) for r in e["inits"].values()]))
        for s in seeds:
            ax.plot([xs[i] for i in inits], [100 * e["inits"][i]["per_seed"][s] for i in inits], color="0.8",
                    lw=0.8, zorder=1)
        for init in inits:
            r = e["inits"][init]
            ys = [100 * v for v in r["per_seed"].values()]
            ax.scatter([xs[init]] * len(ys), ys, s=14, color=colors.get(init, "C3"), alpha=0.6, zorder=2,
                       label=f"{init} (one dot per seed)" if d == 0 else None)
            lo, hi = (100 * v for v in r["ci95"])
            ax.errorbar(xs[init] + 0.07, 100 * r["mean"], yerr=[[100 * r["mean"] - lo], [hi - 100 * r["mean"]]],
                        fmt="D", ms=5, color=colors.get(init, "C3"), capsize=4, zorder=3,
                        label=f"{init}: mean, 95 % CI" if d == 0 else None)
        ax.hlines(100 * e["chance"], d - 0.45, d + 0.45, colors="k", linestyles=":",
                  label="chance" if d == 0 else None)
    ax.set_xticks(range(len(names)), [f"{n}\n{summary[n]['test_clips']} test clips" for n in names])
    ax.set_ylabel("top-1 (%)")
    ax.set_xlim(-0.6, len(names) - 0.4)
