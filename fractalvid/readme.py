"""The README's result table, written from the committed metrics, so that each number has one source.

    python -m fractalvid.readme          # rewrite the table in README.md (make readme)
    python -m fractalvid.readme --check  # exit 1 if README.md's table is not what the metrics give

Each block sits between two marker lines in README.md. The result table: the pipeline's own result on each
downstream set (``reports/metrics/results.json``, what ``make repro`` writes). The generator fix: the
pipeline's comparison made with fractalvid 0.1's generator (maps without shear) and 0.2's, on one machine
(``FIX_ROWS``). The archive: numbers kept as they were made outside today's pipeline (0.1's pipeline metrics,
and the rows of the retired benchmarks/transfer.py, each labelled in ``RECIPES`` / ``HELD_OUT``). Values are
stored unrounded and rounded here, once, for display. A last block, the params.yaml keys and the stages each
reruns, is drawn from dvc.yaml's stages and DVC's own graph of them.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from .atomic import write_text

BEGIN = "<!-- results: written by `make readme` from the metrics files named below; do not edit by hand -->"
END = "<!-- /results -->"
FIX_BEGIN = "<!-- generator-fix: written by `make readme` from the metrics files named below; do not edit by hand -->"
FIX_END = "<!-- /generator-fix -->"
ARCHIVE_BEGIN = "<!-- archive: written by `make readme` from the metrics files named below; do not edit by hand -->"
ARCHIVE_END = "<!-- /archive -->"
BUDGET_BEGIN = "<!-- budget: written by `make readme` from reports/ablations.json; do not edit by hand -->"
BUDGET_END = "<!-- /budget -->"
SCALE_BEGIN = "<!-- scale: written by `make readme` from params.yaml and params-paper.yaml; do not edit by hand -->"
SCALE_END = "<!-- /scale -->"
RERUNS_BEGIN = "<!-- reruns: written by `make readme` from dvc.yaml; do not edit by hand -->"
RERUNS_END = "<!-- /reruns -->"
# the placeholder a stage name shows for each list a stage iterates over (foreach, matrix)
PLACEHOLDERS = {"finetune.datasets": "SET", "finetune.pretrained": "INIT", "finetune.seeds": "SEED",
                "pretrain.seeds": "SEED"}
RESULTS = "reports/metrics/results.json"
REAL = {"weizmann6": "weizmann6, real: 6 Weizmann actions, 9 actors",
        "basketball5": "basketball5, real: 5 basketball actions"}
BUILT_IN = {"actions": "built-in actions (a rendered stand-in)"}
SHORT = {"actions": "built-in actions"}
STUDY_SETS = {**SHORT, "weizmann": "weizmann6"}   # the budget study's sets (its weizmann: six classes, 64 px)
# the generator fix of fractalvid 0.2 (maps that shear), measured on one machine with the same seeds: the
# pipeline's metrics made with each generator
FIX = "benchmarks/results/generator-fix"
FIX_ROWS = (("built-in actions, test parts", f"{FIX}/results_0.1.json", RESULTS),)
# numbers kept as they were made, outside today's pipeline: the pipeline's metrics of the machine that made them
# with fractalvid 0.1's generator (maps without shear), and the rows that benchmarks/transfer.py made beside the
# pipeline (retired in 0.3): the real-clip row, the recipes chosen on weizmann6's held-out training actors
# (benchmarks/results/weizmann6/README.md has the grids; each read on the test actors) and params.yaml's recipe
# on weizmann6's held-out training actors with each generator. Each file with the label its rows get (a label
# is written here, never derived from a file's name or options).
ARCHIVE_RESULTS = "benchmarks/results/archive/results_0.1_amd-epyc.json"
TRANSFER = "benchmarks/results/transfer.json"
RECIPES = {"benchmarks/results/weizmann6/grid-7_per-init-epochs_test.json": "fine-tuned 100 epochs, scratch 50",
           "benchmarks/results/weizmann6/grid-8_per-init-epochs_test.json": "fine-tuned 200 epochs, scratch 150",
           "benchmarks/results/weizmann6/grid-8_per-init-epochs_actions.json": "fine-tuned 200 epochs, scratch 150"}
HELD_OUT = {f"{FIX}/weizmann6-holdout_0.1.json": "held-out training actors, generator 0.1",
            f"{FIX}/weizmann6-holdout_0.2.json": "held-out training actors, generator 0.2"}


def _points(x: float) -> str:
    return f"{100 * x:+.1f}"


def _runs(draws: int, seeds: int) -> str:
    per = seeds // draws
    return f"{draws} draws x {per} seed" + ("s" if per > 1 else "")


def _interval(m: dict, bold: bool = False) -> str:
    mean = f"**{_points(m['mean'])}**" if bold else _points(m["mean"])
    return f"{mean} [{_points(m['ci95'][0])}, {_points(m['ci95'][1])}]"


def _row(name: str, entry: dict, scratch: float, fractal: float, runs: str, bold: bool = False) -> str:
    m = entry["margin_top1"]
    over = m.get("over", "fine-tuning seeds")
    wins = sum(d > 0 for d in m["per_seed"])
    return (f"| {name} | {entry['test_clips']} | {100 * entry['chance']:.1f} % | {100 * scratch:.1f} % | "
            f"{100 * fractal:.1f} % | {_interval(m, bold)} | {over} | {runs}, better in {wins} |")


def _transfer_rows(result: dict, sets, name) -> list[str]:
    """A transfer benchmark results file's rows: one per set of ``sets`` with a margin, named ``name(set)``."""
    draws = result.get("pretrain_draws") or 1
    return [_row(name(dataset), e, e["scratch_top1"]["mean"], e["fractal_top1"]["mean"],
                 _runs(draws, len(e["margin_top1"]["per_seed"])))
            for dataset, e in result.get("summary", {}).items() if dataset in sets and "margin_top1" in e]


def _pipeline_rows(results: dict, name=lambda dataset: BUILT_IN.get(dataset, dataset), bold=False) -> list[str]:
    draws = results.get("pretrain_draws") or 1
    return [_row(name(dataset), e, e["scratch_top1"], e["fractal_top1"], _runs(draws, len(e["margin_top1"]["per_seed"])),
                 bold) for dataset, e in results.items() if isinstance(e, dict) and "margin_top1" in e]


HEADER = ["| downstream set | test clips | chance | scratch top-1 | fractal top-1 | fractal minus scratch, "
          "points [95 % CI] | CI over | runs |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]


def results_block(results: dict) -> str:
    """The Markdown table between the markers: the pipeline's row for each downstream set with a margin."""
    lines = [BEGIN, "", *HEADER, *_pipeline_rows(results, bold=True), "",
             f"Rows from `{RESULTS}` (`make repro`, on {_cpu(results)}).", END]
    return "\n".join(lines)


def _cpu(result: dict) -> str:
    return (result.get("machine") or {}).get("cpu", "an unrecorded machine")


def _margins(result: dict) -> dict[str, dict]:
    """Per downstream set, the margin of a pipeline metrics file or a transfer results file (its summary)."""
    sets = result.get("summary", result)
    return {name: e for name, e in sets.items() if isinstance(e, dict) and "margin_top1" in e}


def _mean(top1) -> float:
    """A top-1 as a pipeline metrics file (a number) or a transfer results file ({"mean": ...}) holds it."""
    return top1["mean"] if isinstance(top1, dict) else top1


def fix_block(files: dict[str, dict]) -> str:
    """Before and after the generator fix (FIX_ROWS), from the files that exist: one row per comparison."""
    lines = [FIX_BEGIN, "", "| scored on | clips | chance | generator 0.1 (no shear): scratch, fractal, margin | "
             "generator 0.2: scratch, fractal, margin | runs | machine |", "| --- | --- | --- | --- | --- | --- | --- |"]
    named = []
    for label, before_name, after_name in FIX_ROWS:
        before, after = files.get(before_name), files.get(after_name)
        if before is None or after is None:
            continue
        entries = [next(e for d, e in _margins(r).items() if d in ("actions", "weizmann6")) for r in (before, after)]
        cells = [f"{100 * _mean(e['scratch_top1']):.1f} %, {100 * _mean(e['fractal_top1']):.1f} %, "
                 f"{_interval(e['margin_top1'])}" for e in entries]
        e, m = entries[1], entries[1]["margin_top1"]   # clips, chance and runs: the same in both
        draws = after.get("pretrain_draws") or len(m.get("draws", [])) or 1
        machines = _cpu(before) if _cpu(before) == _cpu(after) else f"{_cpu(before)}; {_cpu(after)}"
        lines.append(f"| {label} | {e['test_clips']} | {100 * e['chance']:.1f} % | {cells[0]} | {cells[1]} | "
                     f"{_runs(draws, len(m['per_seed']))} | {machines} |")
        named += [before_name, after_name]
    lines += ["", "From " + ", ".join(f"`{n}`" for n in dict.fromkeys(named)) + ".", FIX_END]
    return "\n".join(lines)


def archive_block(results: dict | None, transfer: dict | None, recipes: dict | None = None,
                  held_out: dict | None = None) -> str:
    """The archived numbers: fractalvid 0.1's pipeline metrics, and the rows of benchmarks/transfer.py's files
    (``transfer``; ``recipes`` and ``held_out``: results file name -> results, labelled by RECIPES / HELD_OUT)."""
    lines = [ARCHIVE_BEGIN, "", *HEADER]
    sources = []
    if results:
        lines += _pipeline_rows(results)
        sources.append(f"`{ARCHIVE_RESULTS}` (`make repro` on {_cpu(results)}, generator 0.1)")
    if transfer:
        lines += _transfer_rows(transfer, REAL, REAL.get)
        sources.append(f"`{TRANSFER}` (params.yaml's recipe on the pipeline's pre-trained networks, generator 0.1)")
    for name, result in (recipes or {}).items():
        lines += _transfer_rows(result, {**BUILT_IN, **REAL},
                                lambda dataset: f"{SHORT.get(dataset, dataset)}, {RECIPES[name]}")
    if recipes:
        sources.append("the recipes' files, each chosen on weizmann6's held-out training actors (generator 0.1): "
                       + ", ".join(f"`{name}`" for name in recipes))
    for name, result in (held_out or {}).items():
        lines += _transfer_rows(result, REAL, lambda dataset: f"{dataset}, {HELD_OUT[name]}")
    if held_out:
        sources.append("params.yaml's recipe scored on held-out training actors, never the test actors, with each "
                       f"generator on {_cpu(next(iter(held_out.values())))}: "
                       + ", ".join(f"`{name}`" for name in held_out))
    lines += ["", "Rows from " + "; ".join(sources) + ". All but the first were made by `benchmarks/transfer.py`.",
              ARCHIVE_END]
    return "\n".join(lines)


def budget_block(rows: list[dict]) -> str:
    """The budget study in brief (docs/budget.md has it whole): per set, the margin on held-out training
    actors at each fine-tuning budget, and the budget the declared rule chose."""
    from .evaluation.budget import budget_points, chosen_budget, test_read   # the study's selection, one place

    points = budget_points(rows)
    if not points:
        return "No run of the budget study is recorded yet."
    budgets = sorted({p["epochs"] for ps in points.values() for p in ps})
    lines = ["| held-out actors of | " + " | ".join(f"{e} epochs" for e in budgets) + " |",
             "| --- |" + " --- |" * len(budgets)]
    for name, ps in points.items():
        by = {p["epochs"]: p for p in ps}
        cells = [f"{100 * by[e]['scratch']:.1f} -> {100 * by[e]['fractal']:.1f}, {_interval(by[e]['margin'])}"
                 if e in by else "not run" for e in budgets]
        lines.append(f"| {STUDY_SETS.get(name, name)} ({ps[0]['clips']} clips, chance {100 * ps[0]['chance']:.1f} %) | "
                     + " | ".join(cells) + " |")
    chosen = chosen_budget(points.get("actions", []))
    draws = sorted({len(p["margin"]["per_seed"]) for ps in points.values() for p in ps})
    return "\n".join(lines) + "\n\n" + (
        f"Scratch top-1 -> fractal top-1 (%), then the margin in points [95 % CI over "
        f"{'/'.join(map(str, draws))} pre-training draws]. "
        + (f"The rule chose **{chosen} epochs**." if chosen else "The grid is not complete yet.")
        + _test_read_sentence(test_read(rows, chosen)))


def _test_read_sentence(read: dict | None) -> str:
    if read is None:
        return ""
    return (f" On the test parts at that budget ({read['draws']} draws x 1 seed, {read['test_clips']} clips): "
            f"{100 * read['scratch_top1']:.1f} -> {100 * read['fractal_top1']:.1f} %, "
            f"{_interval(read['margin_top1'], bold=True)} (experiment `{read['experiment']}`).")


def scale_block(params: dict, paper: dict) -> str:
    """How much smaller the CPU default's pre-training is than the paper's (:func:`fractalvid.tour.pretraining_scale`)."""
    from .tour import pretraining_scale   # torch's meta device counts the multiply-adds: only here

    s = pretraining_scale(params, paper, params["pretrain"]["arch"])
    power = len(str(int(s["less_compute"]))) - 1
    return (f"The CPU default uses about {s['less_compute'] / 10 ** power:.1f} x 10^{power} times less pre-training "
            f"compute than the paper ({s['clip_passes']:,} clip-passes against {s['paper_clip_passes']:,}, through "
            f"a network {s['paper_madds_per_clip'] / s['madds_per_clip']:.0f} times cheaper per clip),")


def _replace(text: str, begin: str, end: str, block: str) -> str:
    if begin not in text or end not in text:
        return text
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + block + tail


def _stage_groups(dvc: dict) -> dict[str, dict]:
    """Per stage of dvc.yaml: its name as a template (``scratch@SET-SEED``), its params keys (``${item}``
    spelled as the placeholder) and the params.yaml lists it iterates over."""
    out = {}
    for name, stage in dvc["stages"].items():
        body, lists, items = stage.get("do", stage), [], {}
        if "foreach" in stage:
            lists = [stage["foreach"].strip("${}")]
        elif "matrix" in stage:
            lists = [v.strip("${}") for v in stage["matrix"].values()]
        holders = [PLACEHOLDERS.get(k, k.split(".")[-1].upper()) for k in lists]
        if "matrix" in stage:   # ${item.dataset} -> SET
            items = {f"${{item.{key}}}": h for key, h in zip(stage["matrix"], holders)}
        elif holders:
            items = {"${item}": holders[0]}
        params = []
        for p in body.get("params", []):
            for placeholder, holder in items.items():
                p = p.replace(placeholder, holder)
            params.append(p)
        out[name] = {"label": name + ("@" + "-".join(holders) if holders else ""), "params": params, "lists": lists}
    return out


def rerun_rows(root: Path) -> list[tuple[str, list[str], list[str]]]:
    """(params.yaml keys, the stages a change adds or removes, the stages it reruns) per group of keys whose
    change does the same, from dvc.yaml and DVC's graph of its stages. A key reruns the stages that depend
    on it or on a section holding it, then every stage downstream of them; a list a stage iterates over
    (``finetune.seeds``) adds or removes that stage's instances instead. Keys of one section that do the same
    are one row (``pretrain``: every key but the ones with rows of their own)."""
    import networkx as nx            # DVC (a second to import) and its graph type: only this table needs them
    from dvc.repo import Repo        # (as above)

    groups = _stage_groups(yaml.safe_load((root / "dvc.yaml").read_text()))
    with Repo(str(root)) as repo:
        graph = repo.index.graph
        group_of = {st: st.addressing.split("@")[0] for st in graph.nodes if st.addressing.split("@")[0] in groups}
        below = {g: set() for g in groups}           # group -> groups downstream of it (its dependents)
        for st, g in group_of.items():
            below[g] |= {group_of[a] for a in nx.ancestors(graph, st) if a in group_of}
    # an order DVC can run them in: each after those it depends on, else as dvc.yaml lists them
    order, left = [], list(groups)
    while left:
        ready = next(g for g in left if not any(g in below[h] for h in left if h != g))
        order.append(ready)
        left.remove(ready)
    keys = sorted({k for info in groups.values() for k in info["params"] + info["lists"]}, key=lambda k: (
        min(order.index(g) for g, info in groups.items() if k in info["params"] + info["lists"]), k))
    # a whole section a stage reads (the tour reads `pretrain`) is in the rows of its keys that other stages name
    keys = [k for k in keys if "." in k or not any(o.startswith(k + ".") for o in keys)]
    effect = {}
    for key in keys:
        added = {g for g, info in groups.items() if key in info["lists"]}
        direct = {g for g, info in groups.items() for p in info["params"] if g not in added and
                  (p == key or key.startswith(p + ".") or p.startswith(key + "."))}
        rerun = (direct | {b for g in direct | added for b in below[g]}) - added
        effect[key] = (tuple(g for g in order if g in added), tuple(g for g in order if g in rerun))
    rows, done = [], set()
    for key in keys:   # a key that does what its section's key does is in that row (downstream.SET.folds)
        if any(key.startswith(k + ".") and effect[k] == effect[key] for k in keys):
            done.add(key)
        if key in done:
            continue
        section = key.split(".")[0]
        same = [k for k in keys if k.split(".")[0] == section and effect[k] == effect[key] and "." in k]
        if len(same) > 3:   # most of a section: name the section
            others = [k for k in keys if k.split(".")[0] == section and k not in same]
            name = f"`{section}`" + (" (every key but " + ", ".join(f"`{k.split('.', 1)[1]}`" for k in others)
                                     + ")" if others else "")
        else:
            same, name = [key], f"`{key}`"
        done |= set(same)
        added, rerun = effect[key]
        rows.append((name, [groups[g]["label"] for g in added], [groups[g]["label"] for g in rerun]))
    return rows


def reruns_block(root: Path) -> str:
    lines = [RERUNS_BEGIN, "", "| you change | `make repro` adds or removes | and reruns |", "| --- | --- | --- |"]
    lines += [f"| {name} | " + ", ".join(f"`{s}`" for s in added) + " | " + ", ".join(f"`{s}`" for s in rerun)
              + " |" for name, added, rerun in rerun_rows(root)]
    return "\n".join(lines + ["", RERUNS_END])


def _load(root: Path, name: str) -> dict | None:
    path = root / name
    return json.loads(path.read_text()) if path.exists() else None


def expected_readme(root: Path) -> tuple[str, str]:
    """(README.md as it is, README.md with the table the metrics give)."""
    text = (root / "README.md").read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"README.md has no result table: expected the line {BEGIN!r}, later {END!r}")
    results = _load(root, RESULTS)
    if results is None:
        raise FileNotFoundError(f"{RESULTS} is missing: run `make repro` first")
    if results.get("label"):
        raise ValueError(f"{RESULTS} is labelled {results['label']!r}: a smoke run's numbers are not the result "
                         "(run `make repro` on params.yaml's default)")
    wanted = _replace(text, BEGIN, END, results_block(results))
    files = {name: _load(root, name) for row in FIX_ROWS for name in row[1:] if (root / name).exists()}
    wanted = _replace(wanted, FIX_BEGIN, FIX_END, fix_block(files))
    recipes = {name: _load(root, name) for name in RECIPES if (root / name).exists()}
    held_out = {name: _load(root, name) for name in HELD_OUT if (root / name).exists()}
    wanted = _replace(wanted, ARCHIVE_BEGIN, ARCHIVE_END,
                      archive_block(_load(root, ARCHIVE_RESULTS), _load(root, TRANSFER), recipes, held_out))
    if BUDGET_BEGIN in wanted and BUDGET_END in wanted:
        block = budget_block(_load(root, "reports/ablations.json") or [])
        wanted = _replace(wanted, BUDGET_BEGIN, BUDGET_END, "\n".join([BUDGET_BEGIN, "", block, "", BUDGET_END]))
    if SCALE_BEGIN in wanted and SCALE_END in wanted:
        block = scale_block(yaml.safe_load((root / "params.yaml").read_text()),
                            yaml.safe_load((root / "params-paper.yaml").read_text()))
        wanted = _replace(wanted, SCALE_BEGIN, SCALE_END, "\n".join([SCALE_BEGIN, block, SCALE_END]))
    if RERUNS_BEGIN in wanted and RERUNS_END in wanted:
        wanted = _replace(wanted, RERUNS_BEGIN, RERUNS_END, reruns_block(root))
    return text, wanted


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when they differ")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    now, wanted = expected_readme(args.root)
    if args.check:
        if now != wanted:
            print("README.md's result table differs from the metrics: run `make readme`", file=sys.stderr)
            return 1
        return 0
    if now != wanted:
        write_text(args.root / "README.md", wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
