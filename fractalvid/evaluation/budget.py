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
EXTENSION = 400   # declared too: run (both starts) only if scratch still gains more than WITHIN from 100 to 200
BEGIN = "<!-- budget: written by `fractalvid ablations` from reports/ablations.json; do not edit by hand -->"
END = "<!-- /budget -->"
FIGURE = "reports/figures/budget/margin_vs_epochs.png"
LIMIT_MIN = 20     # make repro's limit on 2 cores, from a fresh clone
DRAWS = (3, 5)     # the designs timed: today's 3 pre-training draws, and the 5 the default is to reach
# make repro's time outside the notebooks (the environment's install, DVC's own work): 1129 s from a fresh clone
# of debc865 on 2 cores, of which its notebooks took 998 s (papermill's record)
OVERHEAD_S = 131


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
                "chance": e["chance"], "experiment": r["name"], "clean": (r.get("reads") or {}).get("clean"),
                "seconds": ((r.get("seconds") or {}).get("finetune") or {}).get(name),
                "commits": (r.get("reads") or {}).get("commits") or []})
    return {name: sorted(p, key=lambda q: q["epochs"]) for name, p in sorted(points.items())}


def rule_budget(points: list[dict], within: float = WITHIN) -> int | None:
    """The declared rule: the smallest budget at which scratch's held-out top-1 is within ``within`` of its
    best over the grid (None without points)."""
    if not points:
        return None
    best = max(p["scratch"] for p in points)
    return min(p["epochs"] for p in points if p["scratch"] >= best - within)


def grid_needed(points: list[dict], within: float = WITHIN) -> tuple[int, ...]:
    """The budgets the declared grid asks for, given the points that ran: :data:`GRID`, and
    :data:`EXTENSION` as well when scratch's held-out top-1 at 200 epochs is more than ``within`` above its
    top-1 at 100 (still learning at the grid's end)."""
    scratch = {p["epochs"]: p["scratch"] for p in points}
    still_learning = 100 in scratch and 200 in scratch and scratch[200] - scratch[100] > within
    return GRID + ((EXTENSION,) if still_learning else ())


def chosen_budget(points: list[dict]) -> int | None:
    """The rule's budget once every budget the grid asks for has run (:func:`grid_needed`), else None."""
    ran = {p["epochs"] for p in points}
    return rule_budget(points) if points and set(grid_needed(points)) <= ran else None


def test_read(rows: list[dict], epochs: int | None) -> dict | None:
    """The declared test read at the chosen budget: the record's run at ``epochs`` on the built-in benchmark's
    test parts with at least 5 pre-training draws (docs/budget.md), as {"experiment", "draws", "clean", and
    the set's entry: scratch_top1, fractal_top1, margin_top1, test_clips, chance}; None until it has run."""
    for r in reversed(rows):
        settings = r.get("settings") or {}
        if (epochs is not None and settings.get("finetune.recipe.epochs") == epochs
                and settings.get("finetune.recipe.val_split") == "test" and len(settings.get("pretrain.seeds") or []) >= 5
                and "actions" in r["datasets"]):
            return {"experiment": r["name"], "draws": len(settings["pretrain.seeds"]),
                    "clean": (r.get("reads") or {}).get("clean"), **r["datasets"]["actions"]}
    return None


def repro_minutes(points: list[dict], default: dict, draws: int, epochs: int) -> float | None:
    """``make repro``'s minutes at ``draws`` pre-training draws (one fine-tuning seed each) and ``epochs`` of
    fine-tuning, estimated from timings alone, never a score: the default's stage seconds (``default``: its
    record row, with ``seconds`` and ``settings``), its fine-tuning runs scaled by the study's held-out runs'
    seconds at ``epochs`` against those at the default's epochs, and :data:`OVERHEAD_S`. None without the
    timings."""
    held = {p["epochs"]: p["seconds"] for p in points if p.get("seconds")}
    seconds, base = default.get("seconds") or {}, (default.get("settings") or {}).get("finetune.recipe.epochs")
    per_run = (seconds.get("finetune") or {}).get("actions")
    if epochs not in held or base not in held or not per_run:
        return None
    run = per_run * held[epochs] / held[base]
    return (OVERHEAD_S + seconds["generate"] + seconds["other"] + draws * (seconds["pretrain"] + 2 * run)) / 60


def fit_table(points: list[dict], default: dict) -> str:
    """A Markdown table of :func:`repro_minutes` for each design (:data:`DRAWS`) and budget, and the largest
    budget of the grid that fits :data:`LIMIT_MIN` at 5 draws (or that none does)."""
    budgets = [p["epochs"] for p in points]
    lines = ["| pre-training draws | " + " | ".join(f"{e} epochs" for e in budgets) + " |",
             "| --- |" + " --- |" * len(budgets)]
    for draws in DRAWS:
        cells = [repro_minutes(points, default, draws, e) for e in budgets]
        lines.append(f"| {draws} | " + " | ".join("?" if m is None else f"{m:.1f} min" for m in cells) + " |")
    fits = [e for e in budgets if (repro_minutes(points, default, max(DRAWS), e) or 1e9) <= LIMIT_MIN]
    verdict = (f"The largest budget of the grid that fits {LIMIT_MIN} minutes at {max(DRAWS)} draws: "
               f"**{max(fits)} epochs**." if fits else
               f"No budget of the grid fits {LIMIT_MIN} minutes at {max(DRAWS)} draws.")
    return "\n".join(lines) + "\n\n" + verdict


def budget_table(points: dict[str, list[dict]]) -> str:
    """A Markdown table: one row per set and budget, with the rule's budget marked on the set that chooses."""
    lines = ["| set | epochs | held-out clips | chance | scratch top-1 | fractal top-1 | fractal minus scratch, "
             "points [95 % CI over draws] | per draw | seconds per run | clean tree |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    chosen = chosen_budget(points.get("actions", []))
    for name, ps in points.items():
        for p in ps:
            m = p["margin"]
            mark = " (chosen by the rule)" if name == "actions" and p["epochs"] == chosen else ""
            lines.append(f"| {name} | {p['epochs']}{mark} | {p['clips']} | {100 * p['chance']:.1f} % | "
                         f"{100 * p['scratch']:.1f} % | {100 * p['fractal']:.1f} % | {100 * m['mean']:+.1f} "
                         f"[{100 * m['ci95'][0]:+.1f}, {100 * m['ci95'][1]:+.1f}] | "
                         + ", ".join(f"{100 * v:+.1f}" for v in m["per_seed"])
                         + f" | {'?' if p.get('seconds') is None else round(p['seconds'])}"
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


def default_row(rows: list[dict], points: list[dict]) -> dict | None:
    """The record's row of the default pipeline at the commit the study's runs were made at (its stage
    seconds time the designs), or None."""
    commits = {c for p in points for c in p.get("commits", [])}
    return next((r for r in rows if r["name"].startswith("default @") and r.get("rev") in commits), None)


def budget_block(rows: list[dict]) -> str:
    """docs/budget.md's results: the table, the rule's choice, and the figure (or that nothing ran yet)."""
    points = budget_points(rows)
    if not points:
        return "\n".join([BEGIN, "", "No run of the study is recorded yet.", "", END])
    actions = points.get("actions", [])
    ran, needed = sorted({p["epochs"] for p in actions}), grid_needed(actions)
    text = [BEGIN, "", budget_table(points), ""]
    if EXTENSION in needed:
        text += [f"Scratch gained more than {100 * WITHIN:.0f} point from 100 to 200 epochs, so the grid "
                 f"extends to {EXTENSION} epochs, as declared.", ""]
    if chosen_budget(actions) is not None:
        text += [f"The budget the rule chooses on the built-in benchmark's held-out actors: "
                 f"**{chosen_budget(actions)} epochs**.", ""]
    else:
        text += [f"The grid is not complete ({', '.join(map(str, ran)) or 'none'} of "
                 f"{', '.join(map(str, needed))} epochs ran): the rule chooses nothing yet.", ""]
    read = test_read(rows, chosen_budget(actions))
    if read:
        m = read["margin_top1"]
        text += [f"The test read at that budget (experiment `{read['experiment']}`, {read['draws']} pre-training "
                 f"draws x 1 seed, {read['test_clips']} test clips, chance {100 * read['chance']:.1f} %, "
                 f"{'a clean tree' if read['clean'] else 'NOT a clean tree'}): scratch {100 * read['scratch_top1']:.1f} %, "
                 f"fractal {100 * read['fractal_top1']:.1f} %, margin {100 * m['mean']:+.1f} "
                 f"[{100 * m['ci95'][0]:+.1f}, {100 * m['ci95'][1]:+.1f}] points over the draws (per draw "
                 + ", ".join(f"{100 * v:+.1f}" for v in m["per_seed"]) + ").", ""]
    default = default_row(rows, actions)
    if default and default.get("seconds"):
        text += [f"Time, from timings alone (no score): `make repro`'s minutes on 2 cores, estimated from the "
                 f"default's stage times at {default['name'][len('default @ '):]} and the held-out runs' seconds "
                 "per run above:", "", fit_table(actions, default), ""]
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
