"""What the notebooks show: training curves, confusion matrices, the results table, ablations.

Plain functions over the files a run writes (history.csv, metrics.json,
confusion.csv), so a figure can be redrawn from a finished pipeline without
training anything.
"""
from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import numpy as np

# The paper's claim, quoted beside our table (../shared/SPEC.md, first section).
PAPER_CLAIM = ("Fractal pre-training comes close to Kinetics-400 pre-training and beats it on some downstream sets "
               "(TSM-ResNet50, 100k fractal clips, 25 epochs), and clearly beats training from scratch.")
INITS = ("scratch", "fractal", "kinetics")


def read_history(run: str | Path) -> dict[str, np.ndarray]:
    """A run's history.csv (give the run folder or the file) as columns (missing values are NaN)."""
    path = Path(run)
    with open(path / "history.csv" if path.is_dir() else path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) if r[k] not in ("", None) else np.nan for r in rows]) for k in rows[0]} \
        if rows else {}


def read_confusion(run: str | Path) -> tuple[list[str], np.ndarray]:
    """(class names, counts[truth, prediction]) of a run's last evaluation."""
    with open(Path(run) / "confusion.csv", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0][1:], np.array([[int(v) for v in r[1:]] for r in rows[1:]])


def plot_curves(ax_loss, ax_acc, history: dict, label: str = "") -> None:
    """Loss and top-1 per epoch, train and validation, on two matplotlib axes."""
    epoch = history["epoch"]
    ax_loss.plot(epoch, history["train_loss"], label=f"{label} train".strip())
    ax_acc.plot(epoch, history["train_top1"], label=f"{label} train".strip())
    if "val_loss" in history and not np.isnan(history["val_loss"]).all():
        ax_loss.plot(epoch, history["val_loss"], "--", label=f"{label} val".strip())
        ax_acc.plot(epoch, history["val_top1"], "--", label=f"{label} val".strip())
    ax_loss.set_xlabel("epoch"), ax_loss.set_ylabel("loss")
    ax_acc.set_xlabel("epoch"), ax_acc.set_ylabel("top-1")


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


def collect_runs(root: str | Path = "reports/metrics/finetune") -> list[dict]:
    """One row per fine-tuning run, from the metrics files ``<dataset>-<init>-<seed>.json`` the runs wrote."""
    rows = []
    for path in sorted(Path(root).glob("*-*-*.json")):
        dataset, init, seed = path.stem.rsplit("-", 2)
        m = json.loads(path.read_text())
        rows.append({"dataset": dataset, "init": init, "seed": int(seed), "val_top1": m.get("val_top1"),
                     "val_top5": m.get("val_top5"), "best_val_top1": m.get("best_val_top1"),
                     "epochs": m.get("epochs"), "name": path.stem})
    return rows


def results_table(rows: list[dict], key: str = "val_top1") -> list[dict]:
    """Mean and standard deviation over seeds of ``key`` for every (dataset, init)."""
    groups: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        if r.get(key) is not None:
            groups.setdefault((r["dataset"], r["init"]), []).append(float(r[key]))
    order = {name: i for i, name in enumerate(INITS)}
    table = []
    for (dataset, init), values in sorted(groups.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9))):
        v = np.array(values)
        table.append({"dataset": dataset, "init": init, "seeds": len(v), "mean": float(v.mean()),
                      "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0})
    return table


def format_table(table: list[dict]) -> str:
    """The results table as Markdown: top-1 in %, mean +- std over seeds."""
    lines = ["| downstream set | initialisation | seeds | top-1 (%) |", "|---|---|---|---|"]
    for r in table:
        lines.append(f"| {r['dataset']} | {r['init']} | {r['seeds']} | {100 * r['mean']:.1f} +- {100 * r['std']:.1f} |")
    return "\n".join(lines)


def margins(table: list[dict]) -> dict[str, float]:
    """fractal minus scratch mean top-1 per downstream set (the paper's claim, measured)."""
    by = {(r["dataset"], r["init"]): r["mean"] for r in table}
    return {d: by[(d, "fractal")] - by[(d, "scratch")] for d, i in by if i == "fractal" and (d, "scratch") in by}


def experiments(cwd: str | Path = ".") -> list[dict]:
    """DVC experiments of this repository (``dvc exp show --json``) with their params and metrics.

    Returns [] when DVC or git has none (e.g. a fresh clone). Each item:
    {"name", "rev", "params": flat dict, "metrics": flat dict}.
    """
    try:
        out = subprocess.run(["dvc", "exp", "show", "--json"], cwd=cwd, capture_output=True, text=True, timeout=120)
        data = json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else []
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return []
    found = []

    def flat(d, prefix=""):
        items = {}
        for k, v in (d or {}).items():
            if isinstance(v, dict):
                items.update(flat(v, f"{prefix}{k}."))
            else:
                items[f"{prefix}{k}"] = v
        return items

    def add(entry):
        data_ = entry.get("data") or {}
        params = {k: v for f in (data_.get("params") or {}).values() for k, v in flat(f.get("data")).items()}
        metrics = {f"{Path(p).stem}.{k}": v for p, f in (data_.get("metrics") or {}).items()
                   for k, v in flat(f.get("data")).items()}
        found.append({"name": entry.get("name") or data_.get("name") or entry.get("rev", "")[:7],
                      "rev": entry.get("rev"), "params": params, "metrics": metrics})

    for commit in data:
        if commit.get("rev") == "workspace":
            continue
        for exp in commit.get("experiments") or []:
            for revision in exp.get("revs") or []:
                add(revision)
    return found


def ablation_rows(exps: list[dict], baseline: dict, metric: str = "results.margin") -> list[dict]:
    """For each experiment: which params differ from the baseline's and its ``metric``."""
    rows = []
    for e in exps:
        changed = {k: v for k, v in e["params"].items() if baseline.get(k) != v and not k.endswith(("out",))}
        if metric in e["metrics"]:
            rows.append({"name": e["name"], "changed": changed, metric: e["metrics"][metric]})
    return rows
