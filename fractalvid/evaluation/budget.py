"""The margin against the fine-tuning budget (docs/budget.md): the study's DVC experiments, read from the
committed record (``reports/ablations.json``, :mod:`.ablations`), as a table and a figure per downstream set,
and the budget the declared rule chooses.

An experiment belongs to the study when its record says it scored held-out training actors
(``finetune.recipe.val_split: holdout``) at the study's settings (:data:`STUDY`); its budget is the
``finetune.recipe.epochs`` it ran with, read from the record's settings, never from its name.
"""
from __future__ import annotations

from pathlib import Path

from ..atomic import write_text

# what every run of the study shares (docs/budget.md's design); an experiment with other values is not one of it
STUDY = {"finetune.recipe.holdout": 0.25, "finetune.recipe.val_split": "holdout"}
WITHIN = 0.01   # the rule: the smallest budget at which scratch is within 1 point of its best
GRID = (25, 50, 100, 200)   # the declared budgets: the rule chooses only once each has run
BEGIN = "<!-- budget: written by `fractalvid ablations` from reports/ablations.json; do not edit by hand -->"
END = "<!-- /budget -->"
FIGURE = "reports/figures/budget/margin_vs_epochs.png"


def budget_points(rows: list[dict]) -> dict[str, list[dict]]:
    """Per downstream set, the study's points sorted by epochs: {"epochs", "scratch", "fractal", "margin"
    (mean, ci95, per_seed), "clips", "chance", "experiment", "clean"}."""
    points: dict[str, list[dict]] = {}
    for r in rows:
        settings = r.get("settings") or {}
        if any(settings.get(k) != v for k, v in STUDY.items()) or settings.get("finetune.recipe.epochs") is None:
            continue
        for name, e in r["datasets"].items():
            points.setdefault(name, []).append({
                "epochs": settings["finetune.recipe.epochs"], "scratch": e["scratch_top1"],
                "fractal": e["fractal_top1"], "margin": e["margin_top1"], "clips": e["test_clips"],
                "chance": e["chance"], "experiment": r["name"], "clean": (r.get("reads") or {}).get("clean")})
    return {name: sorted(p, key=lambda q: q["epochs"]) for name, p in sorted(points.items())}


def rule_budget(points: list[dict], within: float = WITHIN) -> int | None:
    """The declared rule: the smallest budget at which scratch's held-out top-1 is within ``within`` of its
    best over the grid (None without points)."""
    if not points:
        return None
    best = max(p["scratch"] for p in points)
    return min(p["epochs"] for p in points if p["scratch"] >= best - within)


def budget_table(points: dict[str, list[dict]]) -> str:
    """A Markdown table: one row per set and budget, with the rule's budget marked on the set that chooses."""
    lines = ["| set | epochs | held-out clips | chance | scratch top-1 | fractal top-1 | fractal minus scratch, "
             "points [95 % CI over draws] | per draw | clean tree |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    ran = {p["epochs"] for p in points.get("actions", [])}
    chosen = rule_budget(points.get("actions", [])) if set(GRID) <= ran else None
    for name, ps in points.items():
        for p in ps:
            m = p["margin"]
            mark = " (the rule's choice)" if name == "actions" and p["epochs"] == chosen else ""
            lines.append(f"| {name} | {p['epochs']}{mark} | {p['clips']} | {100 * p['chance']:.1f} % | "
                         f"{100 * p['scratch']:.1f} % | {100 * p['fractal']:.1f} % | {100 * m['mean']:+.1f} "
                         f"[{100 * m['ci95'][0]:+.1f}, {100 * m['ci95'][1]:+.1f}] | "
                         + ", ".join(f"{100 * v:+.1f}" for v in m["per_seed"])
                         + f" | {'yes' if p['clean'] else 'no' if p['clean'] is False else 'not logged'} |")
    return "\n".join(lines)


def plot_budget(points: dict[str, list[dict]], path: str | Path) -> Path:
    """Per set: both starts' held-out top-1 against the epochs (left), and the margin with its interval
    (right), on a log axis of epochs."""
    import matplotlib.pyplot as plt   # here: only the figure needs it

    fig, axes = plt.subplots(len(points), 2, figsize=(10, 3.2 * len(points)), squeeze=False)
    for (ax_top, ax_margin), (name, ps) in zip(axes, points.items()):
        epochs = [p["epochs"] for p in ps]
        for init, color in (("scratch", "C0"), ("fractal", "C1")):
            ax_top.plot(epochs, [100 * p[init] for p in ps], marker="o", color=color, label=init)
        ax_top.axhline(100 * ps[0]["chance"], color="k", lw=0.8, ls=":", label="chance")
        ax_top.set_ylabel(f"{name}: held-out top-1 (%)"), ax_top.legend(fontsize=8)
        mean = [100 * p["margin"]["mean"] for p in ps]
        lo = [m - 100 * p["margin"]["ci95"][0] for m, p in zip(mean, ps)]
        hi = [100 * p["margin"]["ci95"][1] - m for m, p in zip(mean, ps)]
        ax_margin.errorbar(epochs, mean, yerr=[lo, hi], fmt="o-", color="C2", capsize=3)
        ax_margin.axhline(0, color="k", lw=0.8)
        ax_margin.set_ylabel("fractal - scratch (points)")
        ax_margin.set_title(f"{name}: {ps[0]['clips']} held-out clips, 95 % CI over "
                            f"{len(ps[0]['margin']['per_seed'])} draws", fontsize=9)
        for ax in (ax_top, ax_margin):
            ax.set_xscale("log"), ax.set_xticks(epochs, [str(e) for e in epochs]), ax.set_xlabel("fine-tuning epochs")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def budget_block(rows: list[dict]) -> str:
    """docs/budget.md's results: the table, the rule's choice, and the figure (or that nothing ran yet)."""
    points = budget_points(rows)
    if not points:
        return "\n".join([BEGIN, "", "No run of the study is recorded yet.", "", END])
    ran = sorted({p["epochs"] for p in points.get("actions", [])})
    text = [BEGIN, "", budget_table(points), ""]
    if set(GRID) <= set(ran):
        text += [f"The rule's budget on the built-in benchmark's held-out actors: "
                 f"**{rule_budget(points['actions'])} epochs**.", ""]
    else:
        text += [f"The grid is not complete ({', '.join(map(str, ran)) or 'none'} of "
                 f"{', '.join(map(str, GRID))} epochs ran): the rule chooses nothing yet.", ""]
    text += [f"![margin against epochs](../{FIGURE})", "", END]
    return "\n".join(text)


def write_budget(rows: list[dict], doc: str | Path = "docs/budget.md", figure: str | Path = FIGURE) -> None:
    """Write docs/budget.md's results block (and, with points, the figure) from the record's rows."""
    doc = Path(doc)
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{doc} has no results block: expected the lines {BEGIN!r} ... {END!r}")
    points = budget_points(rows)
    if points:
        plot_budget(points, figure)
    head, rest = text.split(BEGIN, 1)
    write_text(doc, head + budget_block(rows) + rest.split(END, 1)[1])
